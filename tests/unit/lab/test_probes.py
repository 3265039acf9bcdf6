"""Probe arithmetic behind every e2e deadline (lab/probes.py)."""

import pytest

from lab.probes import (
    RESTART_SLACK_SECONDS,
    Probe,
    backoff_delay,
    crashloop_deadline,
    grows,
)

LIVENESS = {
    "httpGet": {"path": "/health", "port": 5000},
    "initialDelaySeconds": 5,
    "periodSeconds": 5,
    "timeoutSeconds": 2,
    "failureThreshold": 3,
}


def test_fields_are_read_from_the_api_object():
    probe = Probe.from_spec(LIVENESS, pod_grace=20)
    assert (probe.initial_delay, probe.period, probe.timeout, probe.failure_threshold) == (5, 5, 2, 3)
    assert (probe.path, probe.port, probe.grace) == ("/health", 5000, 20)


def test_kubernetes_defaults_fill_missing_fields():
    probe = Probe.from_spec({"httpGet": {"path": "/health", "port": 5000}})
    assert (probe.initial_delay, probe.period, probe.timeout, probe.failure_threshold) == (0, 10, 1, 3)
    assert probe.success_threshold == 1
    assert probe.grace == 30  # pod default terminationGracePeriodSeconds


def test_probe_level_grace_period_wins_over_the_pod_one():
    probe = Probe.from_spec({**LIVENESS, "terminationGracePeriodSeconds": 3}, pod_grace=25)
    assert probe.grace == 3


def test_detection_bound_is_the_issue_formula():
    probe = Probe.from_spec(LIVENESS)
    assert probe.detection_bound() == 5 + 5 * 3 + 2
    assert probe.detection_bound(extra=30) == 5 + 5 * 3 + 2 + 30
    assert probe.window() == probe.detection_bound()


def test_restart_deadline_adds_grace_and_stated_slack():
    probe = Probe.from_spec(LIVENESS, pod_grace=20)
    assert probe.restart_deadline() == 22 + 20 + RESTART_SLACK_SECONDS
    assert probe.restart_deadline(extra=30, slack=0) == 22 + 30 + 20


def test_readiness_deadlines():
    readiness = Probe.from_spec({"periodSeconds": 2, "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 1})
    assert readiness.unready_deadline(slack=0) == 2 * 3 + 1
    assert readiness.ready_deadline(slack=0) == 2 * 1 + 1


def test_probe_is_found_by_container_name_in_a_pod_template():
    spec = {
        "terminationGracePeriodSeconds": 15,
        "containers": [{"name": "sidecar"}, {"name": "producer", "livenessProbe": LIVENESS}],
    }
    probe = Probe.from_pod_template(spec, "producer")
    assert probe.grace == 15 and probe.period == 5
    with pytest.raises(LookupError, match="no container"):
        Probe.from_pod_template(spec, "consumer")
    with pytest.raises(LookupError, match="readinessProbe"):
        Probe.from_pod_template(spec, "producer", "readinessProbe")


def test_backoff_follows_the_kubelet_schedule():
    assert [backoff_delay(n) for n in range(1, 7)] == [0, 10, 20, 40, 80, 160]
    assert backoff_delay(7) == 300 and backoff_delay(12) == 300
    with pytest.raises(ValueError):
        backoff_delay(0)


def test_crashloop_deadline_sums_cycles_and_backoffs():
    probe = Probe.from_spec(LIVENESS, pod_grace=20)
    cycle = probe.restart_deadline(slack=1)
    assert crashloop_deadline(probe, 3, slack=1) == 3 * cycle + 0 + 10 + 20


@pytest.mark.parametrize(
    ("delays", "expected"),
    [
        ([0, 10, 20], True),
        ([1, 11, 21, 41], True),
        ([0, 10, 10], False),
        ([10, 1], False),
        ([5], False),
        ([0, 1], False),
    ],
)
def test_grows_needs_strictly_growing_delays_beyond_timestamp_resolution(delays, expected):
    assert grows(delays) is expected


def test_detection_bound_counts_initial_delay_only_from_container_start():
    probe = Probe(initial_delay=5, period=2, timeout=1, failure_threshold=3)
    assert probe.detection_bound(from_start=False) == 7
    assert probe.detection_bound() == 12  # from start: what waits use
    assert probe.detection_bound(30, from_start=False) == 37


def test_earliest_decision_needs_threshold_failures_one_period_apart():
    probe = Probe(initial_delay=5, period=5, timeout=2, failure_threshold=3)
    assert probe.earliest_decision() == 10
    assert probe.earliest_decision(from_start=True) == 15
    assert probe.earliest_decision(visible_after=14) == 24
