"""Issue 12 item 2: a restart counts for a fault only when it is tied to that injection.

Bad cases built from API objects and log lines shaped as the cluster returns them: an earlier fault's events on the
same pod, a container that crashed on the signal, a restart decided sooner than the heartbeat allows. Each one
passes the checks the lab had before (events matched by pod name, restartCount went up within the deadline) and
fails the new ones.
"""

import json

from lab.detection import fault_events, judge, liveness_failures
from lab.liveness import Injection
from lab.probes import Probe
from lab.timeline import Recovery
from lab.times import parse_time
from lab.verdict import detection_problems

POD = "consumer-7d9f8c6b5-x2k4q"
PROBE = Probe(5, 5, 2, 3, 1, 30, path="/health", port=5000)


def t(clock: str) -> float:
    return parse_time(f"2026-11-30T02:{clock}Z")


def stamp(at: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def event(reason: str, message: str, first: str, last: str, count: int = 1, pod: str = POD) -> dict:
    return {
        "count": count,
        "eventTime": None,
        "firstTimestamp": f"2026-11-30T02:{first}Z",
        "lastTimestamp": f"2026-11-30T02:{last}Z",
        "involvedObject": {"kind": "Pod", "name": pod},
        "message": message,
        "reason": reason,
    }


UNHEALTHY = "Liveness probe failed: HTTP probe failed with statuscode: 503"
KILLING = "Container consumer failed liveness probe, will be restarted"
# The fault switch restarted the pod at 10:15; the hung worker is injected at 11:00 into the restarted container.
EARLIER_FAULT = [event("Unhealthy", UNHEALTHY, "10:05", "10:15", count=3), event("Killing", KILLING, "10:15", "10:15")]


def injection(fault: str = "hung-worker", started: str = "10:16") -> Injection:
    hung = fault == "hung-worker"
    return Injection(
        app="consumer",
        fault=fault,
        pod=POD,
        restarts_before=1,
        probe=PROBE,
        extra=30.0 if hung else 0.0,
        visible_after=14.0 if hung else 0.0,  # heartbeat max age 30 − the consumer's longest healthy gap 16
        container_started=t(started),
        started=0.0,
        wall=t("11:00.5"),
    )


def killed_log(signal_at: float, failures: list[float], signal: str = "fault_hang_on") -> str:
    lines = [f"{stamp(signal_at)} " + json.dumps({"ts": signal_at, "event": signal, "signal": "SIGUSR2"})]
    for at in failures:
        lines.append(f'{stamp(at)} 10.88.0.1 - - [30/Nov/2026 02:11:00] "GET /health HTTP/1.1" 503 -')
    return "\n".join(lines)


def status(exit_code: int = 0, reason: str = "Completed", started: str = "10:16", finished: str = "11:44") -> dict:
    return {
        "name": "consumer",
        "restartCount": 2,
        "state": {"running": {"startedAt": f"2026-11-30T02:{finished}Z"}},
        "lastState": {
            "terminated": {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": f"2026-11-30T02:{started}Z",
                "finishedAt": f"2026-11-30T02:{finished}Z",
            }
        },
    }


def old_liveness_events(events: list[dict], pod: str) -> tuple[list[str], list[str]]:
    """The matcher before: reason and message about the pod, whenever they were recorded."""
    mine = [e for e in events if e["involvedObject"]["name"] == pod]
    return (
        [e["message"] for e in mine if e["reason"] == "Unhealthy" and "Liveness probe failed" in e["message"]],
        [e["message"] for e in mine if e["reason"] == "Killing" and "failed liveness probe" in e["message"]],
    )


def verdict(judgement) -> list[str]:
    return judgement.problems + detection_problems(judgement.recovery)


def test_good_hung_worker_restart_has_no_problems():
    signal = t("11:00.2")
    failures = [signal + 30.8, signal + 35.8, signal + 40.8]
    events = [
        *EARLIER_FAULT,
        event("Unhealthy", UNHEALTHY, "11:31", "11:41", 3),
        event("Killing", KILLING, "11:41", "11:41"),
    ]
    judgement = judge(injection(), killed_log(signal, failures), status(), events)
    assert verdict(judgement) == []
    assert judgement.recovery.detection == 40.8 and judgement.recovery.bound == 47


def test_events_of_the_earlier_fault_satisfied_the_old_matcher_but_not_the_new_one():
    unhealthy, killing = old_liveness_events(EARLIER_FAULT, POD)
    assert unhealthy and killing  # the old check passed at once
    assert fault_events(EARLIER_FAULT, POD, t("11:00.2")) == ([], [])
    signal = t("11:00.2")
    judgement = judge(
        injection(), killed_log(signal, [signal + 30.8, signal + 35.8, signal + 40.8]), status(), EARLIER_FAULT
    )
    assert any("no liveness Unhealthy/Killing event after the fault" in p for p in judgement.problems)


def test_an_aggregated_event_counts_when_it_recurred_after_the_fault():
    again = [event("Killing", KILLING, "10:15", "11:41", count=2), event("Unhealthy", UNHEALTHY, "10:05", "11:41", 6)]
    assert fault_events(again, POD, t("11:00.2")) == ([UNHEALTHY], [KILLING])


def test_container_that_crashed_on_the_signal_fails():
    """SIGUSR2 crashes the app (exit 1), the kubelet restarts it at once: the old check saw restartCount +1 in time."""
    signal = t("11:00.2")
    crashed = status(exit_code=1, reason="Error", finished="11:01")
    restarted_after = parse_time(crashed["lastState"]["terminated"]["finishedAt"]) - signal
    assert restarted_after <= PROBE.restart_deadline(30) + 1  # the old check: restartCount moved within 93 s
    judgement = judge(injection(), killed_log(signal, []), crashed, EARLIER_FAULT)
    found = " | ".join(verdict(judgement))
    assert "exit 1 Error" in found and "no restart decision observed" in found


def test_restart_decided_before_the_heartbeat_could_be_stale_fails():
    """Three failed probes 1-11 s after the signal cannot be the stale heartbeat's (earliest 14 + 10 = 24 s)."""
    signal = t("11:00.2")
    early = killed_log(signal, [signal + 1, signal + 6, signal + 11])
    events = [event("Unhealthy", UNHEALTHY, "11:01", "11:11", 3), event("Killing", KILLING, "11:11", "11:11")]
    judgement = judge(injection(), early, status(finished="11:12"), events)
    assert judgement.problems == []  # the events and the exit code look fine ...
    assert any("earlier than the 24 s" in p for p in detection_problems(judgement.recovery))  # ... the timing not


def test_restart_of_another_container_than_the_injected_one_fails():
    signal = t("11:00.2")
    log = killed_log(signal, [signal + 30.8, signal + 35.8, signal + 40.8])
    judgement = judge(injection(started="10:16"), log, status(started="11:20"), [])
    assert any("is not the one the fault was injected into" in p for p in judgement.problems)


def test_fault_switch_counts_from_the_signal_handlers_own_line():
    signal = t("11:00.2")
    log = killed_log(signal, [signal + 4.9, signal + 9.9, signal + 14.9], signal="fault_health_on")
    judgement = judge(injection("fault-switch"), log, status(), [])
    assert judgement.recovery.injected == signal and judgement.recovery.detection == 14.9
    missing = judge(injection("fault-switch"), "", status(), [])
    assert any("never seen in place" in p for p in missing.problems)


def test_probe_port_decision_comes_from_the_killing_event_after_the_container_start():
    patched = injection("probe-port", started="20:00")
    events = [event("Killing", KILLING, "20:15", "20:15")]
    judgement = judge(patched, "", status(started="20:00", finished="20:16"), events)
    assert judgement.recovery.detection == 15.0 and judgement.recovery.bound == 22.0
    assert isinstance(judgement.recovery, Recovery)


def test_liveness_failures_during_an_outage_are_found_though_restart_count_held():
    """Item 8: a decision near the end of the hold shows as a restart only after the drain (up to the grace
    period), so an unchanged restartCount proved nothing; the kubelet's own events do."""
    outage = t("30:00")
    events = [
        event("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", "30:05", "30:50", 9),
        event("Unhealthy", UNHEALTHY, "30:50", "30:50"),
        *EARLIER_FAULT,
    ]
    assert liveness_failures(events, [POD], outage) == [f"{POD}: {UNHEALTHY}"]
    assert liveness_failures(events[:1] + EARLIER_FAULT, [POD], outage) == []
