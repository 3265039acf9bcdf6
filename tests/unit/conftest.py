"""Fixtures for the unit tier: no network, AWS through moto's in-process ``mock_aws``.

The services' packages (``producer``, ``consumer``) and ``shared`` are importable because the
root pytest config puts both service folders on ``pythonpath``; ``app.py`` files are run as
subprocesses (exit codes) or loaded by path (the two would clash as one module name).
Nothing here is autouse: tests/unit/lab shares this folder and needs none of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lab.emulator import create_resources
from lab.waiting import wait_for
from shared import server
from shared.contract import QUEUE_NAME, TOPIC_NAME

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "candidate-project"
REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy credentials and moto's mock; AWS_ENDPOINT_URL removed so nothing leaves the process."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def sns(aws: None) -> Any:
    return boto3.client("sns", region_name=REGION)


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


@dataclass
class Wiring:
    """The lab's topology: topic -> queue (raw delivery) with a DLQ after MAX_RECEIVE_COUNT receives."""

    topic_arn: str
    queue_url: str
    dlq_url: str
    topic_name: str
    queue_name: str


@pytest.fixture
def wiring(sns: Any, sqs: Any) -> Wiring:
    """Create the same resources the manifests' LocalStack init hook creates, under mock_aws."""
    made = create_resources(sns, sqs)
    return Wiring(made.topic_arn, made.queue_url, made.dlq_url, TOPIC_NAME, QUEUE_NAME)


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture) -> Callable[[str], list[dict[str, Any]]]:
    """Return a lookup of structured log events by name, as the ledger would see them."""
    caplog.set_level(logging.DEBUG, logger="lab")

    def lookup(name: str) -> list[dict[str, Any]]:
        return [
            dict(r.fields, event=r.getMessage()) for r in caplog.records if r.name == "lab" and r.getMessage() == name
        ]

    return lookup


class FakeClock:
    """A monotonic clock tests move by hand, so staleness needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class RunningServer:
    health: server.Health
    readiness: server.Readiness
    port: int
    ready_answer: list[str | None]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def health_server(clock: FakeClock) -> Iterator[RunningServer]:
    """The real threaded server on an ephemeral 127.0.0.1 port, with a fake clock.

    ``ready_answer[0]`` is what the readiness check returns (None = ready); the cache ttl is
    0 so each request sees changes at once.
    """
    answer: list[str | None] = [None]
    health = server.Health(max_age=30.0, clock=clock)
    readiness = server.Readiness(lambda: answer[0], ttl=0.0, clock=clock)
    srv = server.start_server(health, readiness, host="127.0.0.1", port=0)
    try:
        yield RunningServer(health, readiness, srv.server_address[1], answer)
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """Poll ``probe`` until ``accept(result)`` holds or ``timeout`` passes (`lab.waiting.wait_for`, the one poller).

    Unit-tier waits are for in-process threads doing millisecond work, so a few seconds is a
    generous bound that only matters when something is broken.
    """

    def wait(probe: Callable[[], Any], accept: Callable[[Any], bool], timeout: float = 5.0) -> Any:
        return wait_for(lambda: accept(probe()), timeout, interval=0.01, what="the unit test's condition")

    return wait


@pytest.fixture
def run_in_thread() -> Iterator[Callable[[Callable[[], Any]], threading.Thread]]:
    """Start a worker loop in a daemon thread; the test must stop it (joined at teardown)."""
    threads: list[threading.Thread] = []

    def start(target: Callable[[], Any]) -> threading.Thread:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive(), "worker thread did not stop"
