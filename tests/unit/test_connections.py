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

FAST = RetryPolicy(initial=0.001, cap=0.005)
EMPTY_404 = ResponseParserError("Unable to parse response (no element found: line 1, column 0)")


class Counted:
    """Wraps a real client: counts ``close`` calls; the first ``failures`` calls of ``method`` raise."""

    def __init__(self, real: Any, method: str = "", failures: int = 0) -> None:
        self._real, self._method, self.left = real, method, failures
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        self._real.close()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name != self._method:
            return attr

        def call(**kwargs: Any) -> Any:
            if self.left > 0:
                self.left -= 1
                raise EMPTY_404
            return attr(**kwargs)

        return call


def test_every_failed_attempt_closes_the_clients_before_the_next(sns):
    client = Counted(sns, "list_topics", failures=3)
    closed_before: list[int] = []

    def attempt() -> Any:
        closed_before.append(client.closed)
        return client.list_topics()

    retry_call(attempt, policy=FAST, stop=threading.Event(), before_sleep=lambda _: None, clients=(client,))
    assert closed_before == [0, 1, 2, 3], "each retry must start after one more close"


def test_a_call_that_passes_keeps_its_connections(sns):
    client = Counted(sns)
    retry_call(client.list_topics, policy=FAST, stop=threading.Event(), before_sleep=lambda _: None, clients=(client,))
    assert client.closed == 0


def test_publisher_drops_the_worker_and_probe_connections_after_failures(wiring, sns):
    worker, probe = Counted(sns, "create_topic", failures=2), Counted(sns, "get_topic_attributes", failures=1)
    publisher = Publisher(ProducerConfig(retry=FAST), Controls(), beat=lambda: None, sns=worker, probe_sns=probe)
    assert publisher.publish_next()
    assert worker.closed == 2 and probe.closed == 0
    assert publisher.ready_problem() is not None and probe.closed == 1
    assert publisher.ready_problem() is None and probe.closed == 1
