"""Messages flow producer -> SNS -> SQS -> consumer between real processes, none lost."""

from __future__ import annotations

import signal


def ids(events: list[dict]) -> set[str]:
    return {e["id"] for e in events}


def test_every_published_id_is_consumed(make_wiring, start_service, timing, wait_for):
    wiring = make_wiring()
    consumer = start_service("consumer", QUEUE_NAME=wiring.queue_name, **timing.consumer_env)
    producer = start_service("producer", TOPIC_NAME=wiring.topic_name, **timing.producer_env)
    for service in (consumer, producer):
        wait_for(lambda s=service: s.status("/health"), lambda code: code == 200, timing.start)
        wait_for(lambda s=service: s.status("/ready"), lambda code: code == 200, timing.start + timing.readiness_change)
    assert producer.get("/health").text == '{"status": "UP!"}'

    wanted = 20  # 20 messages at PUBLISH_INTERVAL 0.2 s take ~4 s
    wait_for(
        lambda: len(producer.events("published")),
        lambda n: n >= wanted,
        wanted * timing.publish_interval + timing.slack,
    )
    producer.signal(signal.SIGTERM)
    assert producer.proc.wait(timeout=timing.producer_drain) == 0
    published = producer.events("published")
    assert [e["seq"] for e in published] == list(range(1, len(published) + 1)), "no seq skipped"
    assert not producer.events("unpublished")

    wait_for(lambda: ids(consumer.events("consumed")), lambda got: ids(published) <= got, timing.consume)
    consumed = consumer.events("consumed")
    assert all(e["receive_count"] >= 1 and e["body"]["id"] == e["id"] for e in consumed)
    assert sum(e["count"] for e in consumer.events("deleted")) >= len(published)
    assert not consumer.events("poison")
    assert consumer.get("/health").json() == {"status": "UP!"}

    consumer.signal(signal.SIGTERM)
    assert consumer.proc.wait(timeout=timing.consumer_drain) == 0
    (stopped,) = consumer.events("stopped")
    assert stopped["exit_code"] == 0 and stopped["drain_seconds"] < timing.consumer_drain


def test_poison_is_left_for_the_dlq_redrive(make_wiring, start_service, timing, wait_for):
    # VisibilityTimeout 1 s so the three receives before the redrive happen quickly.
    wiring = make_wiring(visibility_timeout=1)
    consumer = start_service("consumer", QUEUE_NAME=wiring.queue_name, **timing.consumer_env)
    sqs = wiring.emulator.client("sqs")
    sqs.send_message(QueueUrl=wiring.queue_url, MessageBody="this is not json")

    def dlq_bodies() -> list[str]:
        return [m["Body"] for m in sqs.receive_message(QueueUrl=wiring.dlq_url).get("Messages", [])]

    # maxReceiveCount 3 receives, each after a 1 s visibility timeout, then one more poll.
    wait_for(dlq_bodies, lambda bodies: bodies == ["this is not json"], 4 * (1 + timing.receive_call) + timing.slack)
    assert [e["receive_count"] for e in consumer.events("poison")] == [1, 2, 3]
    assert not consumer.events("deleted")
