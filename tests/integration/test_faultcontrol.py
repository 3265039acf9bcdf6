"""The fault suite's faultproxy client (`lab.faultcontrol`) against the real faultproxy process in front of moto:
a fault set in a ``with`` block fires, is gone afterwards, and reports what it did."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lab.emulator import REGION, Emulator
from lab.faultcontrol import FaultProxy, FaultProxyError
from tests.integration.faultproxy_process import faultproxy


@pytest.fixture
def running(emulator: Emulator, tmp_path) -> Iterator[tuple[str, FaultProxy]]:
    """The proxy's AWS endpoint and a client of its control port."""
    with faultproxy(emulator.url, tmp_path) as proc:
        yield proc.url, FaultProxy(proc.control_url)


def sns_via(url: str):
    return boto3.session.Session().client(
        "sns",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_fault_block_fires_then_leaves_nothing_behind(make_wiring, running):
    url, control = running
    wiring = make_wiring()
    sns = sns_via(url)
    with control.fault("sns:Publish", "throttle") as fired:
        assert [f["operation"] for f in control.faults()] == ["sns:Publish"]
        with pytest.raises(ClientError, match="Throttling"):
            sns.publish(TopicArn=wiring.topic_arn, Message="m")
    assert (fired.matched, fired.injected) == (1, 1)
    assert control.faults() == []
    assert sns.publish(TopicArn=wiring.topic_arn, Message="m")["MessageId"]


def test_fault_is_removed_when_the_block_fails(running):
    _, control = running
    with pytest.raises(RuntimeError, match="boom"), control.fault("sqs:DeleteMessageBatch", "error500", rate=0.5):
        raise RuntimeError("boom")
    assert control.faults() == []


def test_refusals_name_the_problem(running):
    _, control = running
    with pytest.raises(ValueError, match="unknown fault kind"):
        control.set("sns:Publish", "slow")
    with pytest.raises(FaultProxyError, match="HTTP 400"):
        control.set("Publish", "throttle")  # not service:Operation
    with pytest.raises(FaultProxyError, match="HTTP 404"):
        control.clear("sns:Publish")  # nothing set
