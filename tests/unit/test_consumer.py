"""Consumer logic against moto: log, delete only what was handled, leave poison, retry."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from consumer.config import ConsumerConfig
from consumer.worker import Consumer
from shared.policy import RetryPolicy
from shared.runtime import Controls
from tests.unit.flaky import Flaky

FAST = RetryPolicy(initial=0.001, cap=0.005)


def make_consumer(sqs: Any, controls: Controls | None = None, beats: list[int] | None = None, **kw: Any):
    # wait 0: moto answers at once either way, and the tests never depend on the long poll
    config = ConsumerConfig(retry=FAST, receive_wait=0, **kw)
    beat_log = beats if beats is not None else []
    return Consumer(config, controls or Controls(), beat=lambda: beat_log.append(1), sqs=sqs, probe_sqs=sqs)


def message(seq: int) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "seq": seq, "ts": time.time(), "producer": "producer-0"}


def queue_depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_consumer_logs_contents_and_deletes(wiring, sqs, events):
    sent = [message(i) for i in (1, 2, 3)]
    for body in sent:
        sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=json.dumps(body))
    assert make_consumer(sqs).poll_once() == 3
    consumed = events("consumed")
    assert sorted(e["id"] for e in consumed) == sorted(b["id"] for b in sent)
    for event in consumed:
        assert event["receive_count"] == 1 and event["message_id"]
        assert event["body"]["id"] == event["id"] and event["producer"] == "producer-0"
    assert events("deleted") == [{"event": "deleted", "count": 3}]
    assert queue_depth(sqs, wiring.queue_url) == 0


def test_published_message_flows_end_to_end(wiring, sns, sqs, events):
    body = message(7)
    sns.publish(TopicArn=wiring.topic_arn, Message=json.dumps(body))
    make_consumer(sqs).poll_once()
    assert [e["id"] for e in events("consumed")] == [body["id"]]


def test_sns_envelope_body_is_accepted(wiring, sqs, events):
    body = message(1)
    envelope = {"Type": "Notification", "MessageId": "m-1", "Message": json.dumps(body)}
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=json.dumps(envelope))
    assert make_consumer(sqs).poll_once() == 1
    assert events("consumed")[0]["seq"] == 1


def test_poison_is_logged_and_not_deleted(wiring, sqs, events):
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody="not json {")
    good = message(1)
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=json.dumps(good))
    consumer = make_consumer(sqs)
    consumer.poll_once()
    consumer.poll_once()  # the good one may come in a second batch
    (poison,) = events("poison")
    assert poison["body"] == "not json {" and "not JSON" in poison["reason"]
    assert [e["id"] for e in events("consumed")] == [good["id"]]
    assert queue_depth(sqs, wiring.queue_url) == 1  # invisible, waiting for redrive


def test_poison_goes_to_dlq_after_max_receive_count(wiring, sqs, events):
    sqs.set_queue_attributes(QueueUrl=wiring.queue_url, Attributes={"VisibilityTimeout": "0"})
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody='{"id": 1}')
    consumer = make_consumer(sqs)
    for _ in range(4):  # maxReceiveCount is 3: the 4th receive finds it redriven
        consumer.poll_once()
    assert [p["receive_count"] for p in events("poison")] == [1, 2, 3]
    dlq = sqs.receive_message(QueueUrl=wiring.dlq_url).get("Messages", [])
    assert [m["Body"] for m in dlq] == ['{"id": 1}']


def test_receive_errors_are_retried(wiring, sqs, events):
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=json.dumps(message(1)))
    flaky = Flaky(sqs, "receive_message", failures=3, error=EndpointConnectionError(endpoint_url="http://x"))
    assert make_consumer(flaky).poll_once() == 1
    retries = events("consume_retry")
    assert [(r["operation"], r["attempt"]) for r in retries] == [("receive", 1), ("receive", 2), ("receive", 3)]


def test_a_retry_names_the_peer_that_answered(wiring, sqs, events):
    """The catch-all proxy's bare 404 and an emulator's error look alike but for the Server header."""
    stray = ClientError(
        {"Error": {"Code": "404"}, "ResponseMetadata": {"HTTPHeaders": {"server": "keryx"}}}, "GetQueueUrl"
    )
    unanswered = EndpointConnectionError(endpoint_url="http://x")
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=json.dumps(message(1)))
    first, second = Flaky(sqs, "receive_message", 1, stray), Flaky(sqs, "receive_message", 1, unanswered)
    assert make_consumer(first).poll_once() == 1
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=json.dumps(message(2)))
    assert make_consumer(second).poll_once() == 1
    assert [(r["error"], r["server"]) for r in events("consume_retry")] == [
        ("404", "keryx"),
        ("EndpointConnectionError", None),
    ]


def test_delete_errors_are_retried_not_dropped(wiring, sqs, events):
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=json.dumps(message(1)))
    flaky = Flaky(sqs, "delete_message_batch", failures=2, error=EndpointConnectionError(endpoint_url="http://x"))
    assert make_consumer(flaky).poll_once() == 1
    assert [r["operation"] for r in events("consume_retry")] == ["delete", "delete"]
    assert queue_depth(sqs, wiring.queue_url) == 0


def test_missing_queue_is_not_ready_and_is_retried_until_created(sqs, events, run_in_thread, wait_until):
    beats: list[int] = []
    controls = Controls()
    consumer = make_consumer(sqs, controls=controls, beats=beats, queue_name="late-queue")
    assert consumer.ready_problem().startswith("sqs: ")
    run_in_thread(consumer.run)
    wait_until(lambda: len(events("consume_retry")), lambda n: n >= 3)
    assert len(beats) >= 3  # alive while waiting: an absent queue is not a liveness problem
    url = sqs.create_queue(QueueName="late-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message(1)))
    wait_until(lambda: len(events("consumed")), lambda n: n == 1)
    controls.stop.set()
    assert consumer.ready_problem() is None
    assert events("queue_resolved")[0]["queue_url"] == url


def test_stop_mid_batch_still_handles_and_deletes(wiring, sqs, events):
    """The drain: a batch received before SIGTERM is finished, only the next receive is skipped."""
    for i in (1, 2):
        sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=json.dumps(message(i)))
    controls = Controls()

    class StopAfterReceive:
        def __getattr__(self, name: str) -> Any:
            return getattr(sqs, name)

        def receive_message(self, **kwargs: Any) -> Any:
            answer = sqs.receive_message(**kwargs)
            controls.stop.set()  # SIGTERM lands while the batch is in flight
            return answer

    consumer = make_consumer(StopAfterReceive(), controls=controls)
    consumer.run()  # returns after that one batch
    assert len(events("consumed")) == 2 and events("deleted")[0]["count"] == 2
    assert queue_depth(sqs, wiring.queue_url) == 0
