"""Probes of the lab's services and of LocalStack, as issue 2 specifies them and the e2e suite relies on them.

The e2e suite computes its deadlines from these fields (initialDelaySeconds + periodSeconds x failureThreshold +
timeoutSeconds), so each must be written out explicitly: a field left to its default would still work in
Kubernetes but hide the number the deadline depends on. Each check is a function returning the problems it finds;
the tests named `..._flags_...` break a copy of the manifest to show that the check really fails.
"""

from __future__ import annotations

from typing import Any

import pytest

# Fields the e2e deadline formula reads; all must be set explicitly.
TIMING_FIELDS = ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold")


def http_probe_problems(probe: dict[str, Any] | None, kind: str, path: str, port: int) -> list[str]:
    if not probe:
        return [f"no {kind}"]
    problems = []
    http_get = probe.get("httpGet") or {}
    if http_get.get("path") != path:
        problems.append(f"{kind} path is {http_get.get('path')!r}, expected {path!r}")
    if http_get.get("port") != port:
        problems.append(f"{kind} port is {http_get.get('port')!r}, expected {port}")
    for field in TIMING_FIELDS:
        value = probe.get(field)
        if not isinstance(value, int) or value < (0 if field == "initialDelaySeconds" else 1):
            problems.append(f"{kind} {field} must be set explicitly to a positive integer, got {value!r}")
    return problems


def liveness_problems(container: dict[str, Any]) -> list[str]:
    """Liveness: GET /health on 5000, failureThreshold 3 (the exercise's default), timeout below the period."""
    probe = container.get("livenessProbe")
    problems = http_probe_problems(probe, "livenessProbe", "/health", 5000)
    if probe:
        if probe.get("failureThreshold") != 3:
            problems.append(f"livenessProbe failureThreshold is {probe.get('failureThreshold')!r}, expected 3")
        if probe.get("successThreshold", 1) != 1:
            problems.append("livenessProbe successThreshold must be 1 (Kubernetes rejects anything else)")
        timeout, period = probe.get("timeoutSeconds"), probe.get("periodSeconds")
        if isinstance(timeout, int) and isinstance(period, int) and timeout >= period:
            problems.append("livenessProbe timeoutSeconds must be shorter than periodSeconds")
    return problems


def readiness_problems(container: dict[str, Any]) -> list[str]:
    return http_probe_problems(container.get("readinessProbe"), "readinessProbe", "/ready", 5000)


def test_liveness_probe_is_http_health_on_5000(service_container):
    assert liveness_problems(service_container) == []


def test_readiness_probe_is_http_ready_on_5000(service_container):
    assert readiness_problems(service_container) == []


def test_liveness_and_readiness_are_different_endpoints(service_container):
    """Liveness must not depend on AWS: a dependency outage makes pods NotReady, never restarts them."""
    liveness = service_container["livenessProbe"]["httpGet"]["path"]
    readiness = service_container["readinessProbe"]["httpGet"]["path"]
    assert liveness != readiness


def test_liveness_detection_bound_is_short_enough_for_the_suite(service_container):
    """A broken endpoint must restart the pod within ~30 s, or the fault catalogue does not fit CI's budget."""
    probe = service_container["livenessProbe"]
    bound = probe["initialDelaySeconds"] + probe["periodSeconds"] * probe["failureThreshold"] + probe["timeoutSeconds"]
    assert bound <= 30, f"liveness detection bound {bound} s"


def test_health_port_matches_container_port_and_env(service_container):
    ports = [p["containerPort"] for p in service_container["ports"]]
    env = {e["name"]: e.get("value") for e in service_container["env"]}
    assert ports == [5000]
    assert env["HEALTH_PORT"] == "5000"


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda p: p["httpGet"].update(path="/healthz"), "path"),
        (lambda p: p["httpGet"].update(port=5001), "port"),
        (lambda p: p.update(failureThreshold=5), "failureThreshold"),
        (lambda p: p.pop("periodSeconds"), "periodSeconds"),
        (lambda p: p.pop("timeoutSeconds"), "timeoutSeconds"),
        (lambda p: p.update(timeoutSeconds=10), "shorter than periodSeconds"),
    ],
    ids=["path", "port", "threshold", "no-period", "no-timeout", "timeout-too-long"],
)
def test_liveness_check_flags_broken_probe(service_container, mutation, expected):
    mutation(service_container["livenessProbe"])
    assert any(expected in problem for problem in liveness_problems(service_container))


def test_liveness_check_flags_missing_probe(service_container):
    del service_container["livenessProbe"]
    assert liveness_problems(service_container) == ["no livenessProbe"]


def test_localstack_probes_use_its_health_endpoint(localstack_container):
    """Startup gives a slow boot time; liveness then restarts a LocalStack that stopped answering."""
    for kind in ("startupProbe", "livenessProbe"):
        assert localstack_container[kind]["httpGet"] == {"path": "/_localstack/health", "port": 4566}, kind
    liveness = localstack_container["livenessProbe"]
    assert liveness["timeoutSeconds"] < liveness["periodSeconds"]


def test_localstack_is_ready_only_after_the_init_hook_succeeded(localstack_container):
    """/_localstack/health is 200 before the hook ran; readiness asks the init endpoint for a successful hook."""
    command = " ".join(localstack_container["readinessProbe"]["exec"]["command"])
    assert "/_localstack/init/ready" in command
    assert '"state": "SUCCESSFUL"' in command
