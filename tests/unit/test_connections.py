"""A failed AWS call drops its client's pooled connections: no retry reuses the connection that just failed.

The integration tier shows why on real sockets (test_pinned_connection.py); this tier pins the contract: which
clients are closed, and when.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.parsers import ResponseParserError

from producer.config import ProducerConfig
from producer.worker import Publisher
from shared.aws import retry_call
from shared.policy import RetryPolicy
from shared.runtime import Controls
from tests.unit.flaky import Flaky

FAST = RetryPolicy(initial=0.001, cap=0.005)
EMPTY_404 = ResponseParserError("Unable to parse response (no element found: line 1, column 0)")


def test_every_failed_attempt_closes_the_clients_before_the_next(sns):
    client = Flaky(sns, "list_topics", 3, EMPTY_404)
    closed_before: list[int] = []

    def attempt() -> Any:
        closed_before.append(client.closed)
        return client.list_topics()

    retry_call(attempt, policy=FAST, stop=threading.Event(), before_sleep=lambda _: None, clients=(client,))
    assert closed_before == [0, 1, 2, 3], "each retry must start after one more close"


def test_a_call_that_passes_keeps_its_connections(sns):
    client = Flaky(sns, "", 0, EMPTY_404)
    retry_call(client.list_topics, policy=FAST, stop=threading.Event(), before_sleep=lambda _: None, clients=(client,))
    assert client.closed == 0


def test_publisher_drops_the_worker_and_probe_connections_after_failures(wiring, sns):
    worker, probe = Flaky(sns, "create_topic", 2, EMPTY_404), Flaky(sns, "get_topic_attributes", 1, EMPTY_404)
    publisher = Publisher(ProducerConfig(retry=FAST), Controls(), beat=lambda: None, sns=worker, probe_sns=probe)
    assert publisher.publish_next()
    assert worker.closed == 2 and probe.closed == 0
    assert publisher.ready_problem() is not None and probe.closed == 1
    assert publisher.ready_problem() is None and probe.closed == 1
