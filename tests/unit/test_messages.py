"""Body parsing: raw producer JSON and SNS envelopes are messages; anything else is poison."""

from __future__ import annotations

import json

import pytest

from consumer.messages import PoisonMessage, parse_body

GOOD = {"id": "a", "seq": 1, "ts": 1.5, "producer": "p"}


def test_raw_body():
    assert parse_body(json.dumps(GOOD)) == GOOD


def test_sns_envelope():
    envelope = {"Type": "Notification", "Message": json.dumps(GOOD), "TopicArn": "arn:x"}
    assert parse_body(json.dumps(envelope)) == GOOD


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[1, 2]",
        json.dumps({**GOOD, "seq": "1"}),
        json.dumps({**GOOD, "seq": True}),
        json.dumps({k: v for k, v in GOOD.items() if k != "id"}),
        json.dumps({"Type": "Notification", "Message": "not json"}),
        json.dumps({"Type": "Notification", "Message": {"id": "a"}}),
    ],
)
def test_poison(raw):
    with pytest.raises(PoisonMessage):
        parse_body(raw)
