"""Building blocks of the integration tier: the emulator process, AWS resources, service
processes, and the deadlines derived from the settings the tier runs the services with.

Kept out of conftest.py so each file stays small; conftest.py turns these into fixtures.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.exceptions import BotoCoreError, ClientError
from tenacity import Retrying, retry_if_exception_type, retry_if_result, stop_after_delay, wait_fixed

SERVICES = Path(__file__).resolve().parents[2] / "candidate-project"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
# moto's server is up in ~0.3 s; 20 s covers a loaded 2-core CI machine.
EMULATOR_START_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(probe: Callable[[], Any], accept: Callable[[Any], bool], timeout: float, interval: float = 0.2) -> Any:
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
