"""Call timeouts and retry bounds - the numbers the heartbeat bound is computed from.

Kept free of botocore imports so config validation (and its exit 2) happens before the
heavy AWS libraries load.
"""

from __future__ import annotations

from dataclasses import dataclass

CONNECT_TIMEOUT_SECONDS = 2.0
# Read timeout of calls that answer at once (publish, lookups, deletes): generous, yet a
# black-holed endpoint cannot stall the loop - or the heartbeat - for long.
SHORT_READ_TIMEOUT_SECONDS = 5.0
# Readiness probes must answer well inside the probe's timeoutSeconds.
PROBE_CONNECT_TIMEOUT_SECONDS = 1.0
PROBE_READ_TIMEOUT_SECONDS = 1.5


@dataclass(frozen=True)
class RetryPolicy:
    """Full-jitter exponential backoff: wait ~U(0, min(cap, initial * 2**n)).

    The cap keeps each wait far below the heartbeat bound; tests inject tiny values
    instead of sleeping.
    """

    initial: float = 0.5
    cap: float = 5.0
