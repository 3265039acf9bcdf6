"""Settings the integration tier runs the services with, and every deadline derived from them.

No service number is re-typed here: call bounds come from the services' own ``policy`` and config classes, the
readiness cache from ``shared.server``, and the tier's settings go through the services' own ``load_config`` (which
refuses a heartbeat bound the consumer could miss while healthy).
"""

from __future__ import annotations

from dataclasses import dataclass

from consumer.config import load_config as load_consumer_config
from producer.config import load_config as load_producer_config
from shared.policy import (
    CONNECT_TIMEOUT_SECONDS,
    PROBE_CONNECT_TIMEOUT_SECONDS,
    PROBE_READ_TIMEOUT_SECONDS,
    SHORT_READ_TIMEOUT_SECONDS,
    RetryPolicy,
)
from shared.server import READINESS_CACHE_SECONDS

# One AWS call that answers at once (publish, batch delete, lookup): connect plus short read timeout.
SHORT_CALL_SECONDS = CONNECT_TIMEOUT_SECONDS + SHORT_READ_TIMEOUT_SECONDS


@dataclass(frozen=True)
class Timing:
    """Service settings for this tier and every deadline derived from them.

    ``slack`` absorbs process start and a busy 2-core machine; it is added once per deadline, never multiplied.
    """

    publish_interval: float = 0.2
    receive_wait: int = 1
    # Must exceed the consumer's longest healthy heartbeat gap (its load_config checks it in __post_init__).
    heartbeat_max_age: float = 10.0
    slack: float = 10.0

    def __post_init__(self) -> None:
        load_producer_config(self.producer_env)
        load_consumer_config(self.consumer_env)

    @property
    def producer_env(self) -> dict[str, str]:
        return {
            "PUBLISH_INTERVAL_SECONDS": str(self.publish_interval),
            "HEARTBEAT_MAX_AGE_SECONDS": str(self.heartbeat_max_age),
        }

    @property
    def consumer_env(self) -> dict[str, str]:
        return {
            "RECEIVE_WAIT_SECONDS": str(self.receive_wait),
            "HEARTBEAT_MAX_AGE_SECONDS": str(self.heartbeat_max_age),
        }

    @property
    def receive_call(self) -> float:
        """One long poll: connect plus the consumer's read timeout (the wait plus its margin)."""
        return load_consumer_config(self.consumer_env).call_bound

    @property
    def start(self) -> float:
        """Python start-up plus imports before /health answers."""
        return self.slack

    @property
    def consume(self) -> float:
        """A delivered message is picked up by the next long poll and deleted in one call."""
        return self.receive_call + SHORT_CALL_SECONDS + self.slack

    @property
    def readiness_change(self) -> float:
        """Readiness cache period plus one probe call."""
        return READINESS_CACHE_SECONDS + PROBE_CONNECT_TIMEOUT_SECONDS + PROBE_READ_TIMEOUT_SECONDS + self.slack

    @property
    def resume(self) -> float:
        """After an outage: one backoff wait at most, then a publish and a long poll."""
        return RetryPolicy().cap + SHORT_CALL_SECONDS + self.receive_call + self.slack

    @property
    def producer_drain(self) -> float:
        """SIGTERM interrupts the interval or backoff wait; at most one publish in flight."""
        return SHORT_CALL_SECONDS + self.slack

    @property
    def consumer_drain(self) -> float:
        """SIGTERM waits for the in-flight long poll, then handles and deletes its batch."""
        return self.receive_call + SHORT_CALL_SECONDS + self.slack
