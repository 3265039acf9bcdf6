"""The consume loop: long-poll, log each message, batch-delete only what was handled (``handling.py``).

Why delete last: a crash between receive and delete leaves the message on the queue, so it
is delivered again after the visibility timeout - at-least-once, never lost. A body that
cannot be parsed is logged as ``poison`` and deliberately not deleted; after the queue's
maxReceiveCount the redrive policy moves it to the dead-letter queue, where a human can
look at it, instead of it blocking or vanishing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from tenacity import RetryCallState

from shared.aws import (
    TRANSIENT,
    answered_by,
    drop_connections,
    error_code,
    make_client,
    make_probe_client,
    new_session,
    retry_call,
)
from shared.jsonlog import log_event
from shared.policy import CONNECT_TIMEOUT_SECONDS, SHORT_READ_TIMEOUT_SECONDS
from shared.runtime import Controls

from .config import ConsumerConfig
from .handling import handle_batch

QUEUE_GONE_CODES = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


class Consumer:
    """Consumes the queue named in config; ``run`` returns only after a stop request, or raises ``OutputLost``.

    Once stdout took no more lines, the worker deletes what it had written, receives nothing more and ends with
    ``OutputLost``; ``run_worker`` logs ``worker_crashed`` (best effort: on stderr if only stdout broke) and the
    process exits 1, so Kubernetes starts a new container, with new pipes, at once. Why not keep going: every batch
    it received would go unhandled and come back after the visibility timeout with a higher receive count, so the
    redrive policy would move good messages to the dead-letter queue as if they were poison, while a healthy
    consumer could have handled them. Why not idle: a pod that is Ready and does no work is never healed. Liveness
    is unchanged: a broken stdout is not a dependency outage (those are only retried, with the heartbeat beating,
    however long they last) but the container's own plumbing, which only a new container repairs.
    """

    def __init__(
        self,
        config: ConsumerConfig,
        controls: Controls,
        beat: Callable[[], None],
        sqs: Any = None,
        probe_sqs: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        region = config.common.region
        self._config = config
        self._controls = controls
        self._beat = beat
        # Two clients: only the long poll may hold a request for RECEIVE_WAIT_SECONDS; lookups
        # and deletes get a short read timeout so a drain never waits two long-poll lengths.
        # One session for all three clients: it loads the SQS model once (see aws.py).
        session = new_session() if sqs is None or probe_sqs is None else None
        if sqs is None:
            self._sqs = make_client(session, "sqs", region, CONNECT_TIMEOUT_SECONDS, config.read_timeout)
            self._sqs_short = make_client(session, "sqs", region, CONNECT_TIMEOUT_SECONDS, SHORT_READ_TIMEOUT_SECONDS)
        else:
            self._sqs = self._sqs_short = sqs
        self._probe = probe_sqs if probe_sqs is not None else make_probe_client(session, "sqs", region)
        self._clock = clock
        self._queue_url: str | None = None

    def run(self) -> None:
        stop = self._controls.stop
        while not stop.is_set():
            self._controls.checkpoint()
            if stop.is_set():
                break
            self.poll_once()

    def poll_once(self) -> int:
        """One receive plus handling; returns how many messages were deleted.

        A stop request never abandons a batch already received: it is handled and deleted
        (that is the drain), only the next receive is skipped.
        """
        try:
            messages = self._retry(self._receive_once, "receive")
        except TRANSIENT:  # only when stopping: retries never give up otherwise
            return 0
        batch = handle_batch(messages, self._clock)
        deleted = self._delete(batch.handled) if batch.handled else 0
        if batch.lost is not None:
            raise batch.lost  # after deleting what was written: those lines did reach the log
        return deleted

    def _delete(self, handled: list[dict[str, Any]]) -> int:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(handled)]
        try:
            response = self._retry(lambda: self._delete_once(entries), "delete")
        except TRANSIENT as exc:
            # Stopping mid-outage: these come back after the visibility timeout (duplicates,
            # not losses).
            log_event("delete_abandoned", level=logging.WARNING, count=len(entries), error=str(exc))
            return 0
        failed = response.get("Failed", [])
        if failed:
            log_event("delete_failed", level=logging.WARNING, count=len(failed), failed=failed)
        deleted = len(response.get("Successful", []))
        log_event("deleted", count=deleted)
        return deleted

    def _receive_once(self) -> list[dict[str, Any]]:
        self._beat()
        queue_url = self._resolved_queue_url()
        response = self._call_queue(
            self._sqs.receive_message,
            QueueUrl=queue_url,
            MaxNumberOfMessages=self._config.batch_size,
            WaitTimeSeconds=self._config.receive_wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        self._beat()
        return list(response.get("Messages", []))

    def _delete_once(self, entries: list[dict[str, str]]) -> dict[str, Any]:
        self._beat()
        queue_url = self._resolved_queue_url()
        return dict(self._call_queue(self._sqs_short.delete_message_batch, QueueUrl=queue_url, Entries=entries))

    def _resolved_queue_url(self) -> str:
        if self._queue_url is None:
            # A missing queue raises here and is retried: not ready, but alive.
            self._queue_url = str(self._sqs_short.get_queue_url(QueueName=self._config.queue_name)["QueueUrl"])
            log_event("queue_resolved", queue_url=self._queue_url)
        return self._queue_url

    def _call_queue(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except ClientError as exc:
            if error_code(exc) in QUEUE_GONE_CODES:
                self._queue_url = None  # the emulator restarted: look the queue up again
            raise

    def _retry(self, fn: Callable[[], Any], operation: str) -> Any:
        return retry_call(
            fn,
            policy=self._config.retry,
            stop=self._controls.stop,
            before_sleep=lambda state: self._on_retry(state, operation),
            clients=(self._sqs, self._sqs_short),
        )

    def _on_retry(self, state: RetryCallState, operation: str) -> None:
        self._beat()  # waiting out an outage is progress, not a hang
        exc = state.outcome.exception() if state.outcome else None
        log_event(
            "consume_retry",
            level=logging.WARNING,
            operation=operation,
            attempt=state.attempt_number,
            wait_seconds=round(state.upcoming_sleep, 3),
            error=error_code(exc) if exc else None,
            detail=str(exc)[:200] if exc else None,
            server=answered_by(exc),
        )

    def start_problem(self) -> str | None:
        """Nothing to wait for once the clients exist: the readiness check below needs no prior state."""
        return None

    def ready_problem(self) -> str | None:
        """Ready when the queue can be looked up by name (the endpoint answers and it exists)."""
        try:
            self._probe.get_queue_url(QueueName=self._config.queue_name)
        except TRANSIENT as exc:
            drop_connections(self._probe)
            return f"sqs: {error_code(exc)}: {str(exc)[:160]}"
        return None
