"""How many e2e modules run at once (lab.capacity): namespaces that fit the node's free CPU requests."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from lab import capacity
from lab.capacity import cpu_millicores, deployment_millicores, namespace_millicores, pod_millicores, worker_count


@pytest.mark.parametrize(("quantity", "millicores"), [("200m", 200), ("1", 1000), ("0.5", 500), (2, 2000), ("0.1m", 1)])
def test_cpu_quantities_in_millicores_rounded_up(quantity, millicores):
    assert cpu_millicores(quantity) == millicores


def deployment(cpu: str, strategy: str | None = None, replicas: int = 1, init_cpu: str | None = None) -> dict:
    spec = {"containers": [{"name": "a", "resources": {"requests": {"cpu": cpu}}}, {"name": "b"}]}
    if init_cpu:
        spec["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": init_cpu}}}]
    doc = {"kind": "Deployment", "spec": {"replicas": replicas, "template": {"spec": spec}}}
    if strategy:
        doc["spec"]["strategy"] = {"type": strategy}
    return doc


def test_a_rolling_deployment_peaks_with_one_surge_pod_recreate_does_not():
    assert deployment_millicores(deployment("25m")) == 50
    assert deployment_millicores(deployment("200m", "Recreate")) == 200
    assert deployment_millicores(deployment("100m", "RollingUpdate", replicas=2)) == 300


def test_a_pod_reserves_its_largest_init_container_if_that_is_more():
    assert pod_millicores(deployment("25m", init_cpu="300m")["spec"]["template"]["spec"]) == 300
    assert pod_millicores(deployment("25m", init_cpu="10m")["spec"]["template"]["spec"]) == 25


def test_namespace_is_the_labs_manifests_plus_the_largest_overlay(tmp_path):
    lab, overlays = tmp_path / "lab", tmp_path / "overlays"
    lab.mkdir()
    overlays.mkdir()
    (lab / "all.yaml").write_text(
        yaml.safe_dump_all([deployment("200m", "Recreate"), {"kind": "Service"}, deployment("25m")])
    )
    (overlays / "a.yaml").write_text(yaml.safe_dump(deployment("25m", "Recreate")))
    (overlays / "b.yaml").write_text(textwrap.dedent(yaml.safe_dump(deployment("40m", "Recreate"))))
    assert namespace_millicores(lab, overlays) == 200 + 50 + 40


@pytest.mark.parametrize(("cpus", "per_namespace", "workers"), [(2, 325, 3), (2, 400, 2), (8, 325, 21), (1, 325, 1)])
def test_workers_are_the_free_requests_over_one_namespace(cpus, per_namespace, workers):
    assert worker_count(cpus, per_namespace) == workers


def test_the_labs_own_manifests_give_the_count_and_say_why():
    per_namespace = namespace_millicores(
        capacity.REPO / "candidate-project" / "kubernetes", capacity.REPO / "tests" / "e2e" / "manifests"
    )
    workers, why = capacity.e2e_workers(cpus=2)
    assert workers == worker_count(2, per_namespace) >= 1
    assert f"/ {per_namespace}m per namespace = {workers} at once" in why
