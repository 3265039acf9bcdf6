"""faultproxy between boto3 (and the real producer) and a real moto server: each fault's effect on the wire and on
the queue, rate determinism, the control API, and that a cleared fault is really gone.

Deadlines: the queue uses a 1 s visibility timeout (``make_wiring(visibility_timeout=1)``), so a message whose delete
failed is visible again after 1 s; receives wait up to ``REDELIVERY_WAIT`` = that timeout plus the tier's slack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from faultproxy.faults import Fault
from faultproxy.proxy import INJECTED_HEADER
from lab.emulator import REGION, Emulator
from lab.processes import POLL_SECONDS
from lab.waiting import wait_for
from shared.policy import RetryPolicy
from tests.integration.faultproxy_process import FaultProxy, faultproxy
from tests.integration.timing import Timing

VISIBILITY = 1
REDELIVERY_WAIT = VISIBILITY + Timing().slack


@pytest.fixture
def proxy(emulator: Emulator, tmp_path) -> Iterator[FaultProxy]:
    with faultproxy(emulator.url, tmp_path) as running:
        yield running


def via(proxy: FaultProxy, service: str) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=proxy.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def left_behind(proxy: FaultProxy) -> list[str]:
    """Faults still active on the proxy: what every fault test checks after clearing."""
    return [f"{f['operation']} {f['kind']}" for f in proxy.faults()]


def test_throttle_hits_publish_only_and_is_removed(make_wiring, proxy):
    wiring = make_wiring()
    sns = via(proxy, "sns")
    assert proxy.set(operation="sns:Publish", kind="throttle").status_code == 201
    with pytest.raises(ClientError) as caught:
        sns.publish(TopicArn=wiring.topic_arn, Message="m")
    error = caught.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("Throttling", 400)
    assert error["ResponseMetadata"]["HTTPHeaders"][INJECTED_HEADER] == "throttle"
    sns.get_topic_attributes(TopicArn=wiring.topic_arn)  # another SNS operation passes
    (fault,) = proxy.faults()
    assert (fault["matched"], fault["injected"]) == (1, 1)

    removed = proxy.clear().json()["removed"]
    assert [f["operation"] for f in removed] == ["sns:Publish"]
    assert left_behind(proxy) == []
    assert sns.publish(TopicArn=wiring.topic_arn, Message="m")["MessageId"]


def test_left_behind_check_flags_an_uncleared_fault(proxy):
    proxy.set(operation="sqs:ReceiveMessage", kind="error500", rate=0.1)
    assert left_behind(proxy) == ["sqs:ReceiveMessage error500"]


def test_failed_delete_means_redelivery(make_wiring, proxy):
    wiring = make_wiring(visibility_timeout=VISIBILITY)
    sqs = via(proxy, "sqs")
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody="keep me")
    (message,) = sqs.receive_message(QueueUrl=wiring.queue_url, WaitTimeSeconds=1)["Messages"]
    proxy.set(operation="sqs:DeleteMessageBatch", kind="error500")
    with pytest.raises(ClientError) as caught:
        sqs.delete_message_batch(
            QueueUrl=wiring.queue_url, Entries=[{"Id": "0", "ReceiptHandle": message["ReceiptHandle"]}]
        )
    error = caught.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("InternalFailure", 500)
    proxy.clear("sqs:DeleteMessageBatch")
    again = wait_for(
        lambda: sqs.receive_message(QueueUrl=wiring.queue_url).get("Messages", []),
        REDELIVERY_WAIT,
        POLL_SECONDS,
        "the message whose delete failed, visible again",
    )
    assert [m["MessageId"] for m in again] == [message["MessageId"]]


def test_partial_batch_failure_keeps_the_failed_entries(make_wiring, proxy):
    wiring = make_wiring(visibility_timeout=VISIBILITY)
    sqs = via(proxy, "sqs")
    for i in range(10):
        sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=f"m{i}")
    received: dict[str, dict[str, Any]] = {}
    wait_for(
        lambda: (
            received.update(
                {
                    m["Body"]: m
                    for m in sqs.receive_message(QueueUrl=wiring.queue_url, MaxNumberOfMessages=10).get("Messages", [])
                }
            )
            or len(received) == 10
        ),
        REDELIVERY_WAIT,
        POLL_SECONDS,
        "all 10 messages received",
    )
    proxy.set(operation="sqs:DeleteMessageBatch", kind="partial", rate=0.5, seed=5)
    entries = [{"Id": body, "ReceiptHandle": m["ReceiptHandle"]} for body, m in sorted(received.items())]
    answer = sqs.delete_message_batch(QueueUrl=wiring.queue_url, Entries=entries)  # HTTP 200: no exception
    failed = {f["Id"] for f in answer["Failed"]}
    assert {s["Id"] for s in answer["Successful"]} | failed == set(received)
    assert 0 < len(failed) < 10
    assert all(f["Code"] == "InternalError" and f["SenderFault"] is False for f in answer["Failed"])
    assert proxy.faults()[0]["injected"] == len(failed)
    proxy.clear()

    back: set[str] = set()
    wait_for(
        lambda: (
            back.update(
                m["Body"]
                for m in sqs.receive_message(QueueUrl=wiring.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            )
            or back >= failed
        ),
        REDELIVERY_WAIT,
        POLL_SECONDS,
        "the failed entries visible again",
    )
    assert back == failed, "exactly the failed entries come back; the successful ones were deleted"


def test_rate_through_the_process_follows_the_seed(make_wiring, proxy):
    wiring = make_wiring()
    sns = via(proxy, "sns")
    proxy.set(operation="sns:Publish", kind="throttle", rate=0.5, seed=7)
    outcomes = []
    for _ in range(30):
        try:
            sns.publish(TopicArn=wiring.topic_arn, Message="m")
            outcomes.append(False)
        except ClientError:
            outcomes.append(True)
    expected = Fault("sns:Publish", "throttle", 0.5, 7)
    assert outcomes == [expected.draw() for _ in range(30)]


def test_control_api_refuses_bad_input_and_reports_health(proxy):
    bad = proxy.set(operation="sns:Publish", kind="meltdown")
    assert bad.status_code == 400 and "kind" in bad.json()["error"]
    assert proxy.clear("sns:Publish").status_code == 404
    assert requests.get(f"{proxy.control_url}/health", timeout=5).json() == {"status": "UP!"}
    assert requests.get(f"{proxy.control_url}/ready", timeout=5).status_code == 200
    assert json.loads(requests.post(f"{proxy.control_url}/faults", data=b"{", timeout=5).text)["error"]


def throttles_before(successes: int, rate: float, seed: int) -> int:
    """How many publishes the seeded fault throttles before the ``successes``-th one passes."""
    fault, hits, passed = Fault("sns:Publish", "throttle", rate, seed), 0, 0
    while passed < successes:
        if fault.draw():
            hits += 1
        else:
            passed += 1
    return hits


def test_producer_retries_throttled_publishes_without_a_gap(make_wiring, proxy, start_service, timing):
    """The real producer through the proxy: throttled publishes are retried with the same seq, none skipped."""
    wiring = make_wiring()
    assert proxy.set(operation="sns:Publish", kind="throttle", rate=0.5, seed=1).status_code == 201
    producer = start_service(
        "producer", TOPIC_NAME=wiring.topic_name, AWS_ENDPOINT_URL=proxy.url, **timing.producer_env
    )
    wanted = 8
    # The seed fixes how many of the publishes are throttled before the wanted-th success; each throttle costs at most
    # one backoff wait, which the services' RetryPolicy caps (producer/policy.py).
    deadline = wanted * timing.publish_interval + throttles_before(wanted, 0.5, 1) * RetryPolicy().cap + timing.slack
    producer.wait_events("published", wanted, deadline)
    proxy.clear()
    assert left_behind(proxy) == []
    published = producer.events("published")
    assert [e["seq"] for e in published] == list(range(1, len(published) + 1)), "no seq skipped"
    retries = producer.events("publish_retry")
    assert retries and {r["error"] for r in retries} == {"Throttling"}
    assert producer.alive and producer.status("/health") == 200
