"""deploy/eks/aws_resources.py makes on AWS exactly what the LocalStack init hook makes in the cluster; idempotent.

Both run against the same emulator (moto's server on 127.0.0.1, the init hook's test fixtures): the hook on a fresh
emulator, then the script on a fresh one, then the script again. The snapshots (topics, queues with every
attribute, subscriptions) must be equal: same names, redrive, visibility, retention, queue policy and raw delivery.
The hook's own test already compares its result with the services' contract, so the script agrees with the contract
too; the attributes are asserted here as well, from the contract, so a failure says which one drifted. The script
is run as a user runs it (a subprocess with --region), aimed at the emulator only through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests

from lab.eks import RENDER_ARGS, read_params
from shared import contract
from tests.manifests.test_init_hook import (  # noqa: F401 (fixtures used by name)
    REGION,
    _snapshot,
    hook_runner,
    moto_endpoint,
)

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "eks" / "aws_resources.py"
# Python start-up plus ~9 botocore calls; generous for a loaded 2-core machine (it fails a hung call, nothing more).
SCRIPT_TIMEOUT_SECONDS = 120


def reset(endpoint: str) -> None:
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()


def run_script(endpoint: str, *args: str) -> dict:
    env = {
        "PATH": os.environ["PATH"],
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--region", REGION, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def states(hook_runner, moto_endpoint, tmp_path_factory):  # noqa: F811
    """(hook's snapshot, script's first snapshot, script's second snapshot, script's outputs, policy file)."""
    reset(moto_endpoint)
    hooked = hook_runner()
    assert hooked.returncode == 0, hooked.stdout + hooked.stderr
    by_hook = _snapshot(moto_endpoint)
    reset(moto_endpoint)
    policy_file = tmp_path_factory.mktemp("eks") / "policy.json"
    first = run_script(moto_endpoint, "--policy-file", str(policy_file))
    once = _snapshot(moto_endpoint)
    second = run_script(moto_endpoint)
    return by_hook, once, _snapshot(moto_endpoint), (first, second), policy_file


@pytest.mark.slow
def test_script_makes_what_the_hook_makes(states):
    by_hook, by_script, *_ = states
    assert by_script == by_hook


@pytest.mark.slow
def test_script_is_idempotent(states):
    _, once, twice, (first, second), _ = states
    assert twice == once
    assert second == first, "a second run must find the same topic, queues and subscription"


@pytest.mark.slow
def test_script_sets_the_contract_attributes(states, moto_endpoint):  # noqa: F811
    _, state, _, (out, _), _ = states
    assert out["endpoint"].startswith(moto_endpoint), "the script prints the endpoint it used"
    assert [arn.rsplit(":", 1)[-1] for arn in state["topics"]] == [contract.TOPIC_NAME]
    queue, dlq = state["attributes"][contract.QUEUE_NAME], state["attributes"][contract.DLQ_NAME]
    assert queue["VisibilityTimeout"] == str(contract.VISIBILITY_TIMEOUT_SECONDS)
    redrive = json.loads(queue["RedrivePolicy"])  # moto stores the count as a number, AWS as given
    assert (redrive["deadLetterTargetArn"], int(redrive["maxReceiveCount"])) == (
        dlq["QueueArn"],
        contract.MAX_RECEIVE_COUNT,
    )
    (statement,) = json.loads(queue["Policy"])["Statement"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": out["topic_arn"]}}
    assert (statement["Principal"], statement["Action"], statement["Resource"]) == (
        {"Service": "sns.amazonaws.com"},
        "sqs:SendMessage",
        queue["QueueArn"],
    )
    assert dlq["MessageRetentionPeriod"] == str(contract.DLQ_RETENTION_SECONDS)
    assert state["subscriptions"] == [("sqs", queue["QueueArn"], "true")]


@pytest.mark.slow
def test_policy_file_grants_the_services_calls_on_these_resources_only(states):
    _, _, _, (out, _), policy_file = states
    statements = {s["Sid"]: s for s in json.loads(policy_file.read_text())["Statement"]}
    assert statements["Producer"]["Resource"] == out["topic_arn"]
    assert statements["Consumer"]["Resource"] == out["queue_arn"]
    assert all(s["Effect"] == "Allow" and "*" not in json.dumps(s) for s in statements.values())


@pytest.mark.slow
def test_comparison_flags_a_drifted_attribute(states, moto_endpoint):  # noqa: F811
    """The equality above can fail: one attribute changed after the script ran makes the snapshots differ."""
    by_hook, *_ = states
    sqs = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION).client(
        "sqs", endpoint_url=moto_endpoint
    )
    url = sqs.get_queue_url(QueueName=contract.QUEUE_NAME)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "31"})
    assert _snapshot(moto_endpoint) != by_hook


DOCS = Path(__file__).resolve().parents[2] / "docs" / "eks.md"


def test_docs_use_the_overlay_command_params_and_contract_names():
    """docs/eks.md is what a user types: the render command the tests use, every parameter, the contract's names."""
    text = DOCS.read_text()
    assert f'kubectl {" ".join(RENDER_ARGS)} deploy/eks | kubectl apply -n "$NAMESPACE" -f -' in text
    assert f"python deploy/eks/{SCRIPT.name} --region" in text
    for name in read_params():
        assert f"\n{name}=$" in text, f"params.env's {name} is not set in the docs' step 4"
    for name in (contract.TOPIC_NAME, contract.QUEUE_NAME, contract.DLQ_NAME):
        assert name in text
