"""Restart → Ready of one container, timed from a watch of its pod, to well under a second.

Why a watch and not the API's timestamps: ``startedAt`` and the Ready condition's ``lastTransitionTime`` have a
resolution of one second, so their difference is ±1 s — too coarse to tell 2 s from 3 s. ``kubectl get pod -w``
streams every status update the kubelet sends; each is stamped with this machine's clock on arrival. Both ends of the
interval (new container running, pod Ready) travel the same path (kubelet → API server → watch), so its delay cancels
out. The API's own one-second figure is kept next to it as a cross-check.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from lab.ledger import parse_time

# One line per watch event: restartCount, the running container's startedAt, the Ready condition's status and
# lastTransitionTime. The pod has one container (the manifests' interface: container named like the Deployment).
TEMPLATE = (
    "{.status.containerStatuses[0].restartCount}|{.status.containerStatuses[0].state.running.startedAt}|"
    '{range .status.conditions[?(@.type=="Ready")]}{.status}|{.lastTransitionTime}{end}{"\\n"}'
)


@dataclass(frozen=True)
class Update:
    """One status update of the pod as the watch delivered it."""

    at: float  # time.time() on arrival
    restarts: int
    started_at: float | None  # API time, 1 s resolution
    ready: bool
    ready_since: float | None  # API time, 1 s resolution


def parse_update(line: str, at: float) -> Update | None:
    """``restartCount|startedAt|Ready|lastTransitionTime`` → Update; None for a line without a restart count."""
    parts = line.strip().split("|")
    if len(parts) < 4 or not parts[0].isdigit():
        return None
    return Update(at, int(parts[0]), parse_time(parts[1] or None), parts[2] == "True", parse_time(parts[3] or None))


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
    updates: list[Update] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> PodWatch:
        argv = [self.kubectl, "--kubeconfig", str(self.kubeconfig), "--namespace", self.namespace]
        argv += ["get", "pod", self.pod, "--watch", "--output", f"jsonpath={TEMPLATE}"]
        self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(self._proc.stdout,), name="pod-watch", daemon=True)
        self._thread.start()
        return self

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            update = parse_update(line, time.time())
            if update is not None:
                self.updates.append(update)

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)
