"""Recovery timestamps from API objects shaped exactly as ``kubectl get -o json`` returns them."""

import pytest

from lab.timeline import (
    Recovery,
    event_time,
    first_after,
    first_failure,
    last_finished_at,
    probe_results,
    readiness_round_trip,
    ready_since,
    restart_decision,
    started_at,
)
from lab.times import parse_time

POD = "consumer-7d9f8c6b5-x2k4q"


def t(clock: str) -> float:
    return parse_time(f"2026-11-28T04:{clock}Z")


def k8s_event(reason: str, message: str, first: str, last: str, count: int = 1, pod: str = POD) -> dict:
    """A core/v1 Event as the kubelet's legacy recorder writes it (eventTime null, second resolution)."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "count": count,
        "eventTime": None,
        "firstTimestamp": f"2026-11-28T04:{first}Z",
        "lastTimestamp": f"2026-11-28T04:{last}Z",
        "involvedObject": {
            "apiVersion": "v1",
            "fieldPath": "spec.containers{consumer}",
            "kind": "Pod",
            "name": pod,
            "namespace": "lab-faults",
            "uid": "6f1c",
        },
        "message": message,
        "metadata": {"name": f"{pod}.1800", "namespace": "lab-faults"},
        "reason": reason,
        "reportingComponent": "kubelet",
        "source": {"component": "kubelet", "host": "node-1"},
        "type": "Warning" if reason == "Unhealthy" else "Normal",
    }


EVENTS = [
    k8s_event("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 503", "20:05", "20:05"),
    k8s_event("Unhealthy", 'Readiness probe failed: Get "http://10.88.0.5:5000/ready": EOF', "10:00", "10:00"),
    k8s_event("Killing", "Container consumer failed liveness probe, will be restarted", "12:00", "20:11", count=2),
    k8s_event("Started", "Started container consumer", "20:12", "20:12", pod="other-pod"),
]

POD_JSON = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": POD},
    "status": {
        "phase": "Running",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-28T04:00:00Z"},
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-28T04:20:14Z"},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-11-28T04:20:14Z"},
        ],
        "containerStatuses": [
            {
                "name": "consumer",
                "ready": True,
                "restartCount": 2,
                "started": True,
                "state": {"running": {"startedAt": "2026-11-28T04:20:12Z"}},
                "lastState": {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": "2026-11-28T04:12:01Z",
                        "finishedAt": "2026-11-28T04:20:11Z",
                    }
                },
            }
        ],
    },
}


def test_event_time_skips_older_events_and_uses_last_time_of_an_aggregated_one():
    assert event_time(EVENTS, "Unhealthy", t("20:04.6"), POD, contains="Liveness") == t("20:05")
    # The Killing event aggregates an earlier restart (12:00) with this one (20:11).
    assert event_time(EVENTS, "Killing", t("20:04"), POD) == t("20:11")
    assert event_time(EVENTS, "Started", t("20:00"), POD) is None  # other pod's event
    assert event_time(EVENTS, "Unhealthy", t("21:00"), POD) is None


def test_event_time_floors_injection_because_api_truncates_to_seconds():
    # Fault at :05.7, event recorded as :05 though it happened at or after :05.7: reported at :05.7.
    assert event_time(EVENTS, "Unhealthy", t("20:05.7"), POD, contains="Liveness") == t("20:05.7")


def test_pod_status_fields():
    assert started_at(POD_JSON, "consumer") == t("20:12")
    assert last_finished_at(POD_JSON, "consumer") == t("20:11")
    assert ready_since(POD_JSON) == t("20:14")
    assert started_at(POD_JSON, "missing") is None
    not_ready = {
        "status": {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "2026-11-28T04:20:11Z"}]}
    }
    assert ready_since(not_ready) is None


LOG = "\n".join(
    [
        '2026-11-28T04:20:03.100000000Z 10.88.0.1 - - [28/Nov/2026 04:20:03] "GET /health HTTP/1.1" 200 -',
        '2026-11-28T04:20:04.000000000Z 127.0.0.1 - - [28/Nov/2026 04:20:04] "GET /health HTTP/1.1" 503 -',
        '2026-11-28T04:20:05.100000000Z 10.88.0.1 - - [28/Nov/2026 04:20:05] "GET /health HTTP/1.1" 503 -',
        '2026-11-28T04:20:05.200000000Z 10.88.0.1 - - [28/Nov/2026 04:20:05] "GET /ready HTTP/1.1" 200 -',
        '2026-11-28T04:20:06.000000000Z {"event": "consumed", "id": "a"}',
        '10.88.0.1 - - [28/Nov/2026 04:20:07] "GET /health HTTP/1.1" 503 -',
    ]
)


def test_probe_results_skip_loopback_curl_and_unstamped_lines():
    results = probe_results(LOG)
    assert [(r.path, r.status, r.ok) for r in results] == [
        ("/health", 200, True),
        ("/health", 503, False),
        ("/ready", 200, True),
    ]
    assert results[1].at == pytest.approx(t("20:05.1"))


def test_first_failure_prefers_precise_log_then_falls_back_to_event():
    probes = probe_results(LOG)
    assert first_failure(probes, EVENTS, t("20:04.5"), POD, "/health") == pytest.approx(t("20:05.1"))
    assert first_failure([], EVENTS, t("20:04.5"), POD) == t("20:05")
    assert first_failure([], EVENTS, t("20:05.5"), POD) == t("20:05.5")


def test_recovery_figures():
    r = Recovery(
        "fault-switch",
        injected=t("20:04.5"),
        first_failed_probe=t("20:05.1"),
        killed=t("20:11"),
        restarted=t("20:12"),
        ready=t("20:14"),
        first_consumed=t("20:14.5"),
        bound=7.0,
    )
    assert (r.detection, r.excess, r.restart_to_ready, r.to_first_consumed) == (6.5, -0.5, 2.0, 10.0)
    assert r.to_dict()["excess"] == -0.5
    assert Recovery("x", injected=1.0).excess is None


def test_first_after():
    assert first_after([5.0, None, 2.0, 9.0], 4.0) == 5.0
    assert first_after([1.0], 4.0) is None
    assert first_after([1.0], None) is None


def pod_ready(status: str, since: str) -> dict:
    return {
        "metadata": {"name": "producer-1"},
        "status": {
            "conditions": [{"type": "Ready", "status": status, "lastTransitionTime": f"2026-11-28T04:{since}Z"}]
        },
    }


def test_readiness_round_trip_needs_a_transition_after_the_outage():
    """Item 4: the emulator fault expects "NotReady then Ready" but only waited for Ready, which a pod that never
    noticed the outage passes at once."""
    before, outage = pod_ready("True", "00:00"), t("10:00.5")
    stayed = pod_ready("True", "00:00")
    assert ready_since(stayed) is not None  # the old check (kubectl wait --for=condition=Ready) passed
    assert "stayed Ready through the outage" in readiness_round_trip(before, stayed, outage)
    assert readiness_round_trip(before, pod_ready("True", "10:20"), outage) is None
    assert "not Ready again" in readiness_round_trip(before, pod_ready("False", "10:09"), outage)
    assert "not Ready before" in readiness_round_trip(pod_ready("False", "00:00"), pod_ready("True", "10:20"), outage)


def test_restart_decision_is_the_threshold_th_consecutive_failure_on_the_probe_path():
    log = "\n".join(
        f'2026-11-28T04:20:{sec}Z 10.88.0.1 - - [28/Nov/2026 04:20:{sec}] "GET {path} HTTP/1.1" {code} -'
        for sec, path, code in [
            ("01", "/health", 503),
            ("06", "/health", 200),  # a success resets the streak
            ("11", "/health", 503),
            ("12", "/ready", 503),  # readiness does not count
            ("16", "/health", 503),
            ("21", "/health", 503),
        ]
    )
    assert restart_decision(probe_results(log), [], t("20:00"), 3, "/health", POD) == t("20:21")
    # No probe reached the server (wrong port): the Killing event, whole seconds.
    assert restart_decision([], EVENTS, t("20:04"), 3, "/health", POD) == t("20:11")
