"""The multi-node overlay (deploy/nodes) renders the exercise unchanged plus what node faults need.

Checked against the base manifests, never against retyped values: every base file is a resource of the overlay;
each container equals the base's; the consumer runs more than one replica, spread one per node, with a disruption
budget that leaves one running and an explicit eviction delay below the 300 s admission default; LocalStack and the
producer are pinned to the control-plane node, with the toleration that lets them run there. Each check is shown to
fail on a broken input.
"""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml

from lab.nodes import DEFAULT_TOLERATION_SECONDS, NODE_TAINTS, OVERLAY_DIR, eviction_delay, rendered
from tests.manifests.conftest import MANIFEST_DIR, container_of, load_objects
from tests.manifests.test_schema import cluster_version, minor
from tests.manifests.test_security import hardening_problems, restricted_problems

Manifest = dict[str, Any]
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
PINNED = ("localstack", "producer")


@pytest.fixture(scope="module")
def overlay_docs() -> list[Manifest]:
    return rendered()


@pytest.fixture
def docs(overlay_docs: list[Manifest]) -> list[Manifest]:
    return copy.deepcopy(overlay_docs)


def by_key(docs: list[Manifest]) -> dict[tuple[str, str], Manifest]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def pod_spec(docs: list[Manifest], name: str) -> Manifest:
    return by_key(docs)[("Deployment", name)]["spec"]["template"]["spec"]


def spread_problems(docs: list[Manifest]) -> list[str]:
    """The consumer's replicas, spread, budget and eviction delay, as docs/nodes.md states them."""
    deployment = by_key(docs)[("Deployment", "consumer")]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    replicas = int(deployment["spec"].get("replicas", 1))
    problems = [] if replicas >= 2 else [f"consumer replicas {replicas}: one node's loss would stop consuming"]
    budget = by_key(docs).get(("PodDisruptionBudget", "consumer"))
    if budget is None:
        problems.append("no PodDisruptionBudget for the consumer")
    else:
        selector = budget["spec"]["selector"]["matchLabels"]
        if not selector.items() <= labels.items():
            problems.append(f"the budget's selector {selector} does not select the consumer's pods")
        if not 1 <= int(budget["spec"].get("minAvailable", 0)) < replicas:
            problems.append("minAvailable must keep one consumer and still allow one eviction")
    spec = deployment["spec"]["template"]["spec"]
    spread = [
        c
        for c in spec.get("topologySpreadConstraints", [])
        if c["topologyKey"] == "kubernetes.io/hostname" and c["labelSelector"]["matchLabels"].items() <= labels.items()
    ]
    if not spread or spread[0]["maxSkew"] != 1 or spread[0].get("nodeTaintsPolicy") != "Honor":
        problems.append("no one-per-node spread of the consumer that leaves tainted (lost, cordoned) nodes out")
    for taint in NODE_TAINTS:
        delay = eviction_delay(spec, taint)
        if delay is None or not 0 < delay < DEFAULT_TOLERATION_SECONDS:
            problems.append(f"consumer: no explicit {taint} tolerationSeconds below {DEFAULT_TOLERATION_SECONDS}")
    return problems


def test_every_base_manifest_is_a_resource_of_the_overlay():
    resources = yaml.safe_load((OVERLAY_DIR / "kustomization.yaml").read_text())["resources"]
    base = {f"../../candidate-project/kubernetes/{path.name}" for path in MANIFEST_DIR.glob("*.yaml")}
    assert base <= set(resources), f"missing from deploy/nodes: {sorted(base - set(resources))}"


def test_containers_are_the_base_ones(overlay_docs):
    base = by_key([doc for _, doc in load_objects(MANIFEST_DIR)])
    rendered_by_key = by_key(overlay_docs)
    assert set(base) | {("PodDisruptionBudget", "consumer")} == set(rendered_by_key)
    for (kind, name), doc in base.items():
        if kind == "Deployment":
            assert container_of(rendered_by_key[(kind, name)]) == container_of(doc), name
        else:
            assert rendered_by_key[(kind, name)] == doc, f"{kind} {name} changed"


def test_consumer_is_spread_budgeted_and_evicted_early(overlay_docs):
    assert spread_problems(overlay_docs) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: by_key(d)[("Deployment", "consumer")]["spec"].update(replicas=1), "consumer replicas 1"),
        (lambda d: d.remove(by_key(d)[("PodDisruptionBudget", "consumer")]), "no PodDisruptionBudget"),
        (lambda d: by_key(d)[("PodDisruptionBudget", "consumer")]["spec"].update(minAvailable=2), "minAvailable"),
        (lambda d: pod_spec(d, "consumer")["topologySpreadConstraints"][0].pop("nodeTaintsPolicy"), "spread"),
        (lambda d: pod_spec(d, "consumer").pop("tolerations"), "tolerationSeconds"),
    ],
    ids=["one-replica", "no-budget", "budget-blocks-drain", "tainted-nodes-counted", "default-eviction"],
)
def test_spread_check_flags_a_broken_overlay(docs, mutate, expected):
    mutate(docs)
    assert any(expected in problem for problem in spread_problems(docs)), spread_problems(docs)


@pytest.mark.parametrize("name", PINNED)
def test_emulator_and_producer_stay_on_the_control_plane(overlay_docs, name):
    spec = pod_spec(overlay_docs, name)
    assert spec["nodeSelector"] == {CONTROL_PLANE: ""}
    assert {"key": CONTROL_PLANE, "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert "tolerations" not in pod_spec([d for _, d in load_objects(MANIFEST_DIR)], name), "base changed"


def test_consumer_is_not_pinned(overlay_docs):
    spec = pod_spec(overlay_docs, "consumer")
    assert "nodeSelector" not in spec
    assert all(t.get("key") != CONTROL_PLANE for t in spec["tolerations"])


def test_objects_validate_and_stay_restricted(overlay_docs):
    for doc in overlay_docs:
        assert kubernetes_validate.validate(doc, cluster_version(), strict=True) == minor(cluster_version())
    for name in ("producer", "consumer"):
        deployment = by_key(overlay_docs)[("Deployment", name)]
        assert restricted_problems(deployment) == [] and hardening_problems(deployment) == []
