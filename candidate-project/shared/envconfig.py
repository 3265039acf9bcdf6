"""Environment-variable parsing shared by both services.

Why strict: a typo in a manifest (``RECEIVE_WAIT_SECONDS=2O``) should stop the pod at once
with one line naming the variable, not surface minutes later as odd behaviour. Every reader
raises ``ConfigError(name, reason)``; app.py turns that into ``config error: NAME: reason``
and exit code 2.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
POD_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")


class ConfigError(ValueError):
    """A bad environment variable; ``name`` is the variable, ``reason`` says what is wrong."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def read_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low} and {high}, got {value}")
    return value


def read_float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    """Parse a float in (low, high]; the lower bound is exclusive (0 means "positive")."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"expected a number, got {raw!r}") from None
    if not low < value <= high:  # also rejects nan
        raise ConfigError(name, f"must be > {low:g} and <= {high:g}, got {raw}")
    return value


def read_name(env: Mapping[str, str], name: str, default: str, pattern: str, rule: str) -> str:
    value = env.get(name, "").strip() or default
    if not re.fullmatch(pattern, value):
        raise ConfigError(name, f"{rule}, got {value!r}")
    return value


@dataclass(frozen=True)
class CommonConfig:
    """Settings both services share; see docs/services.md for the reasons behind defaults."""

    health_port: int = 5000
    heartbeat_max_age: float = 60.0
    region: str = "us-east-1"
    log_level: str = "INFO"
    pod_name: str = "local"
    endpoint_url: str | None = None


def load_common(env: Mapping[str, str]) -> CommonConfig:
    port = read_int(env, "HEALTH_PORT", 5000, 1, 65535)
    max_age = read_float(env, "HEARTBEAT_MAX_AGE_SECONDS", 60.0, 0.0, 3600.0)
    region = env.get("AWS_DEFAULT_REGION", "").strip() or "us-east-1"
    if not REGION_RE.match(region):
        raise ConfigError("AWS_DEFAULT_REGION", f"not a region name like us-east-1: {region!r}")
    level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    pod = env.get("POD_NAME", "").strip() or socket.gethostname()
    if not POD_NAME_RE.match(pod):
        raise ConfigError("POD_NAME", f"must be a DNS-like name, got {pod!r}")
    endpoint = env.get("AWS_ENDPOINT_URL", "").strip() or None
    if endpoint is not None and not re.match(r"^https?://[^\s/]+", endpoint):
        raise ConfigError("AWS_ENDPOINT_URL", f"must be an http(s):// URL, got {endpoint!r}")
    return CommonConfig(port, max_age, region, level, pod, endpoint)


def require_heartbeat_margin(common: CommonConfig, longest_gap: float, why: str) -> None:
    """Refuse a heartbeat bound the worker could miss while healthy (false restarts)."""
    if common.heartbeat_max_age <= longest_gap:
        raise ConfigError(
            "HEARTBEAT_MAX_AGE_SECONDS",
            f"must exceed {longest_gap:g}s, the longest healthy gap between heartbeats ({why}),"
            f" got {common.heartbeat_max_age:g}",
        )
