"""Which AWS operation a request is, and the wire shape of the errors the proxy answers with.

Why both protocols: botocore sends SNS in the query protocol (a form body ``Action=Publish&...``) and SQS in the
JSON protocol (``X-Amz-Target: AmazonSQS.DeleteMessageBatch``, body ``application/x-amz-json-1.0``); older SDKs and
the AWS CLI v1 may still send SQS as query. The service of a query request is read from the SigV4 credential scope
(``Credential=KEY/DATE/REGION/sns/aws4_request``), because SNS and SQS share one endpoint on the emulator.
Error bodies follow each protocol's error shape, so botocore raises ``ClientError`` with the injected code.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

QUERY = "query"
JSON = "json"
# JSON-protocol target prefixes of the services the lab uses.
JSON_TARGET_PREFIXES = {"AmazonSQS": "sqs"}
# The XML namespace a query-protocol error carries, per service (as AWS answers).
QUERY_NAMESPACES = {
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
}
SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([a-z0-9-]+)/aws4_request")
FORM = "application/x-www-form-urlencoded"

# Error codes per protocol: botocore's standard retry mode knows both as throttling.
THROTTLE_CODES = {QUERY: "Throttling", JSON: "ThrottlingException"}
SERVER_ERROR_CODE = "InternalFailure"


@dataclass(frozen=True)
class Operation:
    """One request's AWS operation, e.g. ``Operation("sqs", "DeleteMessageBatch", "json")``."""

    service: str
    name: str
    protocol: str

    @property
    def key(self) -> str:
        """IAM-style name the control API uses: ``sns:Publish``."""
        return f"{self.service}:{self.name}"


def parse_operation(method: str, path: str, headers: dict[str, str], body: bytes) -> Operation | None:
    """The operation of a request, or None when it is not an SNS/SQS API call (passed through untouched).

    ``headers`` must have lower-case names.
    """
    target = headers.get("x-amz-target", "")
    if target:
        prefix, _, name = target.partition(".")
        service = JSON_TARGET_PREFIXES.get(prefix)
        return Operation(service, name, JSON) if service and name else None
    params = parse_qs(urlsplit(path).query)
    if method == "POST" and headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
        params.update(parse_qs(body.decode("utf-8", errors="replace")))
    action = (params.get("Action") or [""])[0]
    if not action:
        return None
    match = SCOPE.search(headers.get("authorization", ""))
    service = match.group(1) if match else _service_from_path(path)
    return Operation(service, action, QUERY) if service in QUERY_NAMESPACES else None


def _service_from_path(path: str) -> str:
    """Unsigned query calls: a queue URL path means SQS, anything else SNS.

    Queue URL paths: ``/000000000000/name`` (AWS, moto) or ``/queue/us-east-1/000000000000/name`` (LocalStack's
    ``SQS_ENDPOINT_STRATEGY=path``, the lab's setting).
    """
    return "sqs" if re.match(r"^/(queue/[^/]+/)?\d{12}/", urlsplit(path).path) else "sns"


@dataclass(frozen=True)
class Reply:
    """A complete HTTP answer the proxy sends instead of forwarding."""

    status: int
    headers: dict[str, str]
    body: bytes


def error_reply(operation: Operation, status: int, code: str, message: str, sender_fault: bool) -> Reply:
    """An AWS error in the operation's protocol, as the real service would send it."""
    request_id = str(uuid.uuid4())
    if operation.protocol == JSON:
        body = json.dumps({"__type": f"com.amazonaws.{operation.service}#{code}", "message": message}).encode()
        content_type = "application/x-amz-json-1.0"
    else:
        kind = "Sender" if sender_fault else "Receiver"
        body = (
            f'<?xml version="1.0"?><ErrorResponse xmlns="{QUERY_NAMESPACES[operation.service]}">'
            f"<Error><Type>{kind}</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    headers = {"Content-Type": content_type, "x-amzn-RequestId": request_id}
    return Reply(status, headers, body)


def throttle_reply(operation: Operation) -> Reply:
    return error_reply(operation, 400, THROTTLE_CODES[operation.protocol], "Rate exceeded (faultproxy)", True)


def server_error_reply(operation: Operation) -> Reply:
    return error_reply(operation, 500, SERVER_ERROR_CODE, "Internal failure (faultproxy)", False)
