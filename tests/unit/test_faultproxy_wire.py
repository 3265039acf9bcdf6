"""faultproxy's protocol handling against the requests boto3 really sends and the answers botocore really parses.

No network: botocore's ``before-send`` event hands us the prepared request (so the parser is tested on the exact bytes
of the services' pinned botocore, not on hand-written samples) and lets us answer it with the proxy's reply. Each
check is a function returning problems and is also run on a deliberately wrong case to show it can fail.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from faultproxy.protocol import (
    JSON,
    QUERY,
    Operation,
    Reply,
    error_reply,
    parse_operation,
    server_error_reply,
    throttle_reply,
)

QUEUE_URL = "http://127.0.0.1:4566/000000000000/q"
SIGNED_SQS = "AWS4-HMAC-SHA256 Credential=test/20261130/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"
TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:t"
CALLS = {
    "sns:Publish": ("sns", "publish", {"TopicArn": TOPIC_ARN, "Message": "m"}),
    "sns:GetTopicAttributes": ("sns", "get_topic_attributes", {"TopicArn": TOPIC_ARN}),
    "sqs:DeleteMessageBatch": (
        "sqs",
        "delete_message_batch",
        {"QueueUrl": QUEUE_URL, "Entries": [{"Id": "0", "ReceiptHandle": "r"}]},
    ),
    "sqs:ReceiveMessage": ("sqs", "receive_message", {"QueueUrl": QUEUE_URL, "WaitTimeSeconds": 1}),
}


class _Raw:
    """The urllib3-like body botocore's AWSResponse reads."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_: Any, **__: Any):
        yield self._body


def text(value: str | bytes) -> str:
    """botocore keeps some header values as bytes."""
    return value.decode() if isinstance(value, bytes) else value


def client(service: str) -> Any:
    return boto3.session.Session().client(
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:4566",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def exchange(key: str, reply: Reply | None = None) -> tuple[Any, Operation | None, Any]:
    """Run one boto3 call; return the request botocore sent, what the proxy parses from it, and the call's outcome."""
    service, method, kwargs = CALLS[key]
    aws = client(service)
    seen: dict[str, Any] = {}

    def answer(request: Any, **_: Any) -> AWSResponse:
        seen["request"] = request
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        headers = {name.lower(): text(value) for name, value in request.headers.items()}
        seen["operation"] = parse_operation(request.method, request.url.split("4566", 1)[1] or "/", headers, body)
        wire = reply or Reply(400, {}, b"")  # outcome irrelevant when only the request is looked at
        return AWSResponse(request.url, wire.status, wire.headers, _Raw(wire.body))

    aws.meta.events.register("before-send", answer)
    try:
        outcome: Any = getattr(aws, method)(**kwargs)
    except (ClientError, ResponseParserError) as exc:  # both are outcomes the checks look at
        outcome = exc
    return seen["request"], seen["operation"], outcome


@pytest.mark.parametrize(
    ("key", "protocol"),
    [
        ("sns:Publish", QUERY),
        ("sns:GetTopicAttributes", QUERY),
        ("sqs:DeleteMessageBatch", JSON),
        ("sqs:ReceiveMessage", JSON),
    ],
)
def test_operation_is_parsed_from_what_boto3_sends(key, protocol):
    """botocore 1.44.8 sends SNS as query (Action=) and SQS as JSON (X-Amz-Target): both are recognised."""
    _, operation, _ = exchange(key)
    assert operation is not None
    assert (operation.key, operation.protocol) == (key, protocol)


def test_sqs_really_uses_the_json_protocol():
    """SNS and SQS differ in botocore 1.44.8: SQS's pinned model is awsJson1_0 (a header and a JSON body)."""
    sqs_request, _, _ = exchange("sqs:DeleteMessageBatch")
    sns_request, _, _ = exchange("sns:Publish")
    assert text(sqs_request.headers["Content-Type"]) == "application/x-amz-json-1.0"
    assert text(sqs_request.headers["X-Amz-Target"]) == "AmazonSQS.DeleteMessageBatch"
    assert "X-Amz-Target" not in sns_request.headers


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "expected"),
    [
        (
            "POST",
            "/000000000000/q",
            {"content-type": "application/x-www-form-urlencoded"},
            b"Action=SendMessage",
            "sqs:SendMessage",
        ),
        ("GET", "/queue/us-east-1/000000000000/q?Action=ReceiveMessage", {}, b"", "sqs:ReceiveMessage"),
        ("GET", "/?Action=ListTopics", {}, b"", "sns:ListTopics"),
        (
            "POST",
            "/",
            {"content-type": "application/x-www-form-urlencoded", "authorization": SIGNED_SQS},
            b"Action=ListQueues",
            "sqs:ListQueues",
        ),
        ("POST", "/", {"x-amz-target": "AmazonSQS.ListQueues"}, b"{}", "sqs:ListQueues"),
        ("POST", "/", {"x-amz-target": "DynamoDB_20120810.PutItem"}, b"{}", None),  # not SNS/SQS: passed through
        ("GET", "/_localstack/health", {}, b"", None),  # not an API call
        ("POST", "/", {"content-type": "application/json"}, b"Action=Publish", None),  # a form body only counts as form
    ],
    ids=[
        "query-sqs-by-path",
        "query-localstack-path",
        "query-in-url",
        "query-sqs-by-scope",
        "json-target",
        "other-service",
        "no-action",
        "not-a-form",
    ],
)
def test_parser_edge_cases(method, path, headers, body, expected):
    operation = parse_operation(method, path, headers, body)
    assert (operation.key if operation else None) == expected


def wire_problems(key: str, reply: Reply, status: int, code: str) -> list[str]:
    """What botocore makes of ``reply`` differs from an AWS error with ``status`` and ``code``."""
    _, _, outcome = exchange(key, reply)
    if not isinstance(outcome, ClientError):
        what = f"raised {type(outcome).__name__}" if isinstance(outcome, Exception) else f"returned {outcome!r}"
        return [f"botocore {what} instead of ClientError"]
    got_status = outcome.response["ResponseMetadata"]["HTTPStatusCode"]
    got_code = outcome.response["Error"]["Code"]
    problems = [f"HTTP {got_status}, expected {status}"] if got_status != status else []
    return problems + ([f"code {got_code!r}, expected {code!r}"] if got_code != code else [])


@pytest.mark.parametrize(
    ("key", "code"), [("sns:Publish", "Throttling"), ("sqs:DeleteMessageBatch", "ThrottlingException")]
)
def test_throttle_reply_is_what_botocore_calls_throttling(key, code):
    operation = Operation(*key.split(":"), QUERY if key.startswith("sns") else JSON)
    assert wire_problems(key, throttle_reply(operation), 400, code) == []
    # botocore's own standard retry mode classifies the parsed code as throttling.
    context = RetryContext(attempt_number=1, parsed_response={"Error": {"Code": code}})
    assert ThrottledRetryableChecker().is_retryable(context)


@pytest.mark.parametrize("key", ["sns:Publish", "sqs:DeleteMessageBatch"])
def test_server_error_reply_is_http_500(key):
    operation = Operation(*key.split(":"), QUERY if key.startswith("sns") else JSON)
    assert wire_problems(key, server_error_reply(operation), 500, "InternalFailure") == []


def test_wire_check_flags_a_reply_in_the_wrong_protocol():
    """A JSON-shaped error sent to the query-protocol SNS client is not an AWS error to botocore: the check notices."""
    wrong = error_reply(Operation("sqs", "Publish", JSON), 400, "Throttling", "x", True)
    assert wire_problems("sns:Publish", wrong, 400, "Throttling") == [
        "botocore raised ResponseParserError instead of ClientError"
    ]


def test_wire_check_flags_a_wrong_code_and_status():
    wrong = error_reply(Operation("sns", "Publish", QUERY), 500, "InternalFailure", "x", False)
    assert wire_problems("sns:Publish", wrong, 400, "Throttling") == [
        "HTTP 500, expected 400",
        "code 'InternalFailure', expected 'Throttling'",
    ]


def test_wire_check_flags_a_success():
    ok = Reply(200, {}, b"<PublishResponse><PublishResult><MessageId>1</MessageId></PublishResult></PublishResponse>")
    assert wire_problems("sns:Publish", ok, 400, "Throttling") != []


def test_throttling_checker_rejects_a_non_throttling_code():
    context = RetryContext(attempt_number=1, parsed_response={"Error": {"Code": "InvalidParameter"}})
    assert not ThrottledRetryableChecker().is_retryable(context)
