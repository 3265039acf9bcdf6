"""boto3 against the LocalStack of one namespace, through ``kubectl port-forward`` on the loopback interface.

Why port-forward and not a NodePort: it needs nothing from the manifests, works on every provider, and binds only
127.0.0.1 on the test host (kubectl's default ``--address localhost``), so the emulator is never exposed further.
pytest-kubernetes' `PortForwarding` starts it and waits for kubectl's "Forwarding from" line.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from lab.deploy import Lab
from shared import contract

# The names the services and the init hook use (candidate-project/shared/contract.py).
TOPIC, QUEUE, DLQ = contract.TOPIC_NAME, contract.QUEUE_NAME, contract.DLQ_NAME
REGION = "us-east-1"
LOCALSTACK_PORT = 4566


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Aws:
    """SNS and SQS clients pointed at the forwarded LocalStack port."""

    sns: Any
    sqs: Any

    def topic_arn(self, name: str = TOPIC) -> str | None:
        for page in self.sns.get_paginator("list_topics").paginate():
            for topic in page["Topics"]:
                if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                    return str(topic["TopicArn"])
        return None

    def queue_url(self, name: str) -> str:
        return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def queue_attributes(self, name: str) -> dict[str, str]:
        return self.sqs.get_queue_attributes(QueueUrl=self.queue_url(name), AttributeNames=["All"])["Attributes"]

    def subscriptions(self, topic_arn: str) -> list[dict]:
        subs = self.sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        for sub in subs:
            sub["Attributes"] = self.sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])[
                "Attributes"
            ]
        return subs

    def in_flight(self, name: str = QUEUE) -> int:
        """Visible + not-visible messages: 0 means the consumer has received and deleted everything."""
        attrs = self.queue_attributes(name)
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def publish_marker(self, topic_arn: str) -> str:
        """Publish one well-formed lab message whose id is a unique marker; return the marker."""
        marker = f"e2e-{uuid.uuid4()}"
        body = contract.message(marker, 1, time.time(), "e2e-test")
        self.sns.publish(TopicArn=topic_arn, Message=json.dumps(body))
        return marker


@contextmanager
def localstack(lab: Lab, timeout: int = 60) -> Iterator[Aws]:
    """Forward a free 127.0.0.1 port to ``svc/localstack:4566`` of the lab's namespace for the duration."""
    from pytest_kubernetes.portforwarding import PortForwarding

    port = free_loopback_port()
    manager = lab.kube.manager
    forward = PortForwarding(
        "svc/localstack", (port, LOCALSTACK_PORT), lab.namespace, manager.kubeconfig, manager.context, timeout
    )
    with forward:
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
        url = f"http://127.0.0.1:{port}"
        yield Aws(session.client("sns", endpoint_url=url), session.client("sqs", endpoint_url=url))
