"""faultproxy's fault table, rate handling, settings, and how the services' own retry code treats its faults."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from tenacity import RetryCallState

from faultproxy.config import ConfigError, load
from faultproxy.faults import FaultError, FaultTable, parse_fault
from faultproxy.protocol import JSON, QUERY, Operation, throttle_reply
from shared.aws import TRANSIENT, retry_call
from shared.policy import RetryPolicy

REPO = Path(__file__).resolve().parents[2]


def pattern(table: FaultTable, operation: str, n: int) -> list[bool]:
    return [table.decide(operation) is not None for _ in range(n)]


def test_same_seed_gives_the_same_hits():
    first, second = FaultTable(0), FaultTable(0)
    for table in (first, second):
        table.set({"operation": "sns:Publish", "kind": "throttle", "rate": 0.5, "seed": 7})
    assert pattern(first, "sns:Publish", 50) == pattern(second, "sns:Publish", 50)


def test_a_different_seed_gives_different_hits():
    """The bad case for the determinism check: were the seed ignored, these would be equal."""
    first, second = FaultTable(0), FaultTable(0)
    first.set({"operation": "sns:Publish", "kind": "throttle", "rate": 0.5, "seed": 7})
    second.set({"operation": "sns:Publish", "kind": "throttle", "rate": 0.5, "seed": 8})
    assert pattern(first, "sns:Publish", 50) != pattern(second, "sns:Publish", 50)


def test_other_operations_do_not_shift_a_faults_draws():
    """One generator per fault: traffic on other operations leaves a fault's sequence unchanged."""
    quiet, busy = FaultTable(0), FaultTable(0)
    for table in (quiet, busy):
        table.set({"operation": "sns:Publish", "kind": "throttle", "rate": 0.5, "seed": 3})
        table.set({"operation": "sqs:ReceiveMessage", "kind": "error500", "rate": 0.5, "seed": 4})
    hits = []
    for _ in range(40):
        busy.decide("sqs:ReceiveMessage")
        hits.append(busy.decide("sns:Publish") is not None)
    assert hits == pattern(quiet, "sns:Publish", 40)


def test_rate_is_honoured_and_counted():
    table = FaultTable(0)
    table.set({"operation": "sns:Publish", "kind": "throttle", "rate": 0.3, "seed": 11})
    hits = sum(pattern(table, "sns:Publish", 2000))
    # Binomial(2000, 0.3): mean 600, sd 20.5; +-5 sd, and the seed makes it the same number every run.
    assert 497 < hits < 703
    (fault,) = table.snapshot()
    assert (fault["matched"], fault["injected"]) == (2000, hits)


def test_rate_one_always_and_unmatched_never():
    table = FaultTable(0)
    table.set({"operation": "sns:Publish", "kind": "error500"})
    assert pattern(table, "sns:Publish", 20) == [True] * 20
    assert pattern(table, "sns:GetTopicAttributes", 20) == [False] * 20


def test_partial_picks_entries_and_counts_them():
    table = FaultTable(0)
    table.set({"operation": "sqs:DeleteMessageBatch", "kind": "partial", "rate": 0.5, "seed": 5})
    assert table.decide("sqs:DeleteMessageBatch") == "partial"
    chosen = table.pick("sqs:DeleteMessageBatch", 10)
    assert 0 < sum(chosen) < 10
    assert table.snapshot()[0]["injected"] == sum(chosen)


def test_clear_removes_and_returns_what_was_active():
    table = FaultTable(0)
    table.set({"operation": "sns:Publish", "kind": "throttle"})
    table.set({"operation": "sqs:DeleteMessageBatch", "kind": "error500"})
    assert [f["operation"] for f in table.clear("sns:Publish")] == ["sns:Publish"]
    assert [f["operation"] for f in table.snapshot()] == ["sqs:DeleteMessageBatch"]
    assert len(table.clear()) == 1
    assert table.snapshot() == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ([], "JSON object"),
        ({"operation": "Publish", "kind": "throttle"}, "operation"),
        ({"operation": "sns:Publish", "kind": "slow"}, "kind"),
        ({"operation": "sns:Publish", "kind": "partial"}, "partial applies"),
        ({"operation": "sns:Publish", "kind": "throttle", "rate": 0}, "rate"),
        ({"operation": "sns:Publish", "kind": "throttle", "rate": 1.5}, "rate"),
        ({"operation": "sns:Publish", "kind": "throttle", "rate": True}, "rate"),
        ({"operation": "sns:Publish", "kind": "throttle", "seed": "x"}, "seed"),
        ({"operation": "sns:Publish", "kind": "throttle", "extra": 1}, "unknown field"),
    ],
)
def test_bad_fault_descriptions_are_refused(spec, expected):
    with pytest.raises(FaultError, match=expected):
        parse_fault(spec, 0)


def test_config_defaults_and_overrides():
    config = load({"UPSTREAM_URL": "http://localstack:4566", "FAULT_SEED": "9", "UPSTREAM_TIMEOUT_SECONDS": "45"})
    assert (config.upstream_host, config.upstream_port, config.listen_port, config.control_port) == (
        "localstack",
        4566,
        4566,
        8080,
    )
    assert (config.seed, config.upstream_timeout) == (9, 45.0)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({}, "UPSTREAM_URL"),
        ({"UPSTREAM_URL": "https://x:1"}, "UPSTREAM_URL"),
        ({"UPSTREAM_URL": "http://x:1/path"}, "UPSTREAM_URL"),
        ({"UPSTREAM_URL": "http://x:99999"}, "UPSTREAM_URL"),
        ({"UPSTREAM_URL": "http://x:1", "LISTEN_PORT": "0"}, "LISTEN_PORT"),
        ({"UPSTREAM_URL": "http://x:1", "CONTROL_PORT": "4566"}, "CONTROL_PORT"),
        ({"UPSTREAM_URL": "http://x:1", "UPSTREAM_TIMEOUT_SECONDS": "soon"}, "UPSTREAM_TIMEOUT_SECONDS"),
        ({"UPSTREAM_URL": "http://x:1", "FAULT_SEED": "1.5"}, "FAULT_SEED"),
    ],
)
def test_bad_settings_name_the_variable(env, name):
    with pytest.raises(ConfigError, match=name):
        load(env)


def test_bad_setting_exits_2_with_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "faultproxy"],
        cwd=REPO,
        env={"UPSTREAM_URL": "ftp://nowhere"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("faultproxy: error: UPSTREAM_URL")


def _client_error(operation: Operation) -> ClientError:
    """The ClientError botocore raises for the proxy's throttle reply (shape checked in test_faultproxy_wire.py)."""
    code = "Throttling" if operation.protocol == QUERY else "ThrottlingException"
    assert code.encode() in throttle_reply(operation).body
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation.name)


@pytest.mark.parametrize(
    "operation", [Operation("sns", "Publish", QUERY), Operation("sqs", "DeleteMessageBatch", JSON)]
)
def test_services_retry_throttling_as_transient(operation):
    """The services' own retry loop (producer/aws.py, identical in the consumer) retries the injected throttling."""
    errors = [_client_error(operation), _client_error(operation)]
    retries: list[RetryCallState] = []

    def call() -> str:
        if errors:
            raise errors.pop()
        return "ok"

    result = retry_call(call, policy=RetryPolicy(0.001, 0.001), stop=threading.Event(), before_sleep=retries.append)
    assert result == "ok"
    assert len(retries) == 2
    assert isinstance(_client_error(operation), TRANSIENT)


def test_services_do_not_retry_what_is_not_transient():
    """The bad case: an error outside TRANSIENT is raised at once, so the check above can fail."""
    with pytest.raises(KeyError):
        retry_call(lambda: {}["x"], policy=RetryPolicy(0.001, 0.001), stop=threading.Event(), before_sleep=print)
