"""The four liveness faults of the e2e suite (lab.liveness, reused as is), now timed and checked with the ledger.

tests/e2e/test_liveness_restarts.py proves each fault restarts the container within its deadline; here the same
injections run with traffic flowing, and each one's recovery is measured against the probe's detection bound:
``periodSeconds × failureThreshold + timeoutSeconds`` for a fault injected into a running container (plus
HEARTBEAT_MAX_AGE_SECONDS for the hung worker, whose /health only turns 503 once the heartbeat is that old), and
``initialDelaySeconds + …`` for a patched probe, which fails from the new container's start.
"""

import time

import pytest

from lab.catalogue import burst, first_consumed_after, kill_decision, ledger_of, settle
from lab.deploy import SERVICES
from lab.ledger import parse_time
from lab.liveness import FAULTS, PATCHED, await_restart, break_liveness, liveness_events, restore
from lab.report.record import make_record
from lab.timeline import ProbeSettings, Recovery, ready_since, started_at

BURST = 20


def injected_at(lab, injection) -> float:
    """When the fault began: the signal for a running container; the patched pod's first container start."""
    if injection.fault not in PATCHED:
        return injection.wall
    status = lab.kube.container_status(injection.pod, injection.app)
    if status.get("restartCount"):  # already restarted once: the first container is in lastState
        first = status.get("lastState", {}).get("terminated", {}).get("startedAt")
    else:
        first = status.get("state", {}).get("running", {}).get("startedAt")
    return parse_time(first) or injection.wall


@pytest.mark.parametrize("fault", FAULTS)
def test_liveness_fault_recovers_without_losing_messages(deployed_lab, aws, logs, settings, record_fault, fault, run):
    lab = deployed_lab
    extra = burst(aws, BURST, f"liveness-{fault}", logs)
    injections = [break_liveness(lab, app, fault) for app in SERVICES]
    starts = {i.app: injected_at(lab, i) for i in injections}
    recoveries = {}
    try:
        for injection in injections:
            await_restart(lab, injection)
            liveness_events(lab, injection.pod)
        for injection in injections:
            readiness = lab.probe(injection.app, "readinessProbe")
            lab.kube.wait(
                "condition=Ready", readiness.initial_delay + readiness.ready_deadline(), f"pod/{injection.pod}"
            )
            pod = lab.kube.json("get", "pod", injection.pod)
            probe = injection.probe
            settings_ = ProbeSettings(probe.initial_delay, probe.period, probe.timeout, probe.failure_threshold)
            recoveries[injection.app] = Recovery(
                f"liveness {fault} ({injection.app})",
                injected=starts[injection.app],
                killed=kill_decision(
                    logs, lab, injection.app, injection.pod, starts[injection.app], probe.failure_threshold
                ),
                restarted=started_at(pod, injection.app),
                ready=ready_since(pod),
                bound=settings_.detection_bound(from_start=fault in PATCHED, extra=injection.extra),
            )
    finally:
        if fault in PATCHED:  # a patched probe keeps failing: put the manifests back
            for app in SERVICES:
                restore(lab, app)
    result = settle(logs, extra, time.time(), settings.redelivery() + max(settings.grace.values()))
    assert result.lost == [], result.summary()
    ledger = ledger_of(logs, extra)
    for app, recovery in recoveries.items():
        recovery.first_consumed = first_consumed_after(ledger, recovery.restarted, published_after=app == "producer")
        expected = "restart within the probe bound, Ready again, nothing lost"
        notes = f"{result.summary()}; detection from " + (
            "the failing probes' log stamps" if fault != "probe-port" else "the Killing event (whole seconds)"
        )
        record_fault(make_record(recovery.fault, expected, recovery, ledger, result, logs, app, notes))
