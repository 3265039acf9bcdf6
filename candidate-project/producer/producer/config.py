"""Producer settings, read only from the environment and validated at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.contract import TOPIC_NAME
from shared.envconfig import CommonConfig, load_common, read_float, read_name, require_heartbeat_margin
from shared.policy import CONNECT_TIMEOUT_SECONDS, SHORT_READ_TIMEOUT_SECONDS, RetryPolicy

# SNS topic names: 1-256 of letters, digits, '-' and '_' (FIFO topics end in .fifo).
TOPIC_NAME_PATTERN = r"[A-Za-z0-9_-]{1,251}(\.fifo)?"


@dataclass(frozen=True)
class ProducerConfig:
    common: CommonConfig = field(default_factory=CommonConfig)
    topic_name: str = TOPIC_NAME
    publish_interval: float = 1.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def call_bound(self) -> float:
        """Longest a single SNS call can block: connect plus read timeout."""
        return CONNECT_TIMEOUT_SECONDS + SHORT_READ_TIMEOUT_SECONDS

    @property
    def longest_beat_gap(self) -> float:
        """The worker beats before every call, after every success and before every backoff
        sleep, so a healthy gap is at most one call, one backoff wait or one interval."""
        return max(self.call_bound, self.retry.cap, self.publish_interval)


def load_config(env: Mapping[str, str]) -> ProducerConfig:
    common = load_common(env)
    topic = read_name(env, "TOPIC_NAME", TOPIC_NAME, TOPIC_NAME_PATTERN, "must be 1-256 letters, digits, - or _")
    interval = read_float(env, "PUBLISH_INTERVAL_SECONDS", 1.0, 0.0, 3600.0)
    config = ProducerConfig(common=common, topic_name=topic, publish_interval=interval)
    require_heartbeat_margin(
        common,
        config.longest_beat_gap,
        f"max of PUBLISH_INTERVAL_SECONDS {interval:g}, one SNS call {config.call_bound:g}s"
        f" and one backoff wait {config.retry.cap:g}s",
    )
    return config
