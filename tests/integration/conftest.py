"""Fixtures for the integration tier: real processes on 127.0.0.1, no cluster.

The AWS emulator is moto's server (``moto[server]``) run as its own process: it starts in a
fraction of a second, delivers SNS -> SQS like the real services, and can be killed and
restarted on the same port to simulate an outage. (LocalStack plays that role in the cluster;
as a plain process on this Python it needs pinned extras and a pre-built catalogue, which is
a lot of start-up cost for a tier meant to run on every change. docs/services.md has more.)

Every process here is started by a fixture and ended by its PID at teardown.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.emulator import Emulator, free_port
from lab.processes import Service
from tests.integration.support import Wiring
from tests.integration.timing import Timing


@pytest.fixture(scope="session")
def timing() -> Timing:
    return Timing()


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One moto_server for the session (tests use uniquely named resources)."""
    emulator = Emulator(tmp_path_factory.mktemp("emulator"), free_port())
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def emulator(emulator_process: Emulator) -> Emulator:
    """The session emulator, restarted first if an earlier (failed) test left it down."""
    if not emulator_process.running:
        emulator_process.start()
    return emulator_process


@pytest.fixture
def make_wiring(emulator: Emulator) -> Iterator[Callable[..., Wiring]]:
    """Factory: ``make_wiring()`` creates uniquely named resources, deleted at teardown."""
    created: list[Wiring] = []

    def make(**overrides: Any) -> Wiring:
        suffix = uuid.uuid4().hex[:8]
        wiring = Wiring(emulator, f"it-topic-{suffix}", f"it-queue-{suffix}", f"it-dlq-{suffix}", **overrides)
        created.append(wiring.create())
        return wiring

    yield make
    if emulator.running:
        for wiring in created:
            wiring.delete()


FAILED_KEY = pytest.StashKey[bool]()
LOG_TAIL_LINES = 40


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember each phase's outcome on the item so fixtures can add evidence on failure."""
    report = yield
    item.stash.setdefault(FAILED_KEY, False)
    if report.failed:
        item.stash[FAILED_KEY] = True
    return report


@pytest.fixture
def start_service(
    request: pytest.FixtureRequest, tmp_path: Path, emulator: Emulator
) -> Iterator[Callable[..., Service]]:
    """Factory: ``start_service("producer", TOPIC_NAME=...)`` runs app.py as a real process.

    The environment is built from scratch (PATH, dummy credentials, AWS_ENDPOINT_URL and a
    free HEALTH_PORT, see lab/processes.py) plus the overrides, so a developer's AWS settings cannot leak in.
    Teardown sends SIGTERM, then SIGKILL, to the PID it started.
    """
    started: list[Service] = []

    def start(name: str, **overrides: str) -> Service:
        env = {**emulator.env(), "POD_NAME": f"{name}-{uuid.uuid4().hex[:6]}", **overrides}
        started.append(Service.start(name, tmp_path, env))
        return started[-1]

    yield start
    failed = request.node.stash.get(FAILED_KEY, False)
    for service in started:
        if failed:  # shown under "Captured stdout teardown" of the failed test
            print(f"--- {service.name} pid {service.proc.pid} alive={service.alive} rc={service.proc.poll()}")
            for path in (service.stdout, service.stderr):
                print("\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]))
        if service.alive:
            service.proc.terminate()
            try:
                service.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.proc.kill()
                service.proc.wait(timeout=10)
