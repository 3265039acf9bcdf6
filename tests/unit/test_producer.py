"""Producer logic against moto: what lands in the queue, and how failures are retried."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.parsers import ResponseParserError

from producer.config import ProducerConfig
from producer.worker import Publisher
from shared.contract import TOPIC_NAME
from shared.policy import RetryPolicy
from shared.runtime import Controls
from tests.unit.flaky import Flaky

FAST = RetryPolicy(initial=0.001, cap=0.005)  # tenacity still backs off, just in milliseconds


def make_publisher(sns: Any, controls: Controls | None = None, beats: list[int] | None = None, **kw: Any):
    config = ProducerConfig(retry=FAST, **kw)
    beat_log = beats if beats is not None else []
    return Publisher(config, controls or Controls(), beat=lambda: beat_log.append(1), sns=sns, probe_sns=sns)


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_publish_lands_in_subscribed_queue(wiring, sns, sqs, events):
    publisher = make_publisher(sns)
    assert publisher.publish_next() and publisher.publish_next()
    bodies = drain(sqs, wiring.queue_url)
    assert [b["seq"] for b in sorted(bodies, key=lambda b: b["seq"])] == [1, 2]
    for body in bodies:
        assert set(body) == {"id", "seq", "ts", "producer"}
        assert body["producer"] == ProducerConfig().common.pod_name
    published = events("published")
    assert {e["id"] for e in published} == {b["id"] for b in bodies}
    assert all(e["message_id"] and e["topic_arn"] == wiring.topic_arn for e in published)


def test_topic_is_created_when_missing(sns, events):
    publisher = make_publisher(sns, topic_name="fresh-topic")
    assert publisher.publish_next()
    arns = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert publisher.topic_arn in arns and publisher.topic_arn.endswith(":fresh-topic")
    assert events("topic_resolved")


def test_existing_topic_is_found_not_duplicated(wiring, sns):
    make_publisher(sns).publish_next()
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [wiring.topic_arn]


def test_transient_errors_are_retried_without_skipping_seq(wiring, sns, sqs, events):
    flaky = Flaky(sns, "publish", failures=3, error=EndpointConnectionError(endpoint_url="http://x"))
    publisher = make_publisher(flaky)
    assert publisher.publish_next()
    assert flaky.calls == 4
    retries = events("publish_retry")
    assert [r["attempt"] for r in retries] == [1, 2, 3]
    assert {r["seq"] for r in retries} == {1} and len({r["id"] for r in retries}) == 1
    assert all(r["error"] == "EndpointConnectionError" and r["server"] is None for r in retries)  # nothing answered
    assert publisher.next_seq == 2
    (body,) = drain(sqs, wiring.queue_url)
    assert body["seq"] == 1 and body["id"] == retries[0]["id"]  # same message, not a new one


def test_liveness_heartbeat_beats_while_retrying(wiring, sns):
    beats: list[int] = []
    flaky = Flaky(sns, "publish", failures=5, error=EndpointConnectionError(endpoint_url="http://x"))
    make_publisher(flaky, beats=beats).publish_next()
    # before each of 6 attempts, before each of 5 backoff sleeps, once after success
    assert len(beats) == 6 + 5 + 1


def test_deleted_topic_is_recreated(wiring, sns, events):
    publisher = make_publisher(sns)
    publisher.publish_next()
    sns.delete_topic(TopicArn=wiring.topic_arn)  # the emulator lost its state
    not_found = ClientError({"Error": {"Code": "NotFound", "Message": "gone"}}, "Publish")
    flaky = Flaky(sns, "publish", failures=1, error=not_found)
    publisher._sns = flaky
    assert publisher.publish_next()
    assert len(events("topic_resolved")) == 2
    assert publisher.topic_arn == wiring.topic_arn  # same name, same ARN


def test_stop_during_retries_logs_unpublished_and_keeps_seq(sns, events):
    controls = Controls()
    flaky = Flaky(sns, "publish", failures=10**6, error=EndpointConnectionError(endpoint_url="http://x"))
    publisher = make_publisher(flaky, controls=controls)
    timer = threading.Timer(0.2, controls.stop.set)
    timer.start()
    try:
        assert publisher.publish_next() is False
    finally:
        timer.cancel()
    (unpublished,) = events("unpublished")
    assert unpublished["seq"] == 1 and publisher.next_seq == 1
    assert not events("published")


def test_unparseable_emulator_answer_is_retried(sns, events):
    """A restarting emulator may answer an error status with an empty body (botocore cannot parse it)."""
    garbled = ResponseParserError("Unable to parse response (no element found), invalid XML received: b''")
    flaky = Flaky(sns, "publish", failures=2, error=garbled)
    assert make_publisher(flaky).publish_next()
    assert len(events("publish_retry")) == 2 and len(events("published")) == 1


def test_non_transient_error_propagates(sns):
    flaky = Flaky(sns, "publish", failures=1, error=RuntimeError("bug"))
    with pytest.raises(RuntimeError):
        make_publisher(flaky).publish_next()


def test_run_publishes_until_stopped(wiring, sns, events, run_in_thread, wait_until):
    controls = Controls()
    publisher = make_publisher(sns, controls=controls, publish_interval=0.01)
    run_in_thread(publisher.run)
    wait_until(lambda: len(events("published")), lambda n: n >= 3)
    controls.stop.set()  # the fixture joins the thread
    seqs = [e["seq"] for e in events("published")]
    assert seqs[:3] == [1, 2, 3] and seqs == list(range(1, len(seqs) + 1))


def test_ready_problem_tracks_topic(wiring, sns):
    publisher = make_publisher(sns)
    assert "not resolved" in publisher.ready_problem()
    publisher.publish_next()
    assert publisher.ready_problem() is None
    sns.delete_topic(TopicArn=wiring.topic_arn)
    assert publisher.ready_problem().startswith("sns: NotFound")


def test_not_ready_reason_names_the_aws_error_while_the_topic_is_unresolved(sns):
    """No route to AWS: readiness says why (the endpoint's error), not just "not resolved yet"."""
    seen: list[str | None] = []
    flaky = Flaky(sns, "create_topic", failures=2, error=EndpointConnectionError(endpoint_url="https://sns.x"))
    publisher = make_publisher(flaky)
    real_call = flaky.__getattr__("create_topic")

    def create_topic(**kwargs: Any) -> Any:
        seen.append(publisher.start_problem())
        return real_call(**kwargs)

    flaky.create_topic = create_topic  # type: ignore[method-assign]
    assert publisher.publish_next()
    assert seen[0] == f"topic {TOPIC_NAME} not resolved yet"  # before any AWS answer: nothing to name
    assert seen[1].startswith(f"topic {TOPIC_NAME} not resolved yet: sns: EndpointConnectionError: ")
    assert "https://sns.x" in seen[1]
    assert publisher.start_problem() is None
