"""The four liveness faults of the e2e suite (lab.liveness, reused as is), now timed and checked with the ledger.

tests/e2e/test_liveness_restarts.py proves each fault restarts the container; here the same injections run with
traffic flowing, and each restart is tied to its injection and timed (`lab.detection.judge`): the decision is the
``failureThreshold``-th consecutive failed probe in the killed container's own log (or its Killing event when the
probe never reaches the server), counted from the signal handler's own log line (or, for a patched probe, from the
patched container's start). `lab.verdict` then requires it inside [earliest, bound] ± DETECTION_TOLERANCE_SECONDS:
bound = ``periodSeconds × failureThreshold + timeoutSeconds`` (+ ``initialDelaySeconds`` for a patched probe, which
fails from the container's start; + HEARTBEAT_MAX_AGE_SECONDS for the hung worker, whose /health only turns 503 once
the heartbeat is that old). The same verdict is the report's outcome.
"""

import contextlib
import time

import pytest

from lab.catalogue import burst, first_consumed_after, ledger_of, settle
from lab.deploy import SERVICES
from lab.kube import KubectlError
from lab.liveness import FAULTS, PATCHED, await_restart, break_liveness, examine, restore
from lab.report.record import make_record
from lab.timeline import ready_since, started_at

BURST = 20


@pytest.mark.parametrize("fault", FAULTS)
def test_liveness_fault_recovers_without_losing_messages(deployed_lab, aws, logs, settings, record_fault, fault, run):
    lab = deployed_lab
    extra = burst(aws, BURST, f"liveness-{fault}", logs)
    injections = [break_liveness(lab, app, fault) for app in SERVICES]
    judgements = {}
    try:
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
    finally:
        if fault in PATCHED:  # a patched probe keeps failing: put the manifests back
            for app in SERVICES:
                restore(lab, app)
    result = settle(logs, extra, time.time(), settings.redelivery() + max(settings.grace.values()))
    ledger = ledger_of(logs, extra)
    records = []
    for app, judgement in judgements.items():
        recovery = judgement.recovery
        recovery.first_consumed = first_consumed_after(ledger, recovery.restarted, published_after=app == "producer")
        expected = "restart decided inside the probe bound, for this fault (clean drain), Ready again, nothing lost"
        source = "the Killing event (whole seconds)" if fault == "probe-port" else "the failing probes' log stamps"
        notes = f"{result.summary()}; detection from {source}"
        records.append(
            make_record(recovery.fault, expected, recovery, ledger, result, logs, app, notes, checks=judgement.problems)
        )
    record_fault(*records)
