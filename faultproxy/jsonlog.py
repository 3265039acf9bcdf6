"""One JSON object per line on stdout, like the services' events, so `kubectl logs` can be parsed the same way."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    record = {"ts": round(time.time(), 3), "level": logging.getLevelName(level), "event": event, **fields}
    sys.stdout.write(json.dumps(record, default=str) + "\n")
    sys.stdout.flush()
