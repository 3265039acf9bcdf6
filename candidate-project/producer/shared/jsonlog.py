"""One JSON object per log line on stdout.

Why JSON: the lab's ledger reads ``kubectl logs`` and must tell a publish from a consume
without regexes that break when wording changes. Library records (boto, urllib3) are wrapped
in the same shape so a line never needs a second parser. The HTTP access log is the one
exception: it stays in http.server's classic format on stderr, as the exercise shows it.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from typing import Any

LOGGER_NAME = "lab"
RESERVED = frozenset({"ts", "level", "event"})


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


def setup_logging(service: str, pod: str, level: str) -> None:
    """Route every logger through one stdout JSON handler (idempotent)."""
    handler = logging.StreamHandler(sys.stdout)
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
