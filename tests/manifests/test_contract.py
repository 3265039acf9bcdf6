"""The environment the services get, checked with the services' own code and against each other.

Several numbers only make sense together: the heartbeat bound must exceed the consumer's long poll (or an idle
consumer looks hung and is restarted), the grace period must cover the drain of a long poll, the readiness probe
must outlast one bounded AWS call, and the names the services look up must be the names the LocalStack hook
creates. No service number is re-typed here: the manifests' environment goes through each service's own
``load_config`` and the bounds come from the services' modules, so changing a timeout in the code re-checks the
manifests (and the other way round).
"""

from __future__ import annotations

import re

import pytest

from consumer.config import load_config as load_consumer_config
from producer.config import load_config as load_producer_config
from shared.envconfig import ConfigError
from shared.policy import (
    CONNECT_TIMEOUT_SECONDS,
    PROBE_CONNECT_TIMEOUT_SECONDS,
    PROBE_READ_TIMEOUT_SECONDS,
    SHORT_READ_TIMEOUT_SECONDS,
)
from shared.server import READINESS_CACHE_SECONDS
from tests.manifests.conftest import container_of, find

LOADERS = {"producer": load_producer_config, "consumer": load_consumer_config}
# One call that answers at once (publish, batch delete, queue lookup): connect plus short read timeout.
SHORT_CALL_SECONDS = CONNECT_TIMEOUT_SECONDS + SHORT_READ_TIMEOUT_SECONDS


def env_values(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def env_refs(container: dict) -> dict[str, dict]:
    return {e["name"]: e["valueFrom"] for e in container["env"] if "valueFrom" in e}


def service_config(objects: list[dict], service: str):
    """What the service itself makes of its manifest environment (POD_NAME comes from the downward API)."""
    container = container_of(find(objects, "Deployment", service))
    return LOADERS[service]({**env_values(container), "POD_NAME": f"{service}-pod"})


def test_services_reach_localstack_through_its_service(service_container):
    values = env_values(service_container)
    assert values["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert values["AWS_DEFAULT_REGION"] == "us-east-1"


def test_credentials_come_from_the_secret(service_container, objects):
    secret = find(objects, "Secret", "aws-credentials")
    refs = env_refs(service_container)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert refs[key] == {"secretKeyRef": {"name": "aws-credentials", "key": key}}
        assert key in secret["stringData"]
    assert "AWS_ACCESS_KEY_ID" not in env_values(service_container), "no credentials in plain env values"


def test_pod_name_comes_from_the_downward_api(service_container):
    assert env_refs(service_container)["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_numeric_settings_are_strings_the_services_can_parse(service_container):
    for name, value in env_values(service_container).items():
        if name.endswith("_SECONDS") or name in ("HEALTH_PORT", "RECEIVE_BATCH_SIZE"):
            assert re.fullmatch(r"\d+(\.\d+)?", value), f"{name}={value!r}"


@pytest.mark.parametrize("service", ["producer", "consumer"])
def test_services_accept_their_manifest_environment(objects, service):
    """The service's own validation, including "heartbeat bound above the longest healthy gap" (else exit 2)."""
    config = service_config(objects, service)
    assert config.common.heartbeat_max_age > config.longest_beat_gap


def test_contract_flags_a_heartbeat_below_the_long_poll(objects):
    consumer = container_of(find(objects, "Deployment", "consumer"))
    wait = env_values(consumer)["RECEIVE_WAIT_SECONDS"]
    for item in consumer["env"]:
        if item["name"] == "HEARTBEAT_MAX_AGE_SECONDS":
            item["value"] = wait
    with pytest.raises(ConfigError, match="HEARTBEAT_MAX_AGE_SECONDS"):
        service_config(objects, "consumer")


def test_consumer_grace_period_covers_a_long_poll_and_a_batch(objects):
    """SIGTERM during a long poll: the poll returns, its batch is handled and deleted, then the process exits."""
    config = service_config(objects, "consumer")
    worst_drain = config.call_bound + SHORT_CALL_SECONDS
    assert find(objects, "Deployment", "consumer")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= (
        worst_drain
    )


def test_producer_grace_period_covers_one_publish(objects):
    config = service_config(objects, "producer")
    assert find(objects, "Deployment", "producer")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > (
        config.call_bound
    )


def readiness_problems(probe: dict) -> list[str]:
    """/ready answers from its cache or after one AWS call of at most the probe clients' connect + read timeouts;
    failureThreshold x periodSeconds must span more than one cached answer (one failed call never takes a pod
    out); and the period stays at 1 s, what keeps restart -> Ready under 3 s (docs/decisions.md)."""
    problems = []
    if probe["timeoutSeconds"] < PROBE_CONNECT_TIMEOUT_SECONDS + PROBE_READ_TIMEOUT_SECONDS:
        problems.append("timeoutSeconds shorter than one bounded readiness call")
    if probe["failureThreshold"] * probe["periodSeconds"] <= READINESS_CACHE_SECONDS:
        problems.append("failureThreshold x periodSeconds within one cached /ready answer")
    if probe["periodSeconds"] > 1 or probe["initialDelaySeconds"] > 0:
        problems.append("readiness period above 1 s or an initial delay: a restarted pod waits for its next probe")
    return problems


def test_readiness_probe_fits_the_readiness_endpoint(service_container):
    assert readiness_problems(service_container["readinessProbe"]) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"timeoutSeconds": 2}, "timeoutSeconds"),
        ({"failureThreshold": 2}, "cached"),
        ({"periodSeconds": 5}, "period above 1 s"),
        ({"initialDelaySeconds": 2}, "initial delay"),
    ],
    ids=["timeout", "threshold", "period", "delay"],
)
def test_readiness_check_flags_a_broken_probe(service_container, change, expected):
    probe = {**service_container["readinessProbe"], **change}
    assert any(expected in problem for problem in readiness_problems(probe))


@pytest.mark.parametrize(("service", "variable"), [("producer", "TOPIC_NAME"), ("consumer", "QUEUE_NAME")])
def test_services_look_up_what_the_hook_creates(objects, init_script, service, variable):
    name = env_values(container_of(find(objects, "Deployment", service)))[variable]
    # The hook names its resources with the same variable names the services read.
    assert f"{variable}={name}" in [line.strip() for line in init_script.splitlines()]


def test_services_share_heartbeat_and_probe_settings(objects):
    """One liveness deadline for both services keeps the e2e and fault suites' arithmetic simple."""
    first, second = (container_of(find(objects, "Deployment", name)) for name in ("producer", "consumer"))
    assert first["livenessProbe"] == second["livenessProbe"]
    assert first["readinessProbe"] == second["readinessProbe"]
    assert env_values(first)["HEARTBEAT_MAX_AGE_SECONDS"] == env_values(second)["HEARTBEAT_MAX_AGE_SECONDS"]
