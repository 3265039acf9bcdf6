"""With no AWS_ENDPOINT_URL (the EKS overlay, deploy/eks) and AWS out of reach, the services start, stay alive and
say "not ready" naming AWS: the failure is a readiness one, never a crash or a liveness one.

On EKS an unreachable or refusing AWS (no route, no VPC endpoint, a wrong role) must leave the pods running and
NotReady, exactly like a LocalStack outage in the lab; a service that crashed instead would restart forever and show
CrashLoopBackOff, hiding the real cause. The processes get what the overlay's pods get: a region, no endpoint (so
botocore aims at the region's public AWS endpoints), and dummy keys standing in for the role's credentials. The lab
has no route to AWS, so the calls fail to connect; on a machine that can reach AWS the dummy key is refused instead,
and both count as "AWS does not answer".
"""

from __future__ import annotations

import uuid

from lab.processes import Service
from lab.waiting import holds
from shared.contract import TOPIC_NAME
from tests.integration.test_outage import HOLD_INTERVAL

# Not the manifests' us-east-1: proves the region the overlay sets is the one the services aim at.
REGION = "eu-west-1"
DUMMY_KEYS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
# How AWS refuses a key it does not know (SQS's JSON protocol and SNS's query protocol name it differently).
REFUSED_KEY_CODES = ("InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId")


def names_aws(text: str, service: str) -> bool:
    """An error that says AWS itself did not answer: no connection to the region's endpoint, or the key refused."""
    unreachable = "EndpointConnectionError" in text and f"https://{service}.{REGION}.amazonaws.com" in text
    return unreachable or any(code in text for code in REFUSED_KEY_CODES)


def start(name: str, tmp_path, timing) -> Service:
    env = {**DUMMY_KEYS, "AWS_DEFAULT_REGION": REGION, "POD_NAME": f"{name}-{uuid.uuid4().hex[:6]}"}
    env |= timing.producer_env if name == "producer" else timing.consumer_env
    service = Service.start(name, tmp_path, env)
    assert "AWS_ENDPOINT_URL" not in service.env
    return service


def test_services_without_endpoint_are_alive_and_not_ready(tmp_path, timing):
    services = {name: start(name, tmp_path, timing) for name in ("producer", "consumer")}
    try:
        producer, consumer = services["producer"], services["consumer"]
        for service in services.values():
            service.wait_status("/health", 200, timing.start)
            (started,) = service.wait_events("started", 1, timing.start)
            assert started["endpoint_url"] is None and started["region"] == REGION

        # consumer: /ready asks SQS itself, so its reason is the AWS error.
        consumer.wait_status("/ready", 503, timing.readiness_change)
        body = consumer.get("/ready").json()
        assert body["status"] == "NOT_READY" and body["reason"].startswith("sqs: ")
        assert names_aws(body["reason"], "sqs"), body
        # producer: /ready waits for the topic the worker resolves, and names the worker's last AWS error.
        (retry, *_) = producer.wait_events("publish_retry", 1, timing.start)
        assert names_aws(f"{retry['error']}: {retry['detail']}", "sns"), retry
        body = producer.get("/ready").json()
        unresolved = f"topic {TOPIC_NAME} not resolved yet: sns: "
        assert producer.status("/ready") == 503 and body["reason"].startswith(unresolved), body
        assert names_aws(body["reason"].split(": sns: ", 1)[1], "sns"), body
        consumer.wait_events("consume_retry", 1, timing.start)

        # Longer than HEARTBEAT_MAX_AGE: a worker that stopped beating while it retried would turn /health 503.
        window = timing.heartbeat_max_age + 2
        assert holds(lambda: all(s.status("/health") == 200 for s in services.values()), window, HOLD_INTERVAL)
        assert all(s.status("/ready") == 503 for s in services.values())
        assert all(s.alive for s in services.values()), "no process may exit because AWS does not answer"
    finally:
        for service in services.values():
            service.stop()


def test_names_aws_rejects_other_errors():
    """The check above can fail: an emulator's refusal or another host is not 'AWS did not answer'."""
    assert names_aws(f'EndpointConnectionError: "https://sqs.{REGION}.amazonaws.com/"', "sqs")
    assert not names_aws('EndpointConnectionError: "http://127.0.0.1:4566/"', "sqs")
    assert not names_aws('EndpointConnectionError: "https://sqs.us-east-1.amazonaws.com/"', "sqs")
    assert not names_aws("AWS.SimpleQueueService.NonExistentQueue", "sqs")
