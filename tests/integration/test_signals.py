"""Fault switches and shutdown on real processes, as ``kubectl exec ... kill`` sends them."""

from __future__ import annotations

import signal
import time


def test_liveness_sigusr1_fails_health_at_once(make_wiring, start_service, timing):
    wiring = make_wiring()
    producer = start_service("producer", TOPIC_NAME=wiring.topic_name, **timing.producer_env)
    producer.wait_status("/health", 200, timing.start)
    producer.signal(signal.SIGUSR1)
    producer.wait_status("/health", 503, timing.slack)
    assert "fault switch" in producer.get("/health").json()["reason"]
    assert producer.alive  # Kubernetes, not the app, decides to restart
    producer.signal(signal.SIGTERM)
    assert producer.proc.wait(timeout=timing.producer_drain) == 0


def test_liveness_sigusr2_hang_goes_stale_after_max_age(make_wiring, start_service, timing):
    wiring = make_wiring()
    consumer = start_service("consumer", QUEUE_NAME=wiring.queue_name, **timing.consumer_env)
    consumer.wait_status("/health", 200, timing.start)
    consumer.signal(signal.SIGUSR2)
    hung_at = time.monotonic()
    # The heartbeat freezes at the signal, so /health turns 503 within HEARTBEAT_MAX_AGE.
    consumer.wait_status("/health", 503, timing.heartbeat_max_age + timing.slack)
    # ...and not much earlier: the last beat was at most one (1 s) long poll before the signal.
    assert time.monotonic() - hung_at >= timing.heartbeat_max_age - (timing.receive_wait + 1)
    assert "heartbeat stale" in consumer.get("/health").json()["reason"]
    assert consumer.events("hung")
    consumer.signal(signal.SIGTERM)  # releases the hang; the pod would be restarted anyway
    assert consumer.proc.wait(timeout=timing.consumer_drain) == 0


def test_sigterm_exits_0_quickly_even_mid_backoff(emulator, start_service, timing):
    # Nothing listens on this port: the producer sits in tenacity backoff.
    producer = start_service("producer", AWS_ENDPOINT_URL="http://127.0.0.1:9", **timing.producer_env)
    producer.wait_events("publish_retry", 2, timing.start + 5)
    sent = time.monotonic()
    producer.signal(signal.SIGTERM)
    assert producer.proc.wait(timeout=timing.producer_drain) == 0
    assert time.monotonic() - sent < 5  # the backoff sleep is interrupted, not waited out
    (unpublished,) = producer.events("unpublished")
    assert unpublished["seq"] == 1
