"""Create the lab's SNS topic, SQS queue, dead-letter queue, subscription and queue policy on real AWS; idempotent.

On EKS there is no LocalStack and so no init hook (candidate-project/kubernetes/localstack.yaml): this script does
the hook's job once, from a user's shell. It makes the same calls in the same order with the same attributes, and
takes every name and number from the services' contract (candidate-project/shared/contract.py), so
tests/manifests/test_eks_resources.py can run both against one emulator and compare what they made. Every call
returns or overwrites what is already there: running it again changes nothing.

It needs only botocore, the services' own pinned library (candidate-project/producer/requirements.txt), and
credentials of someone allowed to create SNS topics and SQS queues. It also writes the IAM policy the services'
role needs (least privilege, with the ARNs it just created), because those ARNs exist only after this ran:

    python3 deploy/eks/aws_resources.py --region eu-west-1 --policy-file resiliency-lab-policy.json
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import botocore.session

# The contract lives in candidate-project/shared; run as a script from a checkout, it is not on sys.path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "candidate-project"))
from shared import contract  # noqa: E402

# The queue policy's statement id, as the init hook names it.
POLICY_SID = "AllowLabTopic"
# What the services call (producer: CreateTopic to resolve the ARN, Publish, GetTopicAttributes for /ready;
# consumer: GetQueueUrl, ReceiveMessage, DeleteMessageBatch which IAM authorises as sqs:DeleteMessage).
PRODUCER_ACTIONS = ("sns:CreateTopic", "sns:Publish", "sns:GetTopicAttributes")
CONSUMER_ACTIONS = ("sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage")


@dataclass(frozen=True)
class Created:
    topic_arn: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    subscription_arn: str


def queue_policy(queue_arn: str, topic_arn: str) -> str:
    """Lets the topic, and only it, deliver into the queue (real AWS enforces it; LocalStack and moto do not)."""
    statement = {
        "Sid": POLICY_SID,
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, separators=(",", ":"))


def _queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def create(sns: Any, sqs: Any) -> Created:
    """Topic -> queue (raw delivery), DLQ after ``MAX_RECEIVE_COUNT`` receives; any botocore/boto3 clients.

    Queues are created without attributes and configured afterwards, as the hook does: CreateQueue with attributes
    that differ from an existing queue's fails (QueueAlreadyExists), SetQueueAttributes simply overwrites.
    """
    topic_arn = str(sns.create_topic(Name=contract.TOPIC_NAME)["TopicArn"])
    dlq_url = str(sqs.create_queue(QueueName=contract.DLQ_NAME)["QueueUrl"])
    dlq_arn = _queue_arn(sqs, dlq_url)
    sqs.set_queue_attributes(
        QueueUrl=dlq_url, Attributes={"MessageRetentionPeriod": str(contract.DLQ_RETENTION_SECONDS)}
    )
    queue_url = str(sqs.create_queue(QueueName=contract.QUEUE_NAME)["QueueUrl"])
    queue_arn = _queue_arn(sqs, queue_url)
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(contract.MAX_RECEIVE_COUNT)}
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "VisibilityTimeout": str(contract.VISIBILITY_TIMEOUT_SECONDS),
            "RedrivePolicy": json.dumps(redrive, separators=(",", ":")),
            "Policy": queue_policy(queue_arn, topic_arn),
        },
    )
    subscription = sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )
    return Created(topic_arn, queue_url, queue_arn, dlq_url, dlq_arn, str(subscription["SubscriptionArn"]))


def iam_policy(created: Created) -> dict[str, Any]:
    """The identity policy for the services' IAM role: their calls on these resources and nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Producer", "Effect": "Allow", "Action": list(PRODUCER_ACTIONS), "Resource": created.topic_arn},
            {"Sid": "Consumer", "Effect": "Allow", "Action": list(CONSUMER_ACTIONS), "Resource": created.queue_arn},
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", required=True, help="the AWS region of the EKS cluster, e.g. eu-west-1")
    parser.add_argument("--policy-file", type=Path, help="write the services' IAM policy document here")
    args = parser.parse_args(argv)
    session = botocore.session.get_session()
    sns = session.create_client("sns", region_name=args.region)
    sqs = session.create_client("sqs", region_name=args.region)
    created = create(sns, sqs)
    if args.policy_file:
        args.policy_file.write_text(json.dumps(iam_policy(created), indent=2) + "\n")
    # The endpoint is printed so that a stray AWS_ENDPOINT_URL (LocalStack's) cannot go unnoticed.
    print(json.dumps({"endpoint": sqs.meta.endpoint_url, **asdict(created)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
