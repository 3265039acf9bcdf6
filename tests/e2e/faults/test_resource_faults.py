"""The container's resources: memory exhausted past the limit. The kernel, not a probe, ends the container.

Expected reaction: ``kill -<FAULT_MEMORY_SIGNUM> 1`` (the services' memory fault switch, ``shared.runtime``) makes the
service allocate and touch memory at a fixed rate; once its cgroup reaches ``resources.limits.memory`` (read from the
live Deployment) the OOM killer SIGKILLs it: ``lastState.terminated`` is ``OOMKilled``, exit 137, ``restartCount``
goes up by exactly one (the kubelet restarts it in the same pod: restartPolicy Always), the pod is Ready again within
the readiness bound, and no message is lost: a batch the killed consumer had received but not deleted comes back
after the queue's VisibilityTimeout (duplicates allowed and counted); the killed producer's restarted generation
publishes again (a message published after the restart is consumed) and every message it logged as published is
consumed. Both services run it: the switch lives in the shared runtime both import.

Timing: from the handler's ``fault_memory_on`` line to the container's ``finishedAt`` (whole seconds) the
allocation itself is what is measured. Its bounds are computed from the allocation schedule (imported from the
runtime module), the live limit and the cgroup usage read just before the signal (`lab.resources.AllocationBounds`,
declared as `Bound.ALLOCATION`) and asserted by `lab.verdict` with its DETECTION_TOLERANCE_SECONDS, like a probe
bound. A liveness probe must not be the one that acts (the whole allocation takes less than the probe's failure
window): no liveness Killing event may follow; failed probes of the dead or starting container are counted in the
notes. The procedure around each fault is `lab.runner.run_fault`; `ExhaustMemory` is the injector of this kind.
"""

import contextlib
import threading
import time

import pytest

from lab.catalogue import first_consumed_after, in_flight
from lab.detection import fault_events
from lab.fault import Bound, Env, Fault, Reaction, Settled, publish, redelivery
from lab.kube import KubectlError, container_status, wait_for
from lab.probes import RESTART_SLACK_SECONDS, backoff_delay
from lab.resources import (
    FAULT_EVENT,
    allocated_mib,
    exhaust_memory,
    fault_line_time,
    last_progress_time,
    lost_state_problems,
    oom_problems,
)
from lab.runner import run_fault
from lab.timeline import Recovery, last_finished_at, ready_since, started_at
from lab.verdict import DETECTION_TOLERANCE_SECONDS

# Traffic while the consumer allocates: batches of this many messages, one per BATCH_EVERY seconds, from before the
# signal until the restart shows. One 200-message burst before the signal (as the pod faults publish) was consumed
# in ~1 s, long before the kill ~5 s later (measured on kind, 2026-12-03): the fault hit an idle consumer.
BATCH = 10
BATCH_EVERY = 0.2
MIB = 2**20


class ExhaustMemory:
    """`lab.resources.exhaust_memory` on the fault's one app, with batches published until the restart shows."""

    def __init__(self) -> None:
        self.stop: threading.Event | None = None
        self.publisher: threading.Thread | None = None

    def prepare(self, env: Env, fault: Fault) -> None:
        """Nothing to read first: `exhaust_memory` reads the pod, the limit and the usage right before the signal."""

    def inject(self, env: Env, fault: Fault, prepared):
        self.stop = stop = threading.Event()

        def publish_until() -> None:  # keep the queue busy: the consumer is receiving when the kernel kills it
            while not stop.wait(BATCH_EVERY):
                publish(env, fault)

        self.publisher = threading.Thread(target=publish_until, daemon=True)
        self.publisher.start()
        (app,) = fault.apps
        return exhaust_memory(env.lab, app)

    def await_reaction(self, env: Env, fault: Fault, injection) -> dict[str, Reaction]:
        lab, logs, (app,) = env.lab, env.logs, fault.apps
        bounds = injection.bounds
        restart_deadline = bounds.bound + DETECTION_TOLERANCE_SECONDS + backoff_delay(injection.restarts_before + 1)
        wait_for(
            lambda: lab.kube.restart_count(injection.pod, app) > injection.restarts_before,
            restart_deadline + RESTART_SLACK_SECONDS,
            what=f"{app} restarted after the memory fault",
        )
        self.undo(env, fault)  # the restart shows: the traffic ends here, so "handled after the restart" means hit
        readiness = lab.probe(app, "readinessProbe")
        lab.kube.wait("condition=Ready", readiness.initial_delay + readiness.ready_deadline(), f"pod/{injection.pod}")
        with contextlib.suppress(KubectlError):
            logs.scan()  # the killed generation's stream has ended; attach the new one

        def killed_log() -> str | None:  # the follower's file may trail the kill by a moment
            text = logs.generation_text(injection.pod, injection.restarts_before)
            return text if FAULT_EVENT in text else None

        killed = wait_for(killed_log, RESTART_SLACK_SECONDS, what=f"{FAULT_EVENT} in the killed container's log")
        injected = fault_line_time(killed)
        pod = lab.kube.json("get", "pod", injection.pod)
        status = container_status(pod, app)
        terminated = (status.get("lastState") or {}).get("terminated") or {}
        name, restarts_now = fault.name, int(status.get("restartCount", 0))
        if terminated:
            checks, killed_at = oom_problems(injection, terminated, restarts_now, name), last_finished_at(pod, app)
        else:  # the kubelet lost it (kubernetes#101044, 1 of 3 runs here): the killed container's own log must show it
            checks, killed_at = lost_state_problems(injection, killed, restarts_now, name), last_progress_time(killed)
        if injected is None:
            checks.append(f"{name}: no parsable {FAULT_EVENT} line in the killed container's log")
        injected = injection.wall if injected is None else injected
        # The kernel acts, not the kubelet: no liveness restart decision may follow. A failed liveness probe against
        # the dead or still starting container (connection refused, seen in CI 2026-12-03) is the kill's echo.
        unhealthy, killing = fault_events(lab.kube.events(injection.pod), injection.pod, injected)
        checks += [f"{name}: a liveness probe acted: {message}" for message in killing]
        restarted = started_at(pod, app)
        after = restarted if restarted is not None else time.time()

        def review(settled: Settled) -> tuple[list[str], list[str]]:
            problems, hit = [], []
            if app == "consumer":  # published before the restart showed, handled by the restarted container
                hit = in_flight(settled.ledger, sorted(settled.ids), after)
                if not hit:
                    problems.append(
                        f"{name}: no test message was handled after the restart: the kill hit an idle consumer"
                    )
            elif first_consumed_after(settled.ledger, after, published_after=True) is None:
                wait_for(  # the restarted producer publishes again, and what it published is consumed
                    lambda: first_consumed_after(logs.ledger(), after, published_after=True),
                    env.settings.redelivery(),
                    what="a message the restarted producer published consumed",
                )
            usage = "unknown" if bounds.usage is None else f"{bounds.usage / MIB:.0f} MiB"
            lost = "lost (kubernetes#101044), kill shown by its log"
            notes = [
                f"limit {bounds.limit / MIB:.0f} MiB, usage before {usage}, allocating {bounds.rate / MIB:.0f} MiB/s, "
                f"last logged total {allocated_mib(killed)} MiB; last state "
                f"{terminated.get('reason') if terminated else lost} exit {terminated.get('exitCode')}; restartCount "
                f"{injection.restarts_before} → {status.get('restartCount')}",
                f"{len(settled.published)} test messages, {len(hit)} handled after the restart"
                f"{'' if app == 'consumer' else ' (not asked of the producer)'}",
                f"{len(unhealthy)} failed liveness probe(s) after the fault, no restart decided by one",
            ]
            return problems, notes

        recovery = Recovery(
            name,
            injected=injected,
            killed=killed_at,
            restarted=restarted,
            ready=ready_since(pod),
            bound=bounds.bound,
            earliest=bounds.earliest,
        )
        timed = lambda ledger: first_consumed_after(ledger, restarted)  # noqa: E731  (any message, as before the move)
        return {app: Reaction(recovery, checks=checks, review=review, first_consumed=timed)}

    def undo(self, env: Env, fault: Fault) -> None:
        """Stop the traffic (the restart healed the container: the switch lives in memory)."""
        if self.stop is not None:
            self.stop.set()
        if self.publisher is not None:
            self.publisher.join(RESTART_SLACK_SECONDS)
        self.stop = self.publisher = None


def memory_fault(app: str) -> Fault:
    after_kill = (
        "nothing lost (redelivered after VisibilityTimeout)"
        if app == "consumer"
        else "publishing resumes, nothing it published lost"
    )
    expected = (
        "kernel OOM-kills the container at its memory limit (OOMKilled, exit 137) within the allocation bound, "
        f"restartCount +1, no liveness action, Ready again, {after_kill}"
    )
    return Fault(
        f"memory exhausted, OOM kill ({app})",
        (app,),
        ExhaustMemory(),
        expected,
        bound=Bound.ALLOCATION,
        burst=BATCH,  # one batch before the signal, then the injector publishes one every BATCH_EVERY s
        settle=redelivery,  # the killed container did not drain: a held batch comes back after one redelivery
    )


FAULTS = [memory_fault("consumer"), memory_fault("producer")]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.apps[0] for f in FAULTS])
def test_memory_exhausted_oom_killed(deployed_lab, aws, logs, settings, record_fault, fault, run):
    record_fault(*run_fault(fault, Env(deployed_lab, aws, logs, settings)))
