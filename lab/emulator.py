"""An AWS emulator process on 127.0.0.1 and the lab's resources in it, for the integration tier and the benchmark.

moto's server is used because it starts in a fraction of a second, delivers SNS to SQS like the real services and
installs from PyPI (LocalStack plays that role in the cluster; as a plain process it needs pinned extras and a
pre-built catalogue, see docs/services.md). It runs as its own process, so its CPU use is not hidden inside the test
or benchmark process, and it can be killed and started again on the same port to simulate an outage.

The resources are created the way the cluster's init hook creates them, with the names and numbers of the services'
contract (``shared.contract``); tests that need isolation pass their own names.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.exceptions import BotoCoreError

from lab.waiting import wait_for
from shared.contract import DLQ_NAME, MAX_RECEIVE_COUNT, QUEUE_NAME, TOPIC_NAME, VISIBILITY_TIMEOUT_SECONDS

REGION = "us-east-1"
# LocalStack's dummy key; moto accepts anything.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}
# moto's server answers in ~0.3 s; 20 s covers a loaded 2-core CI machine.
EMULATOR_START_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """moto_server on a fixed 127.0.0.1 port; ``stop`` is an outage (SIGKILL), ``start`` may follow on the same port."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_dir = log_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    def start(self, deadline: float = EMULATOR_START_SECONDS) -> Emulator:
        """Start the process and return once it answers SQS calls (bounded by ``deadline``)."""
        self.starts += 1
        self._log = (self._log_dir / f"moto-{self.starts}.log").open("wb")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        sqs = self.client("sqs")
        # Connection errors mean "not listening yet"; a process that exited ends the wait at once.
        wait_for(lambda: self._answers(sqs), deadline, 0.05, "the moto server answering SQS", (BotoCoreError,))
        return self

    def _answers(self, sqs: Any) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {self._proc.returncode}; see {self._log_dir}")
        sqs.list_queues()
        return True

    def stop(self) -> None:
        """Kill by PID (an outage, not a shutdown) and reap it."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def env(self) -> dict[str, str]:
        """Environment for a service process that should talk to this emulator."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.url}


@dataclass(frozen=True)
class Resources:
    topic_arn: str
    queue_url: str
    dlq_url: str


def create_resources(
    sns: Any,
    sqs: Any,
    topic: str = TOPIC_NAME,
    queue: str = QUEUE_NAME,
    dlq: str = DLQ_NAME,
    visibility_timeout: int = VISIBILITY_TIMEOUT_SECONDS,
) -> Resources:
    """Topic → queue (raw delivery) with a DLQ after ``MAX_RECEIVE_COUNT`` receives, like the init hook; idempotent.

    Works on any boto3 clients: a moto server's, or moto's in-process ``mock_aws`` in the unit tier.
    """
    topic_arn = sns.create_topic(Name=topic)["TopicArn"]
    dlq_url = sqs.create_queue(QueueName=dlq)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)})
    queue_url = sqs.create_queue(
        QueueName=queue, Attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": redrive}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return Resources(str(topic_arn), str(queue_url), str(dlq_url))
