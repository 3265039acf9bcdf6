"""Handling a received batch: the exercise's handling of a message is writing its ``consumed`` line.

Why the line decides: with the exercise's consumer that line is the only trace a message leaves, so a message counts
as handled only once its line was written and flushed without error. When it was not (the runtime's log copier is
gone: BrokenPipeError; a closed or failing stdout: ValueError, OSError) the message is not handled and is not deleted;
SQS delivers it again after the visibility timeout (at-least-once). The rest of the batch is not attempted either:
a pipe whose reader has exited never gets one back, and a closed stream stays closed, so every later line would fail
the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.jsonlog import LineNotWritten, log_event, log_event_checked

from .messages import PoisonMessage, parse_body

BODY_EXCERPT_CHARS = 500


class OutputLost(RuntimeError):
    """stdout took no more lines: the worker stops (``Consumer.run`` says why), ``left`` messages go back to SQS."""

    def __init__(self, left: int, cause: LineNotWritten) -> None:
        super().__init__(f"stdout lost ({cause}); {left} message(s) of the batch left for redelivery")
        self.left = left
        self.__cause__ = cause  # raised later, after the deletes, so the chain is set here


@dataclass
class Batch:
    """What became of one received batch: the handled messages (to delete) and, if stdout broke, why and how many
    were left."""

    handled: list[dict[str, Any]] = field(default_factory=list)
    lost: OutputLost | None = None


def handle_batch(messages: list[dict[str, Any]], clock: Callable[[], float] = time.time) -> Batch:
    """Handle messages in order until one's ``consumed`` line cannot be written; the ones before it stay handled."""
    batch = Batch()
    for index, message in enumerate(messages):
        try:
            if handle(message, clock):
                batch.handled.append(message)
        except LineNotWritten as exc:
            batch.lost = OutputLost(len(messages) - index, exc)
            break
    return batch


def handle(message: dict[str, Any], clock: Callable[[], float] = time.time) -> bool:
    """Log a message's contents; False for poison (left on the queue for the redrive).

    Raises ``LineNotWritten`` when the ``consumed`` line could not be written: not handled.
    """
    attributes = message.get("Attributes", {})
    receive_count = int(attributes.get("ApproximateReceiveCount", 0))
    try:
        body = parse_body(message["Body"])
    except PoisonMessage as exc:
        log_event(
            "poison",
            level=logging.WARNING,
            message_id=message["MessageId"],
            receive_count=receive_count,
            reason=str(exc),
            body=message["Body"][:BODY_EXCERPT_CHARS],
        )
        return False
    log_event_checked(
        "consumed",
        id=body["id"],
        seq=body["seq"],
        producer=body["producer"],
        message_id=message["MessageId"],
        receive_count=receive_count,
        latency_seconds=round(clock() - float(body["ts"]), 3),
        body=body,
    )
    return True
