"""The LocalStack ready.d hook: mounted where LocalStack runs it, and really creating the lab's AWS resources.

The script is executed here, twice, against moto's server on 127.0.0.1 (the same SNS/SQS API the unit tier
mocks), with `awslocal` replaced by a two-line shim that calls the real AWS CLI with that endpoint. What differs
from LocalStack is only the endpoint lookup of awslocal, so this proves the commands, the attributes and the
idempotency LocalStack relies on when it re-runs the hook after a restart.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from shared import contract

READY_DIR = "/etc/localstack/init/ready.d"
REGION = "us-east-1"
# One run makes ~9 AWS CLI calls of ~0.5-1 s each (Python start-up dominates); 120 s is a generous cap for a
# loaded 2-core CI machine, there only so that a hung call fails the test instead of the whole tier.
HOOK_TIMEOUT_SECONDS = 120


def test_hook_is_mounted_as_a_single_executable_file(localstack_deployment, init_configmap):
    """subPath mount: a folder mount would expose the file twice (..data/) and LocalStack would run it twice."""
    pod = localstack_deployment["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v.get("configMap", {}).get("name") == "localstack-init")
    mounts = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
    assert volume["configMap"]["defaultMode"] == 0o755
    assert [(m["mountPath"], m.get("subPath")) for m in mounts] == [
        (f"{READY_DIR}/{key}", key) for key in init_configmap["data"]
    ]
    assert all(key.endswith(".sh") for key in init_configmap["data"]), "LocalStack runs .sh (and .py) files only"


def test_hook_talks_to_its_own_localstack(localstack_container):
    """awslocal reads LOCALSTACK_HOST and AWS_ENDPOINT_URL. Aimed at the `localstack` Service, the hook would wait
    for an endpoint that appears only after the hook succeeded (readiness), and fail (seen with the 4.14.0 image)."""
    names = {entry["name"] for entry in localstack_container.get("env", [])}
    assert not names & {"LOCALSTACK_HOST", "AWS_ENDPOINT_URL"}


def test_hook_is_strict_bash(init_script, tmp_path):
    assert init_script.startswith("#!/bin/bash\n"), "LocalStack executes the file directly: it needs a shebang"
    assert "set -euo pipefail" in init_script, "a failed call must fail the hook (and keep LocalStack NotReady)"
    script = tmp_path / "init-aws.sh"
    script.write_text(init_script)
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_hook_passes_shellcheck(init_script, tmp_path):
    script = tmp_path / "init-aws.sh"
    script.write_text(init_script)
    result = subprocess.run([_tool("shellcheck"), "--severity=style", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def _tool(name: str) -> str:
    """A console script of this virtualenv (tox puts it on PATH; a bare `pytest` run may not)."""
    candidate = Path(sys.executable).with_name(name)
    found = str(candidate) if candidate.exists() else shutil.which(name)
    assert found, f"{name} not installed: run the manifests tier through tox (tox -e manifests)"
    return found


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def hook_runner(moto_endpoint, tmp_path_factory, parsed_objects):
    """Runs the hook as LocalStack would (the file executed directly), with `awslocal` aimed at an endpoint."""
    configmap = next(doc for _, doc in parsed_objects if doc["kind"] == "ConfigMap")
    (init_script,) = configmap["data"].values()
    tmp_path = tmp_path_factory.mktemp("hook")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "awslocal"
    shim.write_text(f'#!/bin/sh\nexec "{_tool("aws")}" --endpoint-url "$LAB_TEST_ENDPOINT" "$@"\n')
    script = tmp_path / "init-aws.sh"
    script.write_text(init_script)
    for path in (shim, script):
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path), "AWS_MAX_ATTEMPTS": "2"}

    def run(endpoint: str = moto_endpoint) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script)],
            env=env | {"LAB_TEST_ENDPOINT": endpoint},
            capture_output=True,
            text=True,
            timeout=HOOK_TIMEOUT_SECONDS,
        )

    return run


# Attributes that change on every write or read, not configuration.
VOLATILE_ATTRIBUTES = {"LastModifiedTimestamp", "CreatedTimestamp"}


def _clients(endpoint: str):
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    return session.client("sns", endpoint_url=endpoint), session.client("sqs", endpoint_url=endpoint)


def _snapshot(endpoint: str) -> dict:
    """Everything the hook is responsible for, as the services and the e2e suite will see it."""
    sns, sqs = _clients(endpoint)
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    queues = {url.rsplit("/", 1)[-1]: url for url in sqs.list_queues().get("QueueUrls", [])}
    attributes = {}
    for name, url in queues.items():
        found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        attributes[name] = {key: value for key, value in found.items() if key not in VOLATILE_ATTRIBUTES}
    subscriptions = []
    for topic in topics:
        for sub in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
            sub_attributes = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
            subscriptions.append((sub["Protocol"], sub["Endpoint"], sub_attributes.get("RawMessageDelivery")))
    return {"topics": topics, "queues": queues, "attributes": attributes, "subscriptions": subscriptions}


@pytest.fixture(scope="module")
def hooked_twice(hook_runner, moto_endpoint):
    """A fresh emulator after the hook ran once, then again (as after a LocalStack restart with a reused hook)."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    first = hook_runner()
    assert first.returncode == 0, first.stdout + first.stderr
    after_first = _snapshot(moto_endpoint)
    second = hook_runner()
    assert second.returncode == 0, second.stdout + second.stderr
    return after_first, _snapshot(moto_endpoint)


@pytest.mark.slow
def test_hook_creates_topic_queues_redrive_and_subscription(hooked_twice):
    state, _ = hooked_twice
    assert [arn.rsplit(":", 1)[-1] for arn in state["topics"]] == [contract.TOPIC_NAME]
    assert sorted(state["queues"]) == sorted([contract.DLQ_NAME, contract.QUEUE_NAME])
    queue, dlq = state["attributes"][contract.QUEUE_NAME], state["attributes"][contract.DLQ_NAME]
    assert queue["VisibilityTimeout"] == str(contract.VISIBILITY_TIMEOUT_SECONDS)
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == contract.MAX_RECEIVE_COUNT
    statement = json.loads(queue["Policy"])["Statement"][0]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == state["topics"][0]
    assert statement["Resource"] == queue["QueueArn"]
    assert dlq["MessageRetentionPeriod"] == str(contract.DLQ_RETENTION_SECONDS)
    assert state["subscriptions"] == [("sqs", queue["QueueArn"], "true")]


@pytest.mark.slow
def test_hook_is_idempotent(hooked_twice):
    after_first, after_second = hooked_twice
    assert after_second == after_first, "a second run (LocalStack restart, hook re-run) changed something"


@pytest.mark.slow
def test_hooked_resources_deliver_raw_messages(hooked_twice, moto_endpoint):
    """The message path the services rely on: publish to the topic, receive the raw body from the queue."""
    state, _ = hooked_twice
    sns, sqs = _clients(moto_endpoint)
    body = json.dumps(contract.message("manifests-test", 1, 0.0, "pytest"))
    sns.publish(TopicArn=state["topics"][0], Message=body)
    queue_url = state["queues"][contract.QUEUE_NAME]
    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in received] == [body]


def test_hook_fails_loudly_when_aws_does_not_answer(hook_runner):
    """A broken hook must exit non-zero: LocalStack then marks it ERROR and the pod stays NotReady (visible)."""
    result = hook_runner(endpoint="http://127.0.0.1:9")  # discard port: nothing listens
    assert result.returncode != 0
    assert "[lab-init] done" not in result.stdout


# The hook's shell variables and the contract constant each must equal.
HOOK_VARIABLES = {
    "TOPIC_NAME": contract.TOPIC_NAME,
    "QUEUE_NAME": contract.QUEUE_NAME,
    "DLQ_NAME": contract.DLQ_NAME,
    "MAX_RECEIVE_COUNT": str(contract.MAX_RECEIVE_COUNT),
    "VISIBILITY_TIMEOUT": str(contract.VISIBILITY_TIMEOUT_SECONDS),
    "DLQ_RETENTION_SECONDS": str(contract.DLQ_RETENTION_SECONDS),
}


def hook_contract_problems(script: str) -> list[str]:
    """Variables of the hook (``NAME=value`` lines) that differ from the services' contract."""
    assigned = dict(
        line.strip().split("=", 1) for line in script.splitlines() if line.strip().split("=")[0] in HOOK_VARIABLES
    )
    return [
        f"{name}={assigned.get(name)!r}, contract says {want!r}"
        for name, want in HOOK_VARIABLES.items()
        if assigned.get(name) != want
    ]


def test_hook_variables_are_the_contract(init_script):
    assert hook_contract_problems(init_script) == []


def test_hook_contract_check_flags_a_drifted_name(init_script):
    drifted = init_script.replace(f"QUEUE_NAME={contract.QUEUE_NAME}", "QUEUE_NAME=other-queue")
    assert hook_contract_problems(drifted) == [f"QUEUE_NAME='other-queue', contract says {contract.QUEUE_NAME!r}"]
