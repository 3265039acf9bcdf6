"""The four liveness faults of the e2e suite (lab.liveness, reused as is), now timed and checked with the ledger.

tests/e2e/test_liveness_restarts.py proves each fault restarts the container; here the same injections run with
traffic flowing, and each restart is tied to its injection and timed (`lab.detection.judge`): the decision is the
``failureThreshold``-th consecutive failed probe in the killed container's own log (or its Killing event when the
probe never reaches the server), counted from the signal handler's own log line (or, for a patched probe, from the
patched container's start). `lab.verdict` then requires it inside [earliest, bound] ± DETECTION_TOLERANCE_SECONDS:
bound = ``periodSeconds × failureThreshold + timeoutSeconds`` (+ ``initialDelaySeconds`` for a patched probe, which
fails from the container's start; + HEARTBEAT_MAX_AGE_SECONDS for the hung worker, whose /health only turns 503 once
the heartbeat is that old). The same verdict is the report's outcome. The procedure around each fault (burst,
ledger, records) is `lab.runner.run_fault`; `BreakLiveness` is the injector of this kind.
"""

import contextlib

import pytest

from lab.deploy import SERVICES
from lab.fault import Bound, Env, Fault, Reaction
from lab.kube import KubectlError
from lab.liveness import FAULTS, PATCHED, await_restart, break_liveness, examine, restore
from lab.runner import run_fault
from lab.timeline import ready_since, started_at

BURST = 20


class BreakLiveness:
    """`lab.liveness.break_liveness` of one kind on every app of the fault at once; the kubelet must restart each."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def prepare(self, env: Env, fault: Fault) -> None:
        """Nothing to read first: `break_liveness` reads the pod and its restart count itself."""

    def inject(self, env: Env, fault: Fault, prepared):
        return [break_liveness(env.lab, app, self.kind) for app in fault.apps]

    def await_reaction(self, env: Env, fault: Fault, injections) -> dict[str, Reaction]:
        lab, logs = env.lab, env.logs
        judgements = {}
        for injection in injections:  # judged at once: a patched pod is killed again ~15 s after its restart
            await_restart(lab, injection)
            with contextlib.suppress(KubectlError):  # the background scan attaches a second later anyway
                logs.scan()  # attach to the new generation now; the killed one's stream has ended
            killed = logs.generation_text(injection.pod, injection.restarts_before)
            judgements[injection.app] = examine(lab, injection, killed)
        for injection in injections:
            readiness = lab.probe(injection.app, "readinessProbe")
            lab.kube.wait(
                "condition=Ready", readiness.initial_delay + readiness.ready_deadline(), f"pod/{injection.pod}"
            )
            judgement = judgements[injection.app]
            pod = lab.kube.json("get", "pod", injection.pod)
            judgement.recovery.restarted = started_at(pod, injection.app)
            judgement.recovery.ready = ready_since(pod)
        source = "the Killing event (whole seconds)" if self.kind == "probe-port" else "the failing probes' log stamps"
        return {
            app: Reaction(j.recovery, checks=list(j.problems), notes=[f"detection from {source}"])
            for app, j in judgements.items()
        }

    def undo(self, env: Env, fault: Fault) -> None:
        """A patched probe keeps failing: put the manifests back. The signal faults live in memory; the restart
        healed them."""
        if self.kind in PATCHED:
            for app in fault.apps:
                restore(env.lab, app)


LIVENESS_FAULTS = [
    Fault(
        f"liveness {kind}",
        SERVICES,
        BreakLiveness(kind),
        "restart decided inside the probe bound, for this fault (clean drain), Ready again, nothing lost",
        bound=Bound.LIVENESS,
        burst=BURST,
    )
    for kind in FAULTS
]


@pytest.mark.parametrize("fault", LIVENESS_FAULTS, ids=FAULTS)
def test_liveness_fault_recovers_without_losing_messages(deployed_lab, aws, logs, settings, record_fault, fault, run):
    record_fault(*run_fault(fault, Env(deployed_lab, aws, logs, settings)))
