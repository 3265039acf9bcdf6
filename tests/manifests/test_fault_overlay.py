"""The fault suite's overlay (tests/e2e/manifests: faultproxy, toxiproxy) meets the same bar as the lab's services.

The checks are the tier's own, imported, not copied: Pod Security "restricted" and the lab's hardening
(test_security), explicit probe timings (test_probes), the 1.34 schema (test_schema), what `kubectl apply -f DIR`
reads (test_files). On top: the overlay never redefines an object of candidate-project/kubernetes (the exercise's
manifests stay as they are), and faultproxy's environment passes faultproxy's own validation with an upstream timeout
that outlasts the consumer's longest call. Every check is also run on a broken copy to show it can fail.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from consumer.config import READ_TIMEOUT_MARGIN_SECONDS
from faultproxy.config import ConfigError
from faultproxy.config import load as load_faultproxy_config
from tests.manifests.conftest import container_of, load_objects
from tests.manifests.test_files import directory_problems
from tests.manifests.test_probes import http_probe_problems
from tests.manifests.test_schema import cluster_version, minor
from tests.manifests.test_security import hardening_problems, restricted_problems

OVERLAY_DIR = Path(__file__).resolve().parents[1] / "e2e" / "manifests"
# name -> (liveness path, readiness path, probe port)
PROBES = {"faultproxy": ("/health", "/ready", 8080), "toxiproxy": ("/version", "/version", 8474)}
# SQS's longest long poll (the consumer accepts RECEIVE_WAIT_SECONDS up to 20).
MAX_RECEIVE_WAIT_SECONDS = 20


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return [doc for _, doc in load_objects(OVERLAY_DIR)]


@pytest.fixture(params=sorted(PROBES))
def deployment(request: pytest.FixtureRequest, overlay: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [d for d in overlay if d["kind"] == "Deployment" and d["metadata"]["name"] == request.param]
    return copy.deepcopy(found)


def probe_problems(deployment: dict[str, Any]) -> list[str]:
    container = container_of(deployment)
    liveness, readiness, port = PROBES[deployment["metadata"]["name"]]
    return http_probe_problems(container.get("livenessProbe"), "livenessProbe", liveness, port) + http_probe_problems(
        container.get("readinessProbe"), "readinessProbe", readiness, port
    )


def resource_problems(deployment: dict[str, Any]) -> list[str]:
    resources = container_of(deployment).get("resources") or {}
    return [
        f"{kind} must set cpu and memory"
        for kind in ("requests", "limits")
        if set(resources.get(kind) or {}) != {"cpu", "memory"}
    ]


def service_problems(deployment: dict[str, Any], overlay: list[dict[str, Any]]) -> list[str]:
    """The Service of the same name selects the pods and targets ports the container declares."""
    name = deployment["metadata"]["name"]
    services = [d for d in overlay if d["kind"] == "Service" and d["metadata"]["name"] == name]
    if len(services) != 1:
        return [f"expected one Service {name}, found {len(services)}"]
    spec, declared = services[0]["spec"], {p["name"] for p in container_of(deployment)["ports"]}
    problems = []
    if spec["selector"] != deployment["spec"]["selector"]["matchLabels"]:
        problems.append(f"Service {name} selects {spec['selector']}, pods are {deployment['spec']['selector']}")
    problems += [
        f"Service {name} targets undeclared port {p['targetPort']}"
        for p in spec["ports"]
        if p["targetPort"] not in declared
    ]
    return problems


def test_overlay_directory_is_applicable(directory_loader):
    assert directory_problems(OVERLAY_DIR, directory_loader) == []


def test_overlay_objects_validate_against_the_cluster_schema(overlay):
    for doc in overlay:
        assert kubernetes_validate.validate(doc, cluster_version(), strict=True) == minor(cluster_version())


def test_overlay_leaves_the_exercise_manifests_alone(overlay, parsed_objects):
    exercise = {(doc["kind"], doc["metadata"]["name"]) for _, doc in parsed_objects}
    assert [d["metadata"]["name"] for d in overlay if (d["kind"], d["metadata"]["name"]) in exercise] == []
    assert [d["metadata"]["name"] for d in overlay if "namespace" in d["metadata"]] == []


def test_deployments_are_restricted_and_hardened(deployment):
    assert restricted_problems(deployment) == []
    assert hardening_problems(deployment) == []


def test_deployments_have_explicit_probes_and_resources(deployment):
    assert probe_problems(deployment) == []
    assert resource_problems(deployment) == []


def test_deployments_have_a_matching_service(deployment, overlay):
    assert service_problems(deployment, overlay) == []


def test_one_replica_replaced_not_rolled(deployment):
    """Fault tables and toxics live in memory: two replicas would each hold their own and split the traffic."""
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def faultproxy_env(overlay: list[dict[str, Any]]) -> dict[str, str]:
    (found,) = [d for d in overlay if d["kind"] == "Deployment" and d["metadata"]["name"] == "faultproxy"]
    return {e["name"]: e["value"] for e in container_of(found)["env"]}


def test_faultproxy_env_passes_its_own_validation_and_outlasts_a_long_poll(overlay):
    config = load_faultproxy_config(faultproxy_env(overlay))
    assert (config.upstream_host, config.upstream_port, config.listen_port, config.control_port) == (
        "localstack",
        4566,
        4566,
        8080,
    )
    assert config.upstream_timeout > MAX_RECEIVE_WAIT_SECONDS + READ_TIMEOUT_MARGIN_SECONDS


def test_faultproxy_env_check_flags_a_bad_upstream(overlay):
    with pytest.raises(ConfigError, match="UPSTREAM_URL"):
        load_faultproxy_config({**faultproxy_env(overlay), "UPSTREAM_URL": "localstack:4566"})


@pytest.mark.parametrize(
    ("mutate", "check", "expected"),
    [
        (
            lambda d: container_of(d)["securityContext"].update(allowPrivilegeEscalation=True),
            restricted_problems,
            "allowPrivilegeEscalation",
        ),
        (
            lambda d: container_of(d)["securityContext"].update(readOnlyRootFilesystem=False),
            hardening_problems,
            "readOnlyRootFilesystem",
        ),
        (lambda d: container_of(d)["livenessProbe"].pop("periodSeconds"), probe_problems, "periodSeconds"),
        (lambda d: container_of(d)["readinessProbe"]["httpGet"].update(port=1), probe_problems, "port"),
        (lambda d: container_of(d)["resources"].pop("limits"), resource_problems, "limits"),
    ],
    ids=["escalation", "writable-root", "no-period", "probe-port", "no-limits"],
)
def test_checks_flag_a_broken_overlay(deployment, mutate, check, expected):
    mutate(deployment)
    assert any(expected in problem for problem in check(deployment))


def test_service_check_flags_a_wrong_target_port(deployment, overlay):
    broken = copy.deepcopy(overlay)
    name = deployment["metadata"]["name"]
    (service,) = [d for d in broken if d["kind"] == "Service" and d["metadata"]["name"] == name]
    service["spec"]["ports"][0]["targetPort"] = "nope"
    assert service_problems(deployment, broken) == [f"Service {name} targets undeclared port nope"]
