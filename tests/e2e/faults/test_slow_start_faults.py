"""Slow start: a container that answers later than its liveness probe waits, without and with a startupProbe.

The copy (`lab.slowstart`) is the consumer with its start delayed by a shell wrapper that sleeps ``delay`` seconds
and then execs the app; ``delay`` is derived from the live liveness probe (`start_delay`: past its latest decision
counted from the start). Only the copy changes; the restore (the fault's undo) is proven field by field.
- Without a startupProbe the kubelet kills every generation before it answers: ``restartCount`` grows to `LOOPS`,
  each kill a liveness Killing event, the killed generations never answered a probe, and the first kill is decided
  inside ``[initialDelaySeconds + periodSeconds × (failureThreshold − 1), initialDelaySeconds + periodSeconds ×
  failureThreshold + timeoutSeconds]`` of the container's start (`lab.verdict`, `Bound.LIVENESS` from the start).
  The rollout stalls and the old pod keeps consuming.
- With a startupProbe whose ``failureThreshold × periodSeconds`` exceeds the delay plus the app's start, the same
  copy starts once: Ready after at least ``delay`` seconds, no restart and no liveness Killing for a whole liveness
  window after it.
Ledger: nothing lost, duplicates counted. The procedure is `lab.runner.run_fault`; `SlowStart` is the injector.
"""

import pytest

from lab.detection import fault_events
from lab.fault import Bound, Env, Fault, Reaction, redelivery
from lab.kube import holds, wait_for
from lab.probes import Probe, crashloop_deadline
from lab.runner import run_fault
from lab.slowstart import restore, slow_start, start_delay, startup_probe
from lab.starvation import occurrences_of
from lab.timeline import Recovery, event_time, probe_results, ready_since, started_at

APP = "consumer"
BURST = 20
LOOPS = 2  # restarts that make it a loop: the second kill shows the first was no accident


def first_start(lab, pod: str, deadline: float) -> float:
    """The copy's first container's startedAt (API, whole seconds), once it runs."""
    return wait_for(lambda: started_at(lab.kube.json("get", "pod", pod), APP), deadline, what=f"{pod} running")


class SlowStart:
    """The consumer's copy with its start delayed past liveness; ``startup``: with a startupProbe that allows it."""

    def __init__(self, startup: bool) -> None:
        self.startup = startup
        self.before: dict | None = None

    def prepare(self, env: Env, fault: Fault):
        liveness, readiness = env.lab.probe(APP), env.lab.probe(APP, "readinessProbe")  # the lab's, before the copy
        delay = start_delay(liveness)
        return liveness, readiness, delay, startup_probe(liveness, delay) if self.startup else None

    def inject(self, env: Env, fault: Fault, prepared):
        _, _, delay, startup = prepared
        self.before, pod = slow_start(env.lab, APP, delay, startup)
        return prepared, pod

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        (liveness, readiness, delay, startup), pod = state
        if startup is None:
            return {APP: self.loops(env, fault, liveness, delay, pod)}
        return {APP: self.starts_once(env, fault, (liveness, readiness), delay, startup, pod)}

    def loops(self, env: Env, fault: Fault, liveness: Probe, delay: int, pod: str) -> Reaction:
        lab, logs, name = env.lab, env.logs, fault.name
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
        unhealthy, killing = fault_events(events, pod, started)
        checks = []
        if len(killing) < 1 or not unhealthy:
            checks.append(f"{name}: no liveness Unhealthy/Killing events ({unhealthy}, {killing})")
        if any(answered):
            checks.append(
                f"{name}: a killed generation answered probes ({answered}): the delay did not outlast liveness"
            )
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
            f"restartCount {status.get('restartCount')} (wanted ≥ {LOOPS}); last state exit "
            f"{terminated.get('exitCode')} {terminated.get('reason')}; state now {waiting or 'running'}; "
            f"{occurrences_of(events, pod, 'Unhealthy', 'Liveness probe failed', started)} failed liveness probes "
            f"{unhealthy[:1]}, {occurrences_of(events, pod, 'Killing', 'liveness', started)} liveness kills; probes "
            f"answered by the killed generations: {answered}"
        )
        return Reaction(recovery, checks=checks, notes=[notes])

    def starts_once(self, env: Env, fault: Fault, probes: tuple, delay: int, startup: dict, pod: str) -> Reaction:
        (liveness, readiness), lab, name = probes, env.lab, fault.name
        allowed = Probe.from_spec(startup).detection_bound(from_start=True)  # failureThreshold × period + timeout
        started = first_start(lab, pod, liveness.restart_deadline())
        lab.kube.wait("condition=Ready", allowed + readiness.ready_deadline(), f"pod/{pod}")
        copy = lab.kube.json("get", "pod", pod)
        window = liveness.window()
        kept = holds(lambda: lab.kube.restart_count(pod, APP) == 0, window, interval=2)
        events = lab.kube.events(pod)
        ready = ready_since(copy)
        took = None if ready is None else ready - started
        unhealthy, killing = fault_events(events, pod, started)
        checks = [] if kept else [f"{name}: the copy restarted within {window:g} s of becoming Ready"]
        checks += [f"{name}: liveness acted: {m}" for m in killing]
        if took is None or took < delay:
            checks.append(f"{name}: Ready {took} s after start, before the {delay} s delay was over")
        notes = (
            f"start delayed {delay} s; startupProbe every {startup['periodSeconds']} s × {startup['failureThreshold']} "
            f"(allows {allowed:g} s); Ready {took} s after start; restartCount 0 for {window:g} s after: {kept}; "
            f"{occurrences_of(events, pod, 'Unhealthy', 'Startup probe failed', started)} failed startup probes, "
            f"{occurrences_of(events, pod, 'Unhealthy', 'Liveness probe failed', started)} failed liveness probes"
        )
        return Reaction(Recovery(name, injected=started, ready=ready), checks=checks, notes=[notes])

    def undo(self, env: Env, fault: Fault) -> None:
        if self.before is not None:
            before, self.before = self.before, None
            restore(env.lab, APP, before)


FAULTS = [
    Fault(
        f"slow start, no startupProbe ({APP})",
        (APP,),
        SlowStart(startup=False),
        "restart loop: every generation killed by liveness before it answers, restartCount grows; nothing lost",
        bound=Bound.LIVENESS,
        burst=BURST,
        settle=redelivery,
    ),
    Fault(
        f"slow start, startupProbe ({APP})",
        (APP,),
        SlowStart(startup=True),
        "no restart: the startupProbe holds liveness back until the late start answers; nothing lost",
        burst=BURST,
        settle=redelivery,
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=["no-startup-probe", "startup-probe"])
def test_slow_start(deployed_lab, aws, logs, settings, record_fault, fault, run):
    record_fault(*run_fault(fault, Env(deployed_lab, aws, logs, settings)))
