"""The real producer and consumer ``app.py`` run as processes, exactly as the images run them.

Measuring the service processes rather than their worker classes in-process keeps the benchmark honest: it includes
the JSON logging, the health server thread and the process start-up that the pods pay for too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from tenacity import retry, retry_if_exception_type, retry_if_result, stop_after_delay, wait_fixed

from bench.emulator import free_port
from lab.ledger import parse_events

REPO = Path(__file__).resolve().parent.parent
SERVICES = REPO / "candidate-project"


class NotYet(Exception):
    """Raised by a poll that should be retried until its deadline."""


@dataclass
class Service:
    """One ``app.py`` process with its health port and captured output (stdout JSON, stderr access lines)."""

    name: str
    process: subprocess.Popen
    port: int
    stdout: Path
    stderr: Path
    started: float = field(default_factory=time.time)

    @classmethod
    def start(cls, name: str, workdir: Path, env: dict[str, str], services: Path = SERVICES) -> Service:
        app = services / name / "app.py"
        if not app.is_file():
            raise FileNotFoundError(f"{app} not found: the benchmark runs the real services")
        port = free_port()
        stdout, stderr = workdir / f"{name}-{port}.out", workdir / f"{name}-{port}.err"
        full_env = {
            **os.environ,
            "HEALTH_PORT": str(port),
            "POD_NAME": f"bench-{name}-{port}",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        with stdout.open("wb") as out, stderr.open("wb") as err:
            started = time.time()
            process = subprocess.Popen([sys.executable, str(app)], cwd=app.parent, stdout=out, stderr=err, env=full_env)
        return cls(name, process, port, stdout, stderr, started)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def events(self, kind: str | None = None) -> list[dict]:
        found = parse_events(self.stdout.read_text(encoding="utf-8", errors="replace"))
        return [e for e in found if kind is None or e["event"] == kind]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.stderr.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {tail}")

    def wait_ready(self, deadline: float) -> float:
        """Seconds from process start until ``/ready`` answered 200 (polled every 10 ms, bounded by ``deadline``)."""

        @retry(
            stop=stop_after_delay(deadline),
            wait=wait_fixed(0.01),
            reraise=True,
            retry=retry_if_exception_type((requests.RequestException, NotYet)),
        )
        def poll() -> float:
            self.check_alive()
            response = requests.get(f"{self.url}/ready", timeout=1)
            if response.status_code != 200:
                raise NotYet(response.status_code)
            return time.time() - self.started

        return poll()

    def wait_events(self, kind: str, count: int, deadline: float) -> list[dict]:
        """Events of ``kind`` once at least ``count`` are logged (polled every 50 ms, bounded by ``deadline``)."""

        @retry(
            stop=stop_after_delay(deadline),
            wait=wait_fixed(0.05),
            reraise=True,
            retry=retry_if_result(lambda found: len(found) < count),
        )
        def poll() -> list[dict]:
            self.check_alive()
            return self.events(kind)

        return poll()

    def wait_deleted(self, count: int, deadline: float) -> int:
        """Wait until the ``deleted`` events add up to ``count`` messages; return the total."""

        @retry(
            stop=stop_after_delay(deadline),
            wait=wait_fixed(0.05),
            reraise=True,
            retry=retry_if_result(lambda total: total < count),
        )
        def poll() -> int:
            self.check_alive()
            return sum(int(e.get("count", 0)) for e in self.events("deleted"))

        return poll()

    def kill(self) -> None:
        """SIGKILL this process (only when nothing is in flight), and reap it."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM (the service drains and exits 0), SIGKILL only after ``grace``; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
