"""The publish loop: one numbered message per interval, retried until SNS accepts it.

Why a sequence number is only advanced after success: the ledger proves "nothing lost" by
looking for gaps, so a message that failed to publish must be retried (same id, same seq)
rather than skipped. If SIGTERM arrives mid-retry the unsent message is logged as
``unpublished`` - visible, never silent.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
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
from shared.contract import message
from shared.jsonlog import log_event
from shared.policy import CONNECT_TIMEOUT_SECONDS, SHORT_READ_TIMEOUT_SECONDS
from shared.runtime import Controls

from .config import ProducerConfig

TOPIC_GONE_CODES = {"NotFound", "NotFoundException"}


class Publisher:
    """Publishes to the topic named in config; ``run`` returns only after a stop request."""

    def __init__(
        self,
        config: ProducerConfig,
        controls: Controls,
        beat: Callable[[], None],
        sns: Any = None,
        probe_sns: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        region = config.common.region
        self._config = config
        self._controls = controls
        self._beat = beat
        session = new_session() if sns is None or probe_sns is None else None
        if sns is None:
            sns = make_client(session, "sns", region, CONNECT_TIMEOUT_SECONDS, SHORT_READ_TIMEOUT_SECONDS)
        self._sns = sns
        self._probe = probe_sns if probe_sns is not None else make_probe_client(session, "sns", region)
        self._clock = clock
        self._topic_arn: str | None = None
        # The worker's last AWS error while the topic is unresolved: readiness has nothing else to ask then, and "not
        # resolved yet" alone cannot tell a slow start from an unreachable endpoint (e.g. no route to AWS).
        self._last_error: str | None = None
        self.next_seq = 1

    @property
    def topic_arn(self) -> str | None:
        return self._topic_arn

    def run(self) -> None:
        stop = self._controls.stop
        while not stop.is_set():
            self._controls.checkpoint()
            if stop.is_set():
                break
            started = time.monotonic()
            if not self.publish_next():
                break
            stop.wait(max(0.0, self._config.publish_interval - (time.monotonic() - started)))

    def publish_next(self) -> bool:
        """Publish message ``next_seq``; False only when a stop request ended the retries."""
        body = message(str(uuid.uuid4()), self.next_seq, self._clock(), self._config.common.pod_name)
        text = json.dumps(body)
        try:
            message_id = retry_call(
                lambda: self._publish_once(text),
                policy=self._config.retry,
                stop=self._controls.stop,
                before_sleep=lambda state: self._on_retry(state, body),
                clients=(self._sns,),
            )
        except TRANSIENT as exc:  # only reached when stop is set: retries never give up
            log_event(
                "unpublished",
                level=logging.WARNING,
                id=body["id"],
                seq=body["seq"],
                producer=body["producer"],
                error=error_code(exc),
            )
            return False
        self._beat()
        log_event(
            "published",
            id=body["id"],
            seq=body["seq"],
            producer=body["producer"],
            message_id=message_id,
            msg_ts=body["ts"],
            topic_arn=self._topic_arn,
        )
        self.next_seq += 1
        return True

    def _publish_once(self, text: str) -> str:
        self._beat()
        if self._topic_arn is None:
            self._resolve_topic()
        try:
            response = self._sns.publish(TopicArn=self._topic_arn, Message=text)
        except ClientError as exc:
            if error_code(exc) in TOPIC_GONE_CODES:
                self._topic_arn = None  # the emulator restarted: find or create it again
            raise
        return str(response["MessageId"])

    def _resolve_topic(self) -> None:
        # CreateTopic is idempotent for an existing name with the same attributes: it returns
        # the existing ARN, so "find or create" is a single call with no race.
        arn = self._sns.create_topic(Name=self._config.topic_name)["TopicArn"]
        self._topic_arn = str(arn)
        log_event("topic_resolved", topic_arn=self._topic_arn)

    def _on_retry(self, state: RetryCallState, body: dict[str, Any]) -> None:
        self._beat()  # waiting out an outage is progress, not a hang
        exc = state.outcome.exception() if state.outcome else None
        self._last_error = f"{error_code(exc)}: {str(exc)[:160]}" if exc else None
        log_event(
            "publish_retry",
            level=logging.WARNING,
            seq=body["seq"],
            id=body["id"],
            attempt=state.attempt_number,
            wait_seconds=round(state.upcoming_sleep, 3),
            error=error_code(exc) if exc else None,
            detail=str(exc)[:200] if exc else None,
            server=answered_by(exc),
        )

    def start_problem(self) -> str | None:
        """Why readiness cannot be asked yet (no AWS call made), or None once the topic is resolved."""
        if self._topic_arn is not None:
            return None
        unresolved = f"topic {self._config.topic_name} not resolved yet"
        return f"{unresolved}: sns: {self._last_error}" if self._last_error else unresolved

    def ready_problem(self) -> str | None:
        """Ready once the topic the worker resolved answers GetTopicAttributes."""
        arn = self._topic_arn
        if arn is None:
            return f"topic {self._config.topic_name} not resolved yet"
        try:
            self._probe.get_topic_attributes(TopicArn=arn)
        except TRANSIENT as exc:
            drop_connections(self._probe)
            return f"sns: {error_code(exc)}: {str(exc)[:160]}"
        return None
