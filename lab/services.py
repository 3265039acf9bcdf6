"""The services' own settings, computed by their own config code from the live Deployment's environment.

Why not re-derive them here: the longest healthy gap between two heartbeats and the publish interval are facts the
services own (``producer.config`` / ``consumer.config``, which also refuse to start when the heartbeat bound is at or
below the gap). The lab needs them for its bounds (the earliest a hung worker can be restarted, how many messages an
emulator outage can swallow), so it runs the owners' code on the env the kubelet gives the container.
"""

from __future__ import annotations

import importlib
from typing import Any

from lab.deploy import SERVICES, Lab
from lab.kube import container_spec


def container_env(template_spec: dict, container: str) -> dict[str, str]:
    """The literal env values of one container (``valueFrom`` entries are left out: the config code has defaults)."""
    _, item = container_spec(template_spec, container)
    return {e["name"]: str(e["value"]) for e in item.get("env", []) if "value" in e}


def config_of(app: str, env: dict[str, str]) -> Any:
    """``<app>.config.load_config(env)``: the service's validated settings (ConfigError on a bad manifest)."""
    if app not in SERVICES:
        raise ValueError(f"{app!r} is not one of the services {SERVICES}")
    return importlib.import_module(f"{app}.config").load_config(env)


def live_config(lab: Lab, app: str) -> Any:
    """The settings the running ``app`` container was started with, from its live Deployment."""
    return config_of(app, container_env(lab.kube.deployment(app)["spec"]["template"]["spec"], app))
