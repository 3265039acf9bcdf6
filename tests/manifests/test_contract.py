"""The environment the services get, checked against the service contract in PLAN.md and against each other.

Several numbers only make sense together: the heartbeat bound must exceed the consumer's long poll (or an idle
consumer looks hung and is restarted), the grace period must cover the drain of a long poll, and the names the
services look up must be the names the LocalStack hook creates.
"""

from __future__ import annotations

import re

import pytest

# From the services (docs/services.md): a receive may take its long-poll wait plus 6 s of client timeouts (2 s
# connect, 4 s read margin) before the heartbeat beats again; one other AWS call (batch delete, publish) takes at
# most 7 s.
RECEIVE_CLIENT_TIMEOUTS_SECONDS = 6
CALL_BOUND_SECONDS = 7


def env_values(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def env_refs(container: dict) -> dict[str, dict]:
    return {e["name"]: e["valueFrom"] for e in container["env"] if "valueFrom" in e}


def test_services_reach_localstack_through_its_service(service_container):
    values = env_values(service_container)
    assert values["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert values["AWS_DEFAULT_REGION"] == "us-east-1"


def test_credentials_come_from_the_secret(service_container, objects):
    secret = next(d for d in objects if d["kind"] == "Secret" and d["metadata"]["name"] == "aws-credentials")
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


def test_consumer_heartbeat_outlasts_its_long_poll(objects):
    consumer = next(d for d in objects if d["kind"] == "Deployment" and d["metadata"]["name"] == "consumer")
    env = env_values(consumer["spec"]["template"]["spec"]["containers"][0])
    wait, heartbeat = int(env["RECEIVE_WAIT_SECONDS"]), int(env["HEARTBEAT_MAX_AGE_SECONDS"])
    assert 0 <= wait <= 20, "SQS allows long polls of 0..20 s"
    assert heartbeat > wait + RECEIVE_CLIENT_TIMEOUTS_SECONDS, "the consumer would refuse to start (exit 2)"


def test_consumer_grace_period_covers_a_long_poll_and_a_batch(objects):
    """SIGTERM during a long poll: the poll returns, its batch is handled and deleted, then the process exits."""
    consumer = next(d for d in objects if d["kind"] == "Deployment" and d["metadata"]["name"] == "consumer")
    pod = consumer["spec"]["template"]["spec"]
    wait = int(env_values(pod["containers"][0])["RECEIVE_WAIT_SECONDS"])
    worst_drain = wait + RECEIVE_CLIENT_TIMEOUTS_SECONDS + CALL_BOUND_SECONDS
    assert pod["terminationGracePeriodSeconds"] >= worst_drain


def test_producer_grace_period_covers_one_publish(objects):
    producer = next(d for d in objects if d["kind"] == "Deployment" and d["metadata"]["name"] == "producer")
    assert producer["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > CALL_BOUND_SECONDS


def test_readiness_timeout_covers_one_bounded_aws_call(service_container):
    """/ready answers from a 2 s cache or after one AWS call of at most 1 s connect + 1.5 s read."""
    probe = service_container["readinessProbe"]
    assert probe["timeoutSeconds"] >= 3
    assert probe["timeoutSeconds"] < probe["periodSeconds"]


@pytest.mark.parametrize(("service", "variable"), [("producer", "TOPIC_NAME"), ("consumer", "QUEUE_NAME")])
def test_services_look_up_what_the_hook_creates(objects, init_script, service, variable):
    deployment = next(d for d in objects if d["kind"] == "Deployment" and d["metadata"]["name"] == service)
    name = env_values(deployment["spec"]["template"]["spec"]["containers"][0])[variable]
    # The hook names its resources with the same variable names the services read.
    assert f"{variable}={name}" in [line.strip() for line in init_script.splitlines()]


def test_services_share_heartbeat_and_probe_settings(objects):
    """One liveness deadline for both services keeps the e2e and fault suites' arithmetic simple."""
    containers = [
        d["spec"]["template"]["spec"]["containers"][0]
        for d in objects
        if d["kind"] == "Deployment" and d["metadata"]["name"] in ("producer", "consumer")
    ]
    first, second = containers
    assert first["livenessProbe"] == second["livenessProbe"]
    assert first["readinessProbe"] == second["readinessProbe"]
    assert env_values(first)["HEARTBEAT_MAX_AGE_SECONDS"] == env_values(second)["HEARTBEAT_MAX_AGE_SECONDS"]
