"""An emulator outage is a readiness problem, never a liveness one, and the flow resumes.

This is the lab's core health semantic: killing the AWS dependency must make pods NotReady
(taken out of Service endpoints) but must not fail /health (which would restart them, lose
in-flight work and fix nothing).
"""

from __future__ import annotations

import signal

import pytest

from lab.processes import POLL_SECONDS
from lab.waiting import holds, wait_for

# How often a "keeps holding" check polls /health: twice a second is fine-grained next to the heartbeat bound.
HOLD_INTERVAL = 0.5


def test_liveness_stays_up_while_emulator_is_down_and_flow_resumes(emulator, make_wiring, start_service, timing):
    wiring = make_wiring()
    consumer = start_service("consumer", QUEUE_NAME=wiring.queue_name, **timing.consumer_env)
    producer = start_service("producer", TOPIC_NAME=wiring.topic_name, **timing.producer_env)
    services = (producer, consumer)
    consumer.wait_events("consumed", 5, timing.start + timing.resume)
    for service in services:
        service.wait_status("/ready", 200, timing.readiness_change)

    emulator.stop()
    for service in services:
        service.wait_status("/ready", 503, timing.readiness_change)
    assert "EndpointConnectionError" in consumer.get("/ready").json()["reason"]
    # Longer than HEARTBEAT_MAX_AGE: a worker that stopped beating while retrying would be
    # reported DOWN within this window.
    window = timing.heartbeat_max_age + 2
    assert holds(lambda: all(s.status("/health") == 200 for s in services), window, HOLD_INTERVAL)
    assert all(s.alive for s in services), "no process may die during an outage"
    assert producer.events("publish_retry") and consumer.events("consume_retry")

    emulator.start()  # same port, empty state: recreate what the init hook would
    wiring.create()
    for service in services:
        service.wait_status("/ready", 200, timing.resume)
    # Messages published before the subscription existed again went nowhere (SNS drops
    # them with no subscriber), so "resumed" means: every id published from the first
    # one consumed after the restart onwards is consumed.
    restarted_at = len(consumer.events("consumed"))
    consumer.wait_events("consumed", restarted_at + 5, timing.resume)
    first_seq = consumer.events("consumed")[restarted_at]["seq"]

    producer.signal(signal.SIGTERM)
    assert producer.proc.wait(timeout=timing.producer_drain) == 0
    published = producer.events("published")
    assert [e["seq"] for e in published] == list(range(1, len(published) + 1)), "no seq skipped"
    after = {e["id"] for e in published if e["seq"] >= first_seq}
    wait_for(
        lambda: after <= {e["id"] for e in consumer.events("consumed")}, timing.consume, POLL_SECONDS, "ids consumed"
    )
    assert consumer.alive and consumer.status("/health") == 200


@pytest.mark.parametrize("name", ["producer", "consumer"])
def test_defaults_answer_health_without_resources(emulator, start_service, timing, name):
    """Only AWS_ENDPOINT_URL and dummy credentials (plus a free HEALTH_PORT, so the test
    does not depend on port 5000 being free; its default is covered by the unit tier)."""
    service = start_service(name)
    service.wait_status("/health", 200, timing.start)
    # /health answers before the AWS clients exist; "started" is logged once the worker is built (exactly once).
    (started,) = service.wait_events("started", 1, timing.start)
    if name == "producer":
        assert (started["topic_name"], started["publish_interval_seconds"]) == ("lab-messages", 1.0)
    else:
        assert (started["queue_name"], started["receive_wait_seconds"]) == ("lab-messages-queue", 20)
        # no queue yet: not ready, but alive and retrying
        assert service.status("/ready") == 503
        service.wait_events("consume_retry", 1, timing.start)
        assert service.status("/health") == 200
    assert started["heartbeat_max_age_seconds"] == 60.0
