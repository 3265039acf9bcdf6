"""Settings from environment variables, validated before anything listens.

Why fail at start: a proxy pointed at a typo'd upstream would answer every call with 502 and the fault test would
measure the wrong thing. Each bad variable gives one line naming it and exit status 2, like the services.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    upstream_host: str
    upstream_port: int
    listen_host: str = "0.0.0.0"
    listen_port: int = 4566
    control_port: int = 8080
    # Must outlast the longest call the services make through the proxy: an SQS long poll (up to 20 s) plus margin.
    upstream_timeout: float = 30.0
    seed: int = 0


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"{name} must be a port number 1-65535, got {raw!r}")
    return int(raw)


def load(env: Mapping[str, str] = os.environ) -> Config:
    upstream = env.get("UPSTREAM_URL", "")
    parts = urlsplit(upstream)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"UPSTREAM_URL must be http://HOST[:PORT], got {upstream!r}")
    try:
        upstream_port = parts.port or 80
    except ValueError as exc:
        raise ConfigError(f"UPSTREAM_URL has a bad port: {upstream!r}") from exc
    listen_port = _port(env, "LISTEN_PORT", Config.listen_port)
    control_port = _port(env, "CONTROL_PORT", Config.control_port)
    if listen_port == control_port:
        raise ConfigError(f"CONTROL_PORT must differ from LISTEN_PORT ({listen_port})")
    raw_timeout = env.get("UPSTREAM_TIMEOUT_SECONDS", str(Config.upstream_timeout))
    try:
        timeout = float(raw_timeout)
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 600:
        raise ConfigError(f"UPSTREAM_TIMEOUT_SECONDS must be a number in (0, 600], got {raw_timeout!r}")
    raw_seed = env.get("FAULT_SEED", "0")
    if not raw_seed.lstrip("-").isdigit():
        raise ConfigError(f"FAULT_SEED must be an integer, got {raw_seed!r}")
    return Config(
        upstream_host=parts.hostname,
        upstream_port=upstream_port,
        listen_host=env.get("LISTEN_HOST", Config.listen_host),
        listen_port=listen_port,
        control_port=control_port,
        upstream_timeout=timeout,
        seed=int(raw_seed),
    )
