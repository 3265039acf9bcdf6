"""The container's resources: CPU starved under its limit. A probe setting decides whether that restarts it.

Expected reaction: ``kill -<FAULT_CPU_SIGNUM> 1`` (the services' CPU fault switch, ``shared.faults``) starts busy
threads that use up the consumer's CPU quota; the kernel throttles its health server with them.
- On the lab's own manifests (liveness ``timeoutSeconds: 2`` under a 500m limit) nothing restarts: no liveness
  Killing event and the same ``restartCount`` for a whole window derived from the live probe and the heartbeat
  (`lab.starvation.Starvation.window`: ``periodSeconds × failureThreshold + timeoutSeconds`` + HEARTBEAT_MAX_AGE), and
  the starved consumer keeps handling messages.
- On a copy with a tight probe (``timeoutSeconds: 1``, ``periodSeconds: 2``) under a 50m limit (`lab.starvation`),
  which passes its probes for a whole window before the fault, the same starvation fails liveness: Unhealthy
  (timeouts) and Killing events after the fault, ``restartCount`` +1 of the starved container, a false restart of a
  container that was working; decided no earlier than ``periodSeconds × (failureThreshold − 1)`` after the fault.
The restart heals it (the switch is in memory). Ledger: nothing lost, duplicates counted, over both runs.
"""

import time

from lab.catalogue import burst, first_consumed_after, ledger_of, settle
from lab.detection import fault_events
from lab.kube import holds, wait_for
from lab.liveness import liveness_events
from lab.report.record import make_record
from lab.starvation import FAULT_EVENT, fault_line, occurrences_of, restarted_problems, restore, starve, tighten
from lab.timeline import Recovery, event_time, ready_since, started_at
from lab.verdict import DETECTION_TOLERANCE_SECONDS

APP = "consumer"
BURST = 20


def consumed_by(logs, extra, pod: str, after: float) -> int:
    """Test messages ``pod`` handled at or after ``after`` (the starved consumer still working)."""
    ledger = ledger_of(logs, extra)
    return sum(
        1
        for msg_id in {e["id"] for e in extra}
        if any(d.get("_source") == pod and d.get("_t", 0) >= after for d in ledger.deliveries.get(msg_id, []))
    )


def test_cpu_starvation_restarts_a_tight_probe_and_not_the_labs(deployed_lab, aws, logs, settings, record_fault, run):
    lab = deployed_lab
    heartbeat = lab.heartbeat_max_age(APP)
    extra = burst(aws, BURST, "cpu-own", logs)

    own = starve(lab, APP)
    extra += burst(aws, BURST, "cpu-own-starved", logs)
    window = own.window(heartbeat)
    kept = holds(lambda: lab.kube.restart_count(own.pod, APP) == own.restarts_before, window, interval=2)
    held = time.time() - own.wall
    logs.scan()
    own_line = fault_line(logs.generation_text(own.pod, own.restarts_before))
    own_at = own.wall if own_line is None else own_line["_t"]
    own_events = lab.kube.events(own.pod)
    own_unhealthy, own_killing = fault_events(own_events, own.pod, own_at)
    own_failed = occurrences_of(own_events, own.pod, "Unhealthy", "Liveness probe failed", own_at)
    own_work = consumed_by(logs, extra, own.pod, own_at)
    own_checks = [] if kept else [f"lab's manifests: the starved consumer restarted within {window:g} s"]
    own_checks += [f"lab's manifests: liveness acted on the starved consumer: {m}" for m in own_killing]
    if own_line is None:
        own_checks.append(f"lab's manifests: no {FAULT_EVENT} line in the starved container's log")
    if not own_work:
        own_checks.append("lab's manifests: the starved consumer handled no test message")

    before = tighten(lab, APP)  # the rollout replaces the starved pod
    try:
        probe = lab.probe(APP)
        pod = lab.pod(APP)
        baseline = probe.detection_bound(from_start=False)
        calm = holds(lambda: lab.kube.restart_count(pod, APP) == 0, baseline, interval=1)
        extra += burst(aws, BURST, "cpu-copy", logs)
        copy = starve(lab, APP)
        wait_for(
            lambda: lab.kube.restart_count(copy.pod, APP) > copy.restarts_before,
            probe.restart_deadline(),
            what="the copy's starved consumer restarted",
        )
        logs.scan()
        line = fault_line(logs.generation_text(copy.pod, copy.restarts_before))
        injected = copy.wall if line is None else line["_t"]
        unhealthy, killing = liveness_events(lab, copy.pod, injected)
        copy_events = lab.kube.events(copy.pod)
        failed = occurrences_of(copy_events, copy.pod, "Unhealthy", "Liveness probe failed", injected)
        status = lab.kube.container_status(copy.pod, APP)
        copy_pod = lab.kube.json("get", "pod", copy.pod)  # not awaited Ready: the restore replaces it anyway
    finally:
        restore(lab, APP, before)

    result = settle(logs, extra, time.time(), settings.redelivery())
    ledger = ledger_of(logs, extra)
    name = f"CPU starved, tight probe ({APP})"
    checks = [] if calm else [f"{name}: the copy restarted before the fault (within {baseline:g} s unstarved)"]
    checks += restarted_problems(copy, status, name)
    if not (unhealthy and killing):
        checks.append(f"{name}: no liveness Unhealthy/Killing event after the fault ({unhealthy}, {killing})")
    if line is None:
        checks.append(f"{name}: no {FAULT_EVENT} line in the starved container's log")
    restarted = started_at(copy_pod, APP)
    killed = event_time(copy_events, "Killing", injected, copy.pod, contains="liveness")
    # Starvation fails probes often, not always (a throttled answer may still beat the timeout), so the decision is
    # not bounded by the probe formula; it can only not come before `failureThreshold` failures one period apart.
    detection = None if killed is None else killed - injected
    if detection is not None and detection < probe.earliest_decision() - DETECTION_TOLERANCE_SECONDS:
        checks.append(f"{name}: killed {detection:.1f} s after the fault, before {probe.earliest_decision():g} s")
    recovery = Recovery(
        name,
        injected=injected,
        killed=killed,
        restarted=restarted,
        ready=ready_since(copy_pod),
        first_consumed=first_consumed_after(ledger, restarted),
        earliest=probe.earliest_decision(),
    )
    threads = "?" if line is None else line.get("threads")
    terminated = (status.get("lastState") or {}).get("terminated") or {}
    notes = (
        f"copy: liveness timeout {probe.timeout:g} s / period {probe.period:g} s / threshold "
        f"{probe.failure_threshold}, CPU limit {copy.cpu_limit}, {threads} busy thread(s); passed {baseline:g} s "
        f"unstarved; after the fault {failed} failed liveness probe(s) {unhealthy[:1]}, {len(killing)} Killing, "
        f"decided "
        f"{'?' if detection is None else f'{detection:.1f}'} s after it (probe bound "
        f"{probe.detection_bound(from_start=False):g} s, earliest {probe.earliest_decision():g} s); restartCount "
        f"{copy.restarts_before} → {status.get('restartCount')}, the killed container ended exit "
        f"{terminated.get('exitCode')} {terminated.get('reason')}; {result.summary()}"
    )
    expected = "copy (timeout 1 s, 50m): false liveness restart (Unhealthy, Killing, restartCount +1); nothing lost"
    records = [
        make_record(
            fault=name,
            expected=expected,
            recovery=recovery,
            ledger=ledger,
            result=result,
            logs=logs,
            app=APP,
            notes=notes,
            checks=checks,
        )
    ]

    own_name = f"CPU starved, lab's probe ({APP})"
    own_notes = (
        f"lab's manifests: liveness timeout {own.probe.timeout:g} s / period {own.probe.period:g} s / threshold "
        f"{own.probe.failure_threshold}, CPU limit {own.cpu_limit}, "
        f"{'?' if own_line is None else own_line.get('threads')} busy thread(s); restartCount unchanged for "
        f"{held:.0f} s (window {window:g} s: probe bound + heartbeat {heartbeat:g} s): {kept}; "
        f"{own_failed} failed liveness probe(s) {own_unhealthy[:1]}, {len(own_killing)} Killing; {own_work} test "
        "messages handled while starved"
    )
    own_expected = "lab's manifests: no liveness restart over the window, still consuming; nothing lost"
    own_recovery = Recovery(own_name, injected=own_at)
    records.append(
        make_record(
            fault=own_name,
            expected=own_expected,
            recovery=own_recovery,
            ledger=ledger,
            result=result,
            logs=logs,
            app=APP,
            notes=own_notes,
            checks=own_checks,
        )
    )
    record_fault(*records)
