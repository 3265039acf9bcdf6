"""faultproxy as a real process on 127.0.0.1 for the integration tier, with its control API at hand.

Kept out of the test modules so they stay small; it reuses lab's ``free_port``, ``answers`` and ``wait_for``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from lab.emulator import free_port
from lab.processes import POLL_SECONDS, answers, stop_process
from lab.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
# Standard-library Python only; 20 s covers a loaded 2-core machine (it answers /health in well under a second).
START_SECONDS = 20.0


@dataclass
class FaultProxy:
    proc: subprocess.Popen[bytes]
    url: str
    control_url: str
    log: Path

    def set(self, **spec: Any) -> requests.Response:
        return requests.post(f"{self.control_url}/faults", json=spec, timeout=5)

    def faults(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.control_url}/faults", timeout=5)
        response.raise_for_status()
        return list(response.json()["faults"])

    def clear(self, operation: str = "") -> requests.Response:
        return requests.delete(f"{self.control_url}/faults{'/' + operation if operation else ''}", timeout=5)


@contextmanager
def faultproxy(upstream: str, log_dir: Path, seed: int = 0) -> Iterator[FaultProxy]:
    """Start ``python -m faultproxy`` in front of ``upstream``; SIGTERM (then SIGKILL) by PID at the end."""
    port, control = free_port(), free_port()
    env = {
        "UPSTREAM_URL": upstream,
        "LISTEN_HOST": "127.0.0.1",
        "LISTEN_PORT": str(port),
        "CONTROL_PORT": str(control),
        "FAULT_SEED": str(seed),
    }
    log = log_dir / f"faultproxy-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "faultproxy"], cwd=REPO, env=env, stdout=out, stderr=out)
    proxy = FaultProxy(proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{control}", log)
    try:
        wait_for(lambda: answers(f"{proxy.control_url}/health"), START_SECONDS, POLL_SECONDS, "faultproxy's /health")
        yield proxy
    finally:
        stop_process(proc)
