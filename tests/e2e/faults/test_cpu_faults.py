"""The container's resources: CPU starved under its limit. A probe setting decides whether that restarts it.

Expected reaction: ``kill -<FAULT_CPU_SIGNUM> 1`` (the services' CPU fault switch, ``shared.faults``) starts busy
threads that use up the consumer's CPU quota; the kernel throttles its health server with them.
- On the lab's own manifests (liveness ``timeoutSeconds: 2`` under a 500m limit) nothing restarts: no liveness
  Killing event and the same ``restartCount`` for a whole window derived from the live probe and the heartbeat
  (`lab.starvation.Starvation.window`: ``periodSeconds × failureThreshold + timeoutSeconds`` + HEARTBEAT_MAX_AGE), and
  the starved consumer keeps handling messages. The switch has no off: the fault's undo replaces the starved pod.
- On a copy with a tight probe (``timeoutSeconds: 1``, ``periodSeconds: 2``) under a 50m limit (`lab.starvation`),
  which passes its probes for a whole window before the fault, the same starvation fails liveness: Unhealthy
  (timeouts) and Killing events after the fault, ``restartCount`` +1 of the starved container, a false restart of a
  container that was working; decided no earlier than ``periodSeconds × (failureThreshold − 1)`` after the fault.
The restart heals it (the switch is in memory). Ledger: nothing lost, duplicates counted, per fault. The procedure
is `lab.runner.run_fault`; `StarveOwn` and `StarveTight` are the injectors of these kinds.
"""

import time

import pytest

from lab.detection import fault_events
from lab.fault import Env, Fault, Reaction, Traffic, publish, redelivery
from lab.kube import holds, wait_for
from lab.liveness import liveness_events, status_after_restart
from lab.runner import run_fault
from lab.starvation import FAULT_EVENT, fault_line, occurrences_of, restarted_problems, restore, starve, tighten
from lab.timeline import Recovery, event_time, ready_since, started_at
from lab.verdict import DETECTION_TOLERANCE_SECONDS

APP = "consumer"
BURST = 20


def consumed_by(logs, ids: set[str], pod: str, after: float) -> int:
    """Test messages ``pod`` handled at or after ``after`` (the starved consumer still working)."""
    ledger = logs.ledger()
    return sum(
        1
        for msg_id in ids
        if any(d.get("_source") == pod and d.get("_t", 0) >= after for d in ledger.deliveries.get(msg_id, []))
    )


class StarveOwn:
    """The CPU fault on the lab's own consumer: it must ride it out; ``undo`` replaces the starved pod."""

    def __init__(self) -> None:
        self.starved = False

    def prepare(self, env: Env, fault: Fault):
        return env.lab.heartbeat_max_age(APP), len(env.logs.test_published)

    def inject(self, env: Env, fault: Fault, prepared):
        self.starved = True
        return prepared, starve(env.lab, APP)

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        (heartbeat, start), own = state
        lab, logs = env.lab, env.logs
        publish(env, fault, tag="-starved")  # work for the starved consumer
        window = own.window(heartbeat)
        kept = holds(lambda: lab.kube.restart_count(own.pod, APP) == own.restarts_before, window, interval=2)
        held = time.time() - own.wall
        logs.scan()
        line = fault_line(logs.generation_text(own.pod, own.restarts_before))
        at = own.wall if line is None else line["_t"]
        events = lab.kube.events(own.pod)
        unhealthy, killing = fault_events(events, own.pod, at)
        failed = occurrences_of(events, own.pod, "Unhealthy", "Liveness probe failed", at)
        work = consumed_by(logs, {e["id"] for e in logs.test_published[start:]}, own.pod, at)
        checks = [] if kept else [f"lab's manifests: the starved consumer restarted within {window:g} s"]
        checks += [f"lab's manifests: liveness acted on the starved consumer: {m}" for m in killing]
        if line is None:
            checks.append(f"lab's manifests: no {FAULT_EVENT} line in the starved container's log")
        if not work:
            checks.append("lab's manifests: the starved consumer handled no test message")
        notes = (
            f"lab's manifests: liveness timeout {own.probe.timeout:g} s / period {own.probe.period:g} s / threshold "
            f"{own.probe.failure_threshold}, CPU limit {own.cpu_limit}, "
            f"{'?' if line is None else line.get('threads')} busy thread(s); restartCount unchanged for "
            f"{held:.0f} s (window {window:g} s: probe bound + heartbeat {heartbeat:g} s): {kept}; "
            f"{failed} failed liveness probe(s) {unhealthy[:1]}, {len(killing)} Killing; {work} test "
            "messages handled while starved"
        )
        return {APP: Reaction(Recovery(fault.name, injected=at), checks=checks, notes=[notes])}

    def undo(self, env: Env, fault: Fault) -> None:
        """The switch has no off: a rollout replaces the starved pod (new one Ready first, maxUnavailable 0)."""
        if self.starved:
            self.starved = False
            env.lab.kube("rollout", "restart", f"deployment/{APP}")
            env.lab.wait_rolled_out((APP,))


class StarveTight:
    """The CPU fault on a copy with a tight liveness probe under 50m: a false liveness restart must follow."""

    def __init__(self) -> None:
        self.before: dict | None = None

    def prepare(self, env: Env, fault: Fault):
        """The copy (its rollout replaces the pod), proven calm for a whole probe bound, then the burst."""
        lab = env.lab
        self.before = tighten(lab, APP)
        probe = lab.probe(APP)
        pod = lab.pod(APP)
        baseline = probe.detection_bound(from_start=False)
        calm = holds(lambda: lab.kube.restart_count(pod, APP) == 0, baseline, interval=1)
        publish(env, fault)
        return probe, baseline, calm

    def inject(self, env: Env, fault: Fault, prepared):
        return prepared, starve(env.lab, APP)

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        (probe, baseline, calm), copy = state
        lab, logs, name = env.lab, env.logs, fault.name
        wait_for(
            lambda: lab.kube.restart_count(copy.pod, APP) > copy.restarts_before,
            probe.restart_deadline(),
            what="the copy's starved consumer restarted",
        )
        logs.scan()
        line = fault_line(logs.generation_text(copy.pod, copy.restarts_before))
        injected = copy.wall if line is None else line["_t"]
        unhealthy, killing = liveness_events(lab, copy.pod, injected)
        events = lab.kube.events(copy.pod)
        failed = occurrences_of(events, copy.pod, "Unhealthy", "Liveness probe failed", injected)
        status = status_after_restart(lab, copy.pod, APP)  # restartCount moves before lastState shows
        pod = lab.kube.json("get", "pod", copy.pod)  # not awaited Ready: the restore replaces it anyway
        checks = [] if calm else [f"{name}: the copy restarted before the fault (within {baseline:g} s unstarved)"]
        checks += restarted_problems(copy, status, name)
        if not (unhealthy and killing):
            checks.append(f"{name}: no liveness Unhealthy/Killing event after the fault ({unhealthy}, {killing})")
        if line is None:
            checks.append(f"{name}: no {FAULT_EVENT} line in the starved container's log")
        killed = event_time(events, "Killing", injected, copy.pod, contains="liveness")
        # Starvation fails probes often, not always (a throttled answer may still beat the timeout), so the decision
        # is not bounded by the probe formula; it can only not come before `failureThreshold` failures a period apart.
        detection = None if killed is None else killed - injected
        if detection is not None and detection < probe.earliest_decision() - DETECTION_TOLERANCE_SECONDS:
            checks.append(f"{name}: killed {detection:.1f} s after the fault, before {probe.earliest_decision():g} s")
        recovery = Recovery(
            name,
            injected=injected,
            killed=killed,
            restarted=started_at(pod, APP),
            ready=ready_since(pod),
            earliest=probe.earliest_decision(),
        )
        threads = "?" if line is None else line.get("threads")
        terminated = (status.get("lastState") or {}).get("terminated") or {}
        notes = (
            f"copy: liveness timeout {probe.timeout:g} s / period {probe.period:g} s / threshold "
            f"{probe.failure_threshold}, CPU limit {copy.cpu_limit}, {threads} busy thread(s); passed {baseline:g} s "
            f"unstarved; after the fault {failed} failed liveness probe(s) {unhealthy[:1]}, {len(killing)} Killing, "
            f"decided {'?' if detection is None else f'{detection:.1f}'} s after it (probe bound "
            f"{probe.detection_bound(from_start=False):g} s, earliest {probe.earliest_decision():g} s); restartCount "
            f"{copy.restarts_before} → {status.get('restartCount')}, the killed container ended exit "
            f"{terminated.get('exitCode')} {terminated.get('reason')}"
        )
        return {APP: Reaction(recovery, checks=checks, notes=[notes])}

    def undo(self, env: Env, fault: Fault) -> None:
        if self.before is not None:
            before, self.before = self.before, None
            restore(env.lab, APP, before)


FAULTS = [
    Fault(
        f"CPU starved, lab's probe ({APP})",
        (APP,),
        StarveOwn(),
        "lab's manifests: no liveness restart over the window, still consuming; nothing lost",
        burst=BURST,
        settle=redelivery,
    ),
    Fault(
        f"CPU starved, tight probe ({APP})",
        (APP,),
        StarveTight(),
        "copy (timeout 1 s, 50m): false liveness restart (Unhealthy, Killing, restartCount +1); nothing lost",
        burst=BURST,
        traffic=Traffic.INJECTOR,  # published once the copy is up and proven calm
        settle=redelivery,
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=["labs-probe", "tight-probe"])
def test_cpu_starvation_restarts_a_tight_probe_and_not_the_labs(
    deployed_lab, aws, logs, settings, record_fault, fault, run
):
    record_fault(*run_fault(fault, Env(deployed_lab, aws, logs, settings)))
