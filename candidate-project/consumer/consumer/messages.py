"""Turning an SQS message body into the producer's message, or saying why not.

Why two shapes: the lab subscribes the queue with RawMessageDelivery=true, so bodies are the
producer's JSON as-is; but a subscription created without it (a hand-made one, or real AWS
defaults) wraps the JSON in an SNS envelope. Accepting both keeps a subscription detail from
turning every message into poison.
"""

from __future__ import annotations

import json
from typing import Any

from shared.contract import MESSAGE_FIELDS


class PoisonMessage(ValueError):
    """The body is not a producer message; it stays on the queue for the DLQ redrive."""


def parse_body(raw: str) -> dict[str, Any]:
    doc = _load_json(raw, "body")
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
        inner = doc["Message"]
        if not isinstance(inner, str):
            raise PoisonMessage("SNS envelope Message is not a string")
        doc = _load_json(inner, "SNS envelope Message")
    if not isinstance(doc, dict):
        raise PoisonMessage(f"expected a JSON object, got {type(doc).__name__}")
    for name, types in MESSAGE_FIELDS.items():
        value = doc.get(name)
        if not isinstance(value, types) or isinstance(value, bool):
            raise PoisonMessage(f"field {name!r} missing or not {types[0].__name__}")
    return doc


def _load_json(raw: str, what: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PoisonMessage(f"{what} is not JSON: {exc.msg}") from None
