"""The real producer and consumer ``app.py`` as processes on 127.0.0.1, for the integration tier and the benchmark.

Why processes and not the worker classes in-process: the integration tier proves the services work as the images run
them (signals to PID, JSON logs, the health server thread, exit codes), and the benchmark must include the logging and
start-up the pods pay for too. The environment is built from scratch (PATH plus what the caller gives), so a
developer's AWS settings cannot leak in. Every process is ended by its own PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from lab.emulator import free_port
from lab.ledger import parse_events
from lab.waiting import Transient, wait_for

SERVICES = Path(__file__).resolve().parent.parent / "candidate-project"
# How often a wait on a local HTTP endpoint polls: an answer costs milliseconds on 127.0.0.1, so 0.2 s adds at most
# that to a measured wait without keeping a busy 2-core machine's CPU on polling.
POLL_SECONDS = 0.2
# One request to a local service: its /ready waits for at most one AWS probe call (shared.policy's probe connect and
# read timeouts, 2.5 s), so 5 s is never the limit while it works.
HTTP_TIMEOUT_SECONDS = 5


def answers(url: str, code: int = 200) -> bool:
    """Whether ``url`` answers HTTP ``code`` now; False while nothing listens there yet (a process still starting)."""
    try:
        return requests.get(url, timeout=HTTP_TIMEOUT_SECONDS).status_code == code
    except requests.ConnectionError:
        return False


def stop_process(proc: subprocess.Popen[Any], grace: float = 10.0) -> int | None:
    """SIGTERM, SIGKILL only after ``grace`` seconds, and reap: one way for every helper process the tiers start."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@dataclass
class Service:
    """A running ``app.py``: its PID, health port, captured output (stdout JSON events, stderr access lines)."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path
    env: dict[str, str] = field(repr=False)
    started: float = field(default_factory=time.time)

    @classmethod
    def start(cls, name: str, workdir: Path, env: dict[str, str], services: Path = SERVICES) -> Service:
        """Run ``services/NAME/app.py`` with PATH, a free HEALTH_PORT, a POD_NAME and ``env`` (which wins)."""
        app = services / name / "app.py"
        if not app.is_file():
            raise FileNotFoundError(f"{app} not found: the real services are run")
        port = free_port()
        full_env = {
            "PATH": os.environ.get("PATH", ""),
            "HEALTH_PORT": str(port),
            "POD_NAME": f"{name}-{port}",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        stdout, stderr = workdir / f"{name}-{port}.out", workdir / f"{name}-{port}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            started = time.time()
            proc = subprocess.Popen([sys.executable, str(app)], cwd=app.parent, env=full_env, stdout=out, stderr=err)
        return cls(name, proc, port, stdout, stderr, full_env, started)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=HTTP_TIMEOUT_SECONDS)

    def status(self, path: str) -> int:
        return self.get(path).status_code

    def wait_status(self, path: str, code: int, deadline: float) -> None:
        """Wait until ``path`` answers ``code`` (polled every POLL_SECONDS, bounded by ``deadline``)."""

        def answered() -> bool:
            self.check_alive()
            return answers(f"{self.url}{path}", code)

        wait_for(answered, deadline, POLL_SECONDS, f"{self.name} {path} answering {code}")

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The JSON events logged so far (each with ``_t``, its own timestamp), optionally only of one kind."""
        found = parse_events(self.stdout.read_text(encoding="utf-8", errors="replace"))
        return [e for e in found if kind is None or e.get("event") == kind]

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.proc.pid, signum)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def check_alive(self) -> None:
        if not self.alive:
            tail = self.stderr.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {tail}")

    def _poll(self, condition: Any, deadline: float, interval: float, what: str) -> Any:
        """`wait_for` on ``condition``, whose `Transient` says "not yet"; HTTP errors are retried too. Its answer is
        wrapped in a 1-tuple so that a falsy one (0 events wanted) still ends the wait."""
        retried = (requests.RequestException,)
        return wait_for(lambda: (condition(),), deadline, interval, f"{self.name}: {what}", retried)[0]

    def wait_ready(self, deadline: float) -> float:
        """Seconds from process start until ``/ready`` answered 200 (polled every 10 ms, bounded by ``deadline``)."""

        def ready() -> float:
            self.check_alive()
            if requests.get(f"{self.url}/ready", timeout=1).status_code != 200:
                raise Transient("/ready did not answer 200")
            return time.time() - self.started

        return float(self._poll(ready, deadline, 0.01, "/ready answering 200"))

    def wait_events(self, kind: str, count: int, deadline: float) -> list[dict[str, Any]]:
        """Events of ``kind`` once at least ``count`` are logged (polled every 50 ms, bounded by ``deadline``)."""

        def enough() -> list[dict[str, Any]]:
            self.check_alive()
            found = self.events(kind)
            if len(found) < count:
                raise Transient(f"{len(found)} of {count} {kind} events")
            return found

        return list(self._poll(enough, deadline, 0.05, f"{count} {kind} events"))

    def wait_deleted(self, count: int, deadline: float) -> int:
        """Wait until the consumer's ``deleted`` events add up to ``count`` messages; return the total."""

        def enough() -> int:
            self.check_alive()
            total = sum(int(e.get("count", 0)) for e in self.events("deleted"))
            if total < count:
                raise Transient(f"{total} of {count} deleted")
            return total

        return int(self._poll(enough, deadline, 0.05, f"{count} messages deleted"))

    def kill(self) -> None:
        """SIGKILL this process (only when nothing is in flight), and reap it."""
        if self.alive:
            self.proc.kill()
            self.proc.wait()

    def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM (the service drains and exits 0), SIGKILL only after ``grace``; returns the exit code."""
        return stop_process(self.proc, grace)
