"""One JSON object per log line on stdout.

Why JSON: the lab's ledger reads ``kubectl logs`` and must tell a publish from a consume
without regexes that break when wording changes. Library records (boto, urllib3) are wrapped
in the same shape so a line never needs a second parser. The HTTP access log is the one
exception: it stays in http.server's classic format on stderr, as the exercise shows it.

Why a checked variant: ``logging`` swallows a failed write (``Handler.handleError`` prints a traceback on stderr at
most), which is right for diagnostics but wrong for a line that *is* the work - the consumer's ``consumed`` line is the
exercise's handling of a message. ``log_event_checked`` raises ``LineNotWritten`` when the stdout handler could not
write and flush its line, so the caller can leave the message for redelivery (docs/nodes.md, "Finding").
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from typing import Any

LOGGER_NAME = "lab"
RESERVED = frozenset({"ts", "level", "event"})
# The record attribute a checked line carries: a list the handler appends its failure to (a list, not a flag, so a
# filter that copies the record still reports into the caller's list).
FAILURES_ATTR = "lab_write_failures"


class LineNotWritten(Exception):
    """A checked line did not reach the stream: formatting, write or flush failed (the error is ``__cause__``)."""

    def __init__(self, event: str, error: BaseException | None) -> None:
        super().__init__(f"{event} line not written: {error!r}")
        self.event = event


class JsonFormatter(logging.Formatter):
    """Render a record as ``{"ts", "level", "event", "service", "pod", ...fields}``."""

    def __init__(self, service: str, pod: str) -> None:
        super().__init__()
        self._static = {"service": service, "pod": pod}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"ts": round(record.created, 6), "level": record.levelname}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line["event"] = record.getMessage()
            line.update(self._static)
            # ts/level/event are the envelope every reader relies on; fields cannot shadow them.
            line.update({k: v for k, v in fields.items() if k not in RESERVED})
        else:
            line["event"] = "log"
            line.update(self._static)
            line.update({"logger": record.name, "message": record.getMessage()})
        if record.exc_info:
            line["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(line, default=str, separators=(",", ":"))


class JsonLineHandler(logging.StreamHandler):
    """A StreamHandler that hands a checked line's failure to its caller instead of only to stderr.

    ``StreamHandler.emit`` already writes each line and flushes the stream at once (so a block-buffered stdout on a
    pipe cannot hold a line back), and sends any error of either to ``handleError``. Unchecked records keep logging's
    behaviour: never raise, report on stderr.
    """

    def handleError(self, record: logging.LogRecord) -> None:
        failures = getattr(record, FAILURES_ATTR, None)
        if isinstance(failures, list):
            failures.append(sys.exc_info()[1])
            return
        super().handleError(record)


def setup_logging(service: str, pod: str, level: str) -> None:
    """Route every logger through one stdout JSON handler (idempotent)."""
    handler = JsonLineHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service, pod))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # boto's DEBUG output includes request bodies and is very chatty; keep it at WARNING
    # unless someone explicitly asks for DEBUG.
    if level != "DEBUG":
        for noisy in ("botocore", "boto3", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def log_event(event: str, level: int = logging.INFO, exc_info: bool = False, **fields: Any) -> None:
    """Log a named event with structured fields; ``event`` is what the ledger keys on."""
    logging.getLogger(LOGGER_NAME).log(level, event, extra={"fields": fields}, exc_info=exc_info)


def log_event_checked(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """``log_event`` for a line that is the work itself: raise ``LineNotWritten`` if the stdout handler failed it.

    A level that drops the line (LOG_LEVEL above it) is the operator's choice, not a failure: nothing is attempted
    and nothing raises.
    """
    failures: list[BaseException | None] = []
    logging.getLogger(LOGGER_NAME).log(level, event, extra={"fields": fields, FAILURES_ATTR: failures})
    if failures:
        raise LineNotWritten(event, failures[0]) from failures[0]
