"""Restart → Ready of one container, timed from a watch of its pod, to well under a second.

Why a watch and not the API's timestamps: ``startedAt`` and the Ready condition's ``lastTransitionTime`` have a
resolution of one second, so their difference is ±1 s — too coarse to tell 2 s from 3 s. ``kubectl get pod -w``
streams every status update the kubelet sends; each is stamped with this machine's clock on arrival. Both ends of the
interval (new container running, pod Ready) travel the same path (kubelet → API server → watch), so its delay cancels
out. The API's own one-second figure is kept next to it as a cross-check.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lab.kube import container_status
from lab.ledger import parse_time


@dataclass(frozen=True)
class Update:
    """One status update of the pod as the watch delivered it."""

    at: float  # time.time() on arrival
    restarts: int
    started_at: float | None  # API time, 1 s resolution
    ready: bool
    ready_since: float | None  # API time, 1 s resolution


def parse_update(pod: dict[str, Any], at: float, container: str | None = None) -> Update | None:
    """One pod object of the watch -> Update; None while the pod has no status of that container yet.

    ``container``: the one to time; by default the one named like the pod's ``app`` label (the manifests'
    interface: the container is named like its Deployment), looked up by name, so a sidecar listed first is not it.
    """
    name = container or ((pod.get("metadata") or {}).get("labels") or {}).get("app", "")
    status = container_status(pod, name)
    if not status:
        return None
    running = (status.get("state") or {}).get("running") or {}
    conditions: list[dict[str, Any]] = pod["status"].get("conditions") or []
    ready: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    return Update(
        at,
        int(status.get("restartCount", 0)),
        parse_time(running.get("startedAt")),
        ready.get("status") == "True",
        parse_time(ready.get("lastTransitionTime")),
    )


def split_objects(buffer: str) -> tuple[list[dict[str, Any]], str]:
    """The complete JSON objects at the start of ``buffer`` (kubectl --watch -o json prints one after another,
    pretty-printed, without separators) and the incomplete rest."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    rest = buffer.lstrip()
    while rest:
        try:
            obj, end = decoder.raw_decode(rest)
        except json.JSONDecodeError:
            break
        found.append(obj)
        rest = rest[end:].lstrip()
    return found, rest


@dataclass
class RestartToReady:
    """One container restart: when the watch saw it running again and when the pod was Ready again."""

    restarted: Update
    ready: Update

    @property
    def seconds(self) -> float:
        """Measured on the watch's arrival clock (sub-second)."""
        return round(self.ready.at - self.restarted.at, 3)

    @property
    def api_seconds(self) -> float | None:
        """The same interval from the API's one-second timestamps (cross-check)."""
        if self.ready.ready_since is None or self.restarted.started_at is None:
            return None
        return round(self.ready.ready_since - self.restarted.started_at, 3)


def restart_to_ready(updates: list[Update], restarts_before: int) -> RestartToReady | None:
    """The first update showing a newer container running, then the first after it with the pod Ready."""
    restarted = next((u for u in updates if u.restarts > restarts_before and u.started_at is not None), None)
    if restarted is None:
        return None
    ready = next((u for u in updates if u.at >= restarted.at and u.restarts == restarted.restarts and u.ready), None)
    return None if ready is None else RestartToReady(restarted, ready)


@dataclass
class PodWatch:
    """``with PodWatch(kubectl, kubeconfig, namespace, pod) as watch: ...; watch.updates``."""

    kubectl: str
    kubeconfig: Path
    namespace: str
    pod: str
    container: str | None = None  # default: the one named like the pod's app label (`parse_update`)
    updates: list[Update] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> PodWatch:
        argv = [self.kubectl, "--kubeconfig", str(self.kubeconfig), "--namespace", self.namespace]
        # JSON, not a jsonpath template: with a filtered range over the conditions, kubectl 1.34.12 printed only the
        # first object of the watch (tried on the offline cluster, 2026-11-30).
        argv += ["get", "pod", self.pod, "--watch", "--output", "json"]
        self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(self._proc.stdout,), name="pod-watch", daemon=True)
        self._thread.start()
        return self

    def _read(self, stream: IO[str]) -> None:
        buffer = ""
        while chunk := stream.readline():
            buffer += chunk
            if chunk.rstrip() != "}":  # an object ends with a closing brace alone on its line
                continue
            objects, buffer = split_objects(buffer)
            arrived = time.time()
            for obj in objects:
                update = parse_update(obj, arrived, self.container)
                if update is not None:
                    self.updates.append(update)

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)
