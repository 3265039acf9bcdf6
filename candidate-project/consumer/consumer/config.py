"""Consumer settings, read only from the environment and validated at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.contract import QUEUE_NAME
from shared.envconfig import CommonConfig, load_common, read_int, read_name, require_heartbeat_margin
from shared.policy import CONNECT_TIMEOUT_SECONDS, RetryPolicy

# The read timeout must outlast the long poll (the server legitimately holds the request for
# up to RECEIVE_WAIT_SECONDS) plus a little transfer time; more would only delay noticing a
# black-holed endpoint.
READ_TIMEOUT_MARGIN_SECONDS = 4.0
# SQS queue names: 1-80 letters, digits, '-' and '_' (FIFO queues end in .fifo).
QUEUE_NAME_PATTERN = r"[A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\.fifo"


@dataclass(frozen=True)
class ConsumerConfig:
    common: CommonConfig = field(default_factory=CommonConfig)
    queue_name: str = QUEUE_NAME
    receive_wait: int = 20
    batch_size: int = 10
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def read_timeout(self) -> float:
        return self.receive_wait + READ_TIMEOUT_MARGIN_SECONDS

    @property
    def call_bound(self) -> float:
        """Longest a single SQS call can block: connect plus read timeout."""
        return CONNECT_TIMEOUT_SECONDS + self.read_timeout

    @property
    def longest_beat_gap(self) -> float:
        """The worker beats before every call and before every backoff sleep, so a healthy
        gap is at most one (long-poll) call or one backoff wait."""
        return max(self.call_bound, self.retry.cap)


def load_config(env: Mapping[str, str]) -> ConsumerConfig:
    common = load_common(env)
    queue = read_name(
        env,
        "QUEUE_NAME",
        QUEUE_NAME,
        QUEUE_NAME_PATTERN,
        "must be 1-80 letters, digits, - or _",
    )
    wait = read_int(env, "RECEIVE_WAIT_SECONDS", 20, 0, 20)
    batch = read_int(env, "RECEIVE_BATCH_SIZE", 10, 1, 10)
    config = ConsumerConfig(common=common, queue_name=queue, receive_wait=wait, batch_size=batch)
    require_heartbeat_margin(
        common,
        config.longest_beat_gap,
        f"RECEIVE_WAIT_SECONDS {wait} + {READ_TIMEOUT_MARGIN_SECONDS:g}s read margin"
        f" + {CONNECT_TIMEOUT_SECONDS:g}s connect timeout",
    )
    return config
