"""The integration tier's AWS resources: a topic, a queue and its DLQ per test, uniquely named.

The emulator process and the service processes are the lab's (lab/emulator.py, lab/processes.py), shared with the
benchmark; only the per-test resource wiring lives here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from lab.emulator import Emulator, create_resources
from shared.contract import VISIBILITY_TIMEOUT_SECONDS


@dataclass
class Wiring:
    """Topic -> queue (raw delivery) with a DLQ, as the cluster's init hook makes them; names are unique per test."""

    emulator: Emulator
    topic_name: str
    queue_name: str
    dlq_name: str
    visibility_timeout: int = VISIBILITY_TIMEOUT_SECONDS
    topic_arn: str = ""
    queue_url: str = ""
    dlq_url: str = ""

    def create(self) -> Wiring:
        """Idempotent, like the cluster's LocalStack init hook; call again after a restart."""
        made = create_resources(
            self.emulator.client("sns"),
            self.emulator.client("sqs"),
            self.topic_name,
            self.queue_name,
            self.dlq_name,
            self.visibility_timeout,
        )
        self.topic_arn, self.queue_url, self.dlq_url = made.topic_arn, made.queue_url, made.dlq_url
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
