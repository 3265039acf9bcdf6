"""One parser for every timestamp the lab reads: Kubernetes API times, CRI log stamps, the services' own ``ts``.

Why one: the API writes RFC 3339 with whole seconds, the runtime's ``kubectl logs --timestamps`` nanoseconds, the
services unix floats; figures are differences between them, so they must all become the same unit (unix seconds).
"""

from __future__ import annotations

import re
from datetime import datetime

# The API server writes container and event times in whole seconds: two of them differ by up to this much more or
# less than the events did.
API_TIMESTAMP_RESOLUTION_SECONDS = 1.0


def parse_time(value: object) -> float | None:
    """Unix seconds from a float, an int or an RFC3339 string (Kubernetes and CRI both use it), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # Python 3.11's fromisoformat takes at most microseconds; CRI stamps carry nanoseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
