"""Config validation: defaults, and every bad variable stops the process with exit 2.

The exit-code tests run the real ``app.py`` in a subprocess with a minimal environment, the
way Kubernetes starts it; they never reach the network because validation comes first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from consumer.config import load_config as load_consumer
from producer.config import load_config as load_producer
from shared.envconfig import ConfigError

SERVICES = Path(__file__).resolve().parents[2] / "candidate-project"

BAD_COMMON = [
    ("HEALTH_PORT", "http"),
    ("HEALTH_PORT", "0"),
    ("HEALTH_PORT", "70000"),
    ("HEARTBEAT_MAX_AGE_SECONDS", "-1"),
    ("HEARTBEAT_MAX_AGE_SECONDS", "nan"),
    ("HEARTBEAT_MAX_AGE_SECONDS", "5"),  # shorter than a healthy gap between beats
    ("AWS_DEFAULT_REGION", "moon"),
    ("LOG_LEVEL", "LOUD"),
    ("POD_NAME", "has space"),
    ("AWS_ENDPOINT_URL", "localstack:4566"),
]
BAD_PRODUCER = [
    ("TOPIC_NAME", "bad/name"),
    ("PUBLISH_INTERVAL_SECONDS", "0"),
    ("PUBLISH_INTERVAL_SECONDS", "soon"),
    ("PUBLISH_INTERVAL_SECONDS", "90"),  # longer than the default 60 s heartbeat bound
]
BAD_CONSUMER = [
    ("QUEUE_NAME", "q" * 81),
    ("RECEIVE_WAIT_SECONDS", "21"),
    ("RECEIVE_WAIT_SECONDS", "-1"),
    ("RECEIVE_BATCH_SIZE", "0"),
    ("RECEIVE_BATCH_SIZE", "11"),
    ("RECEIVE_BATCH_SIZE", "ten"),
]
CASES = [("producer", name, value) for name, value in BAD_COMMON + BAD_PRODUCER] + [
    ("consumer", name, value) for name, value in BAD_COMMON + BAD_CONSUMER
]


# Subprocesses cost ~0.3 s each: the real app.py runs once per (service, variable) with its
# first bad value; every bad value is checked in-process against the same load_config.
FIRST_PER_VARIABLE = list({(svc, name): (svc, name, value) for svc, name, value in reversed(CASES)}.values())
LOADERS = {
    "producer": (load_producer, ConfigError),
    "consumer": (load_consumer, ConfigError),
}


def expected_variable(name: str, value: str) -> str:
    # An interval that is fine alone but too long for the heartbeat bound is reported
    # against HEARTBEAT_MAX_AGE_SECONDS, the variable that has to grow.
    if (name, value) == ("PUBLISH_INTERVAL_SECONDS", "90"):
        return "HEARTBEAT_MAX_AGE_SECONDS"
    return name


@pytest.mark.parametrize(("service", "name", "value"), CASES)
def test_bad_value_is_rejected_naming_the_variable(service, name, value):
    load, error = LOADERS[service]
    with pytest.raises(error) as info:
        load({name: value})
    assert info.value.name == expected_variable(name, value)


@pytest.mark.parametrize(("service", "name", "value"), FIRST_PER_VARIABLE)
def test_bad_variable_exits_2_with_one_line_naming_it(service, name, value):
    env = {"PATH": os.environ.get("PATH", ""), name: value}
    result = subprocess.run(
        [sys.executable, str(SERVICES / service / "app.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    want = expected_variable(name, value)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert lines[0].startswith(f"config error: {want}: ")


def test_producer_defaults():
    config = load_producer({})
    assert config.common.health_port == 5000
    assert config.common.heartbeat_max_age == 60.0
    assert config.common.region == "us-east-1"
    assert config.common.log_level == "INFO"
    assert config.common.pod_name  # the hostname
    assert config.topic_name == "lab-messages"
    assert config.publish_interval == 1.0


def test_consumer_defaults():
    config = load_consumer({})
    assert config.queue_name == "lab-messages-queue"
    assert config.receive_wait == 20
    assert config.batch_size == 10
    # the read timeout must outlast the long poll, or every empty poll would be an error
    assert config.read_timeout > config.receive_wait


def test_liveness_heartbeat_bound_must_exceed_long_poll():
    with pytest.raises(ConfigError) as info:
        load_consumer({"RECEIVE_WAIT_SECONDS": "20", "HEARTBEAT_MAX_AGE_SECONDS": "20"})
    assert info.value.name == "HEARTBEAT_MAX_AGE_SECONDS"
    # 30 s (the manifests' choice with a 20 s long poll) is accepted
    load_consumer({"RECEIVE_WAIT_SECONDS": "20", "HEARTBEAT_MAX_AGE_SECONDS": "30"})


def test_values_are_trimmed_and_case_insensitive_log_level():
    config = load_producer({"LOG_LEVEL": "debug", "TOPIC_NAME": " t1 ", "POD_NAME": "p-1"})
    assert (config.common.log_level, config.topic_name, config.common.pod_name) == (
        "DEBUG",
        "t1",
        "p-1",
    )
