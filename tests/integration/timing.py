"""Settings the integration tier runs the services with, and every deadline derived from them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Service settings for this tier and every deadline derived from them.

    The services' own bounds (their policy.py) are: one AWS call <= 2 s connect + read
    timeout (5 s publish, RECEIVE_WAIT + 4 s receive), backoff waits <= 5 s, readiness
    answers cached for 2 s with 1 + 1.5 s probe timeouts. ``slack`` absorbs process start
    and a busy 2-core machine; it is added once per deadline, never multiplied.
    """

    publish_interval: float = 0.2
    receive_wait: int = 1
    # Must exceed the consumer's longest healthy heartbeat gap, RECEIVE_WAIT + 4 + 2 = 7 s.
    heartbeat_max_age: float = 10.0
    slack: float = 10.0

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
        return 2 + self.receive_wait + 4

    @property
    def start(self) -> float:
        """Python start-up plus imports before /health answers."""
        return self.slack

    @property
    def consume(self) -> float:
        """A delivered message is picked up by the next long poll and deleted in one call."""
        return self.receive_call + 7 + self.slack

    @property
    def readiness_change(self) -> float:
        """Readiness cache ttl plus one probe call."""
        return 2 + 1 + 1.5 + self.slack

    @property
    def resume(self) -> float:
        """After an outage: one backoff wait at most, then a publish and a long poll."""
        return 5 + 7 + self.receive_call + self.slack

    @property
    def producer_drain(self) -> float:
        """SIGTERM interrupts the interval or backoff wait; at most one publish in flight."""
        return 7 + self.slack

    @property
    def consumer_drain(self) -> float:
        """SIGTERM waits for the in-flight long poll, then handles and deletes its batch."""
        return self.receive_call + 7 + self.slack
