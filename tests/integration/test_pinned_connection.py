"""A connection that reached the wrong peer must not pin a service to it: each retry starts on a new connection.

Seen on minikube (CI, 2026-12-06 22:52-22:55 UTC): the producer's first connection to ``localstack:4566`` went out
before kube-proxy had programmed the Service, the host network's catch-all proxy answered it with bodiless 404s and
kept it open, and botocore's connection pool sent every retry down it for minutes (``ResponseParserError`` 41
times) while a new connection reached LocalStack at once. The services now drop their clients' connections after a
failed call (``shared.aws.drop_connections``); this test fails without that.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.wrongpeer import WrongPeer


@pytest.fixture
def wrong_peer(emulator) -> Iterator[WrongPeer]:
    """The emulator behind a stand-in that answers every early connection like the catch-all proxy."""
    peer = WrongPeer(emulator.port)
    yield peer
    peer.close()


def test_services_recover_from_connections_pinned_to_a_wrong_peer(make_wiring, start_service, timing, wrong_peer):
    wiring = make_wiring()
    endpoint = {"AWS_ENDPOINT_URL": wrong_peer.url}
    consumer = start_service("consumer", QUEUE_NAME=wiring.queue_name, **endpoint, **timing.consumer_env)
    producer = start_service("producer", TOPIC_NAME=wiring.topic_name, **endpoint, **timing.producer_env)

    # Both workers have retried on the wrong peer: their pooled connections are the catch-all's.
    retry = producer.wait_events("publish_retry", 1, timing.start + timing.resume)[0]
    assert retry["error"] == "ResponseParserError", retry
    consume_retry = consumer.wait_events("consume_retry", 1, timing.start + timing.resume)[0]
    assert consume_retry["error"] == "404", consume_retry
    for service in (producer, consumer):
        service.wait_status("/ready", 503, timing.readiness_change)

    wrong_peer.route()
    # One backoff wait (the retry cap) and one call later each worker is on a new connection; a pinned one never is.
    consumer.wait_events("consumed", 3, timing.resume + timing.consume)
    for service in (producer, consumer):
        service.wait_status("/ready", 200, timing.resume + timing.readiness_change)
    assert wrong_peer.wrong_answers >= 2 and wrong_peer.relayed_connections >= 2
    published = producer.events("published")
    assert [e["seq"] for e in published] == list(range(1, len(published) + 1)), "no seq skipped"
    assert producer.alive and consumer.alive
