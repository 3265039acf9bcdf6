"""Slow start: a container that answers later than its liveness probe waits, without and with a startupProbe.

The copy (`lab.slowstart`) is the consumer with its start delayed by a shell wrapper that sleeps ``delay`` seconds
and then execs the app; ``delay`` is derived from the live liveness probe (`start_delay`: past its latest decision
counted from the start). Only the copy changes; the restore is proven field by field.
- Without a startupProbe the kubelet kills every generation before it answers: ``restartCount`` grows to `LOOPS`,
  each kill a liveness Killing event, the killed generations never answered a probe, and the first kill is decided
  inside ``[initialDelaySeconds + periodSeconds × (failureThreshold − 1), initialDelaySeconds + periodSeconds ×
  failureThreshold + timeoutSeconds]`` of the container's start (`lab.verdict`). The rollout stalls and the old pod
  keeps consuming.
- With a startupProbe whose ``failureThreshold × periodSeconds`` exceeds the delay plus the app's start, the same
  copy starts once: Ready after at least ``delay`` seconds, no restart and no liveness Killing for a whole liveness
  window after it.
Ledger: nothing lost, duplicates counted.
"""

import time

from lab.catalogue import burst, ledger_of, settle
from lab.detection import fault_events
from lab.kube import holds, wait_for
from lab.probes import Probe, crashloop_deadline
from lab.report.record import make_record
from lab.slowstart import restore, slow_start, start_delay, startup_probe
from lab.starvation import occurrences_of
from lab.timeline import Recovery, event_time, probe_results, ready_since, started_at

APP = "consumer"
BURST = 20
LOOPS = 2  # restarts that make it a loop: the second kill shows the first was no accident


def first_start(lab, pod: str, deadline: float) -> float:
    """The copy's first container's startedAt (API, whole seconds), once it runs."""
    return wait_for(lambda: started_at(lab.kube.json("get", "pod", pod), APP), deadline, what=f"{pod} running")


def test_slow_start_without_startup_probe_restart_loops(deployed_lab, aws, logs, settings, record_fault, run):
    lab = deployed_lab
    liveness = lab.probe(APP)
    delay = start_delay(liveness)
    extra = burst(aws, BURST, "slowstart-loop", logs)
    before, pod = slow_start(lab, APP, delay)
    try:
        started = first_start(lab, pod, liveness.restart_deadline())
        wait_for(
            lambda: lab.kube.restart_count(pod, APP) >= LOOPS,
            crashloop_deadline(liveness, LOOPS),
            what=f"{LOOPS} restarts of the slow-starting copy",
        )
        status = lab.kube.container_status(pod, APP)
        events = lab.kube.events(pod)
        waiting = (status.get("state") or {}).get("waiting", {}).get("reason")
        logs.scan()
        answered = [len(probe_results(logs.generation_text(pod, g))) for g in range(LOOPS)]
    finally:
        restore(lab, APP, before)
    result = settle(logs, extra, time.time(), settings.redelivery())
    ledger = ledger_of(logs, extra)
    name = f"slow start, no startupProbe ({APP})"
    unhealthy, killing = fault_events(events, pod, started)
    checks = []
    if len(killing) < 1 or not unhealthy:
        checks.append(f"{name}: no liveness Unhealthy/Killing events ({unhealthy}, {killing})")
    if any(answered):
        checks.append(f"{name}: a killed generation answered probes ({answered}): the delay did not outlast liveness")
    terminated = (status.get("lastState") or {}).get("terminated") or {}
    recovery = Recovery(
        name,
        injected=started,
        killed=event_time(events, "Killing", started, pod, contains="liveness"),
        bound=liveness.detection_bound(from_start=True),
        earliest=liveness.earliest_decision(from_start=True),
    )
    notes = (
        f"start delayed {delay} s (liveness bound from start {liveness.detection_bound(from_start=True):g} s); "
        f"restartCount {status.get('restartCount')} (wanted ≥ {LOOPS}); last state exit {terminated.get('exitCode')} "
        f"{terminated.get('reason')}; state now {waiting or 'running'}; "
        f"{occurrences_of(events, pod, 'Unhealthy', 'Liveness probe failed', started)} failed liveness probes "
        f"{unhealthy[:1]}, {occurrences_of(events, pod, 'Killing', 'liveness', started)} liveness kills; probes "
        f"answered by the killed generations: {answered}; {result.summary()}"
    )
    expected = "restart loop: every generation killed by liveness before it answers, restartCount grows; nothing lost"
    record_fault(
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
    )


def test_slow_start_with_startup_probe_starts_once(deployed_lab, aws, logs, settings, record_fault, run):
    lab = deployed_lab
    liveness = lab.probe(APP)
    readiness = lab.probe(APP, "readinessProbe")
    delay = start_delay(liveness)
    startup = startup_probe(liveness, delay)
    allowed = Probe.from_spec(startup).detection_bound(from_start=True)  # failureThreshold × period + timeout
    extra = burst(aws, BURST, "slowstart-probe", logs)
    before, pod = slow_start(lab, APP, delay, startup)
    try:
        started = first_start(lab, pod, liveness.restart_deadline())
        lab.kube.wait("condition=Ready", allowed + readiness.ready_deadline(), f"pod/{pod}")
        copy = lab.kube.json("get", "pod", pod)
        window = liveness.window()
        kept = holds(lambda: lab.kube.restart_count(pod, APP) == 0, window, interval=2)
        events = lab.kube.events(pod)
    finally:
        restore(lab, APP, before)
    result = settle(logs, extra, time.time(), settings.redelivery())
    ledger = ledger_of(logs, extra)
    name = f"slow start, startupProbe ({APP})"
    ready = ready_since(copy)
    took = None if ready is None else ready - started
    unhealthy, killing = fault_events(events, pod, started)
    checks = [] if kept else [f"{name}: the copy restarted within {window:g} s of becoming Ready"]
    checks += [f"{name}: liveness acted: {m}" for m in killing]
    if took is None or took < delay:
        checks.append(f"{name}: Ready {took} s after start, before the {delay} s delay was over")
    recovery = Recovery(name, injected=started, ready=ready)
    notes = (
        f"start delayed {delay} s; startupProbe every {startup['periodSeconds']} s × {startup['failureThreshold']} "
        f"(allows {allowed:g} s); Ready {took} s after start; restartCount 0 for {window:g} s after: {kept}; "
        f"{occurrences_of(events, pod, 'Unhealthy', 'Startup probe failed', started)} failed startup probes, "
        f"{occurrences_of(events, pod, 'Unhealthy', 'Liveness probe failed', started)} failed liveness probes; "
        f"{result.summary()}"
    )
    expected = "no restart: the startupProbe holds liveness back until the late start answers; nothing lost"
    record_fault(
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
    )
