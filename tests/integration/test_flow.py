"""Messages flow producer -> SNS -> SQS -> consumer between real processes, none lost."""

from __future__ import annotations

import signal

from lab.processes import POLL_SECONDS
from lab.waiting import wait_for


def ids(events: list[dict]) -> set[str]:
    return {e["id"] for e in events}


def test_every_published_id_is_consumed(make_wiring, start_service, timing):
    wiring = make_wiring()
    consumer = start_service("consumer", QUEUE_NAME=wiring.queue_name, **timing.consumer_env)
    producer = start_service("producer", TOPIC_NAME=wiring.topic_name, **timing.producer_env)
    for service in (consumer, producer):
        service.wait_status("/health", 200, timing.start)
        service.wait_status("/ready", 200, timing.start + timing.readiness_change)
    assert producer.get("/health").text == '{"status": "UP!"}'

    wanted = 20  # 20 messages at PUBLISH_INTERVAL 0.2 s take ~4 s
    producer.wait_events("published", wanted, wanted * timing.publish_interval + timing.slack)
    producer.signal(signal.SIGTERM)
    assert producer.proc.wait(timeout=timing.producer_drain) == 0
    published = producer.events("published")
    assert [e["seq"] for e in published] == list(range(1, len(published) + 1)), "no seq skipped"
    assert not producer.events("unpublished")

    wait_for(
        lambda: ids(published) <= ids(consumer.events("consumed")), timing.consume, POLL_SECONDS, "every id consumed"
    )
    consumed = consumer.events("consumed")
    assert all(e["receive_count"] >= 1 and e["body"]["id"] == e["id"] for e in consumed)
    assert sum(e["count"] for e in consumer.events("deleted")) >= len(published)
    assert not consumer.events("poison")
    assert consumer.get("/health").json() == {"status": "UP!"}

    consumer.signal(signal.SIGTERM)
    assert consumer.proc.wait(timeout=timing.consumer_drain) == 0
    (stopped,) = consumer.events("stopped")
    assert stopped["exit_code"] == 0 and stopped["drain_seconds"] < timing.consumer_drain


def test_poison_is_left_for_the_dlq_redrive(make_wiring, start_service, timing):
    # VisibilityTimeout 1 s so the three receives before the redrive happen quickly.
    wiring = make_wiring(visibility_timeout=1)
    consumer = start_service("consumer", QUEUE_NAME=wiring.queue_name, **timing.consumer_env)
    sqs = wiring.emulator.client("sqs")
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody="this is not json")

    def dlq_bodies() -> list[str]:
        return [m["Body"] for m in sqs.receive_message(QueueUrl=wiring.dlq_url).get("Messages", [])]

    # maxReceiveCount 3 receives, each after a 1 s visibility timeout, then one more poll.
    deadline = 4 * (1 + timing.receive_call) + timing.slack
    wait_for(lambda: dlq_bodies() == ["this is not json"], deadline, POLL_SECONDS, "the poison message in the DLQ")
    assert [e["receive_count"] for e in consumer.events("poison")] == [1, 2, 3]
    assert not consumer.events("deleted")
