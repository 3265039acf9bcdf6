"""An AWS emulator process on 127.0.0.1 with the lab's topic, queue, DLQ and subscription.

moto's server is used because it starts in a fraction of a second, delivers SNS to SQS and installs from PyPI;
it runs as its own process so its CPU use is not hidden inside the benchmark's process (2 cores are shared).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

TOPIC, QUEUE, DLQ = "lab-messages", "lab-messages-queue", "lab-messages-dlq"
# Same values the manifests' init hook uses (PLAN.md): redrive after 3 receives, 30 s visibility.
MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT = 3, 30
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Emulator:
    """A running moto server; ``stop`` ends exactly the process ``start`` created."""

    process: subprocess.Popen
    endpoint: str
    log: Path

    @classmethod
    def start(cls, workdir: Path, startup_deadline: float = 30.0) -> Emulator:
        port = free_port()
        log = workdir / "moto.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **CREDENTIALS},
            )
        emulator = cls(process, f"http://127.0.0.1:{port}", log)

        @retry(
            stop=stop_after_delay(startup_deadline),
            wait=wait_fixed(0.05),
            reraise=True,
            retry=retry_if_exception_type(requests.RequestException),
        )
        def answer() -> None:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited with {process.returncode}; see {log}")
            requests.get(f"{emulator.endpoint}/moto-api/", timeout=1).raise_for_status()

        answer()
        return emulator

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def env(self) -> dict[str, str]:
        """Environment for a service process that should talk to this emulator."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def create_resources(self) -> tuple[str, str]:
        """Create (idempotently) the lab's resources like the init hook does; return (topic ARN, queue URL)."""
        sns, sqs = self.client("sns"), self.client("sqs")
        topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
        dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)})
        queue_url = sqs.create_queue(
            QueueName=QUEUE, Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT), "RedrivePolicy": redrive}
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        return topic_arn, queue_url

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
