"""Fixtures for the integration tier: real processes on 127.0.0.1, no cluster.

The AWS emulator is moto's server (``moto[server]``) run as its own process: it starts in a
fraction of a second, delivers SNS -> SQS like the real services, and can be killed and
restarted on the same port to simulate an outage. (LocalStack plays that role in the cluster;
as a plain process on this Python it needs pinned extras and a pre-built catalogue, which is
a lot of start-up cost for a tier meant to run on every change. docs/services.md has more.)

Every process here is started by a fixture and ended by its PID at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import BotoCoreError, ClientError
from tenacity import Retrying, retry_if_exception_type, retry_if_result, stop_after_delay, wait_fixed

SERVICES = Path(__file__).resolve().parents[2] / "candidate-project"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
# moto's server is up in ~0.3 s; 20 s covers a loaded 2-core CI machine.
EMULATOR_START_SECONDS = 20.0


@dataclass(frozen=True)
class Timing:
    """Service settings for this tier and every deadline derived from them.

    The services' own bounds (their policy.py) are: one AWS call <= 2 s connect + read
    timeout (5 s publish, RECEIVE_WAIT + 4 s receive), backoff waits <= 5 s, readiness
    answers cached for 2 s with 1 + 1.5 s probe timeouts. ``slack`` absorbs process start
    and a busy 2-core machine; it is added once per deadline, never multiplied.
    """

    publish_interval: float = 0.2
    receive_wait: int = 1
    # Must exceed the consumer's longest healthy heartbeat gap, RECEIVE_WAIT + 4 + 2 = 7 s.
    heartbeat_max_age: float = 10.0
    slack: float = 10.0

    @property
    def producer_env(self) -> dict[str, str]:
        return {
            "PUBLISH_INTERVAL_SECONDS": str(self.publish_interval),
            "HEARTBEAT_MAX_AGE_SECONDS": str(self.heartbeat_max_age),
        }

    @property
    def consumer_env(self) -> dict[str, str]:
        return {
            "RECEIVE_WAIT_SECONDS": str(self.receive_wait),
            "HEARTBEAT_MAX_AGE_SECONDS": str(self.heartbeat_max_age),
        }

    @property
    def receive_call(self) -> float:
        return 2 + self.receive_wait + 4

    @property
    def start(self) -> float:
        """Python start-up plus imports before /health answers."""
        return self.slack

    @property
    def consume(self) -> float:
        """A delivered message is picked up by the next long poll and deleted in one call."""
        return self.receive_call + 7 + self.slack

    @property
    def readiness_change(self) -> float:
        """Readiness cache ttl plus one probe call."""
        return 2 + 1 + 1.5 + self.slack

    @property
    def resume(self) -> float:
        """After an outage: one backoff wait at most, then a publish and a long poll."""
        return 5 + 7 + self.receive_call + self.slack

    @property
    def producer_drain(self) -> float:
        """SIGTERM interrupts the interval or backoff wait; at most one publish in flight."""
        return 7 + self.slack

    @property
    def consumer_drain(self) -> float:
        """SIGTERM waits for the in-flight long poll, then handles and deletes its batch."""
        return self.receive_call + 7 + self.slack


@pytest.fixture(scope="session")
def timing() -> Timing:
    return Timing()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(probe: Callable[[], Any], accept: Callable[[Any], bool], timeout: float, interval: float = 0.2) -> Any:
    """Poll ``probe`` until ``accept(result)``; connection errors count as "not yet".

    Raises tenacity.RetryError after ``timeout``; callers derive ``timeout`` from the settings
    that bound the condition and say so where they call this.
    """
    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda result: not accept(result)) | retry_if_exception_type(requests.ConnectionError),
    )
    return retrying(probe)


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Any]:
    """``wait_for(probe, accept, timeout)``: tenacity polling, see ``_wait_for``."""
    return _wait_for


class Emulator:
    """moto_server on a fixed 127.0.0.1 port that tests may stop and start again."""

    def __init__(self, port: int, log_dir: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log_dir = log_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self._log_dir / f"moto-{self.starts}.log", "wb")  # noqa: SIM115 - owned by the process
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        sqs = self.client("sqs")
        Retrying(stop=stop_after_delay(EMULATOR_START_SECONDS), wait=wait_fixed(0.1), reraise=True)(sqs.list_queues)

    def stop(self) -> None:
        """Kill by PID (SIGKILL: an outage, not a shutdown) and reap it."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One moto_server for the session (tests use uniquely named resources)."""
    emulator = Emulator(free_port(), tmp_path_factory.mktemp("emulator"))
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def emulator(emulator_process: Emulator) -> Emulator:
    """The session emulator, restarted first if an earlier (failed) test left it down."""
    if not emulator_process.running:
        emulator_process.start()
    return emulator_process


@dataclass
class Wiring:
    """Topic -> queue (raw delivery) with a DLQ; names are unique per test."""

    emulator: Emulator
    topic_name: str
    queue_name: str
    dlq_name: str
    visibility_timeout: int = 30
    topic_arn: str = ""
    queue_url: str = ""
    dlq_url: str = ""

    def create(self) -> Wiring:
        """Idempotent, like the cluster's LocalStack init hook; call again after a restart."""
        sns, sqs = self.emulator.client("sns"), self.emulator.client("sqs")
        self.topic_arn = sns.create_topic(Name=self.topic_name)["TopicArn"]
        self.dlq_url = sqs.create_queue(QueueName=self.dlq_name)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])["Attributes"]
        redrive = {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": "3"}
        self.queue_url = sqs.create_queue(
            QueueName=self.queue_name,
            Attributes={"VisibilityTimeout": str(self.visibility_timeout), "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]
        sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
        )
        return self

    def delete(self) -> None:
        sns, sqs = self.emulator.client("sns"), self.emulator.client("sqs")
        for call in (
            lambda: sns.delete_topic(TopicArn=self.topic_arn),
            lambda: sqs.delete_queue(QueueUrl=self.queue_url),
            lambda: sqs.delete_queue(QueueUrl=self.dlq_url),
        ):
            # already gone after an emulator restart: cleanup is best effort
            with contextlib.suppress(ClientError, BotoCoreError):
                call()


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


@dataclass
class Service:
    """A running ``app.py``: its PID, health port and parsed JSON log events."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path
    env: dict[str, str] = field(repr=False)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)

    def status(self, path: str) -> int:
        return self.get(path).status_code

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        lines = self.stdout.read_text().splitlines()
        parsed = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in parsed if name is None or e.get("event") == name]

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.proc.pid, signum)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@pytest.fixture
def start_service(tmp_path: Path, emulator: Emulator) -> Iterator[Callable[..., Service]]:
    """Factory: ``start_service("producer", TOPIC_NAME=...)`` runs app.py as a real process.

    The environment is built from scratch (PATH, dummy credentials, AWS_ENDPOINT_URL and a
    free HEALTH_PORT) plus the overrides, so a developer's AWS settings cannot leak in.
    Teardown sends SIGTERM, then SIGKILL, to the PID it started.
    """
    started: list[Service] = []

    def start(name: str, **overrides: str) -> Service:
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": emulator.url,
            "HEALTH_PORT": str(port),
            "POD_NAME": f"{name}-{uuid.uuid4().hex[:6]}",
            **overrides,
        }
        index = len(started)
        stdout, stderr = tmp_path / f"{name}-{index}.out", tmp_path / f"{name}-{index}.err"
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            proc = subprocess.Popen([sys.executable, str(SERVICES / name / "app.py")], env=env, stdout=out, stderr=err)
        service = Service(name, proc, port, stdout, stderr, env)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.alive:
            service.proc.terminate()
            try:
                service.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.proc.kill()
                service.proc.wait(timeout=10)
