"""Breaking the /health endpoint restarts the container — each of the four ways separately, on both services.

Both services are broken at once (they are independent Deployments), which halves the wall time; each keeps its
own deadline, counted from its own injection. Deadlines come from `lab.probes.Probe.restart_deadline` on the live
probe: initialDelaySeconds + periodSeconds × failureThreshold + timeoutSeconds (+ HEARTBEAT_MAX_AGE_SECONDS for
the hung worker) + the grace period the kubelet may wait while stopping the container + RESTART_SLACK_SECONDS.
"""

import pytest

from lab.deploy import SERVICES
from lab.liveness import (
    KILLING,
    PATCHED,
    UNHEALTHY,
    await_restart,
    break_liveness,
    healthy_again,
    liveness_events,
    restore,
)

SELF_HEALING = ("fault-switch", "hung-worker")


def check_restart(lab, injection, artifacts):
    """restartCount +1 within the deadline, both liveness events recorded; returns the measured seconds."""
    elapsed = await_restart(lab, injection)
    unhealthy, killing = liveness_events(lab, injection.pod)
    assert any(UNHEALTHY in m for m in unhealthy) and any(KILLING in m for m in killing)
    last = lab.kube.container_status(injection.pod, injection.app).get("lastState", {}).get("terminated", {})
    artifacts.record(
        "liveness_restart",
        fault=injection.fault,
        app=injection.app,
        seconds=round(elapsed, 1),
        detection_bound=injection.probe.detection_bound(injection.extra),
        deadline=injection.deadline,
        exit_code=last.get("exitCode"),
        reason=last.get("reason"),
        first_unhealthy=unhealthy[0],
    )
    return elapsed


@pytest.mark.parametrize("fault", PATCHED)
def test_liveness_probe_renamed_restarts_the_container(deployed_lab, artifacts, fault):
    """(a) the probe's path renamed to one that 404s, (b) its port renamed to one nothing listens on."""
    injections = [break_liveness(deployed_lab, app, fault) for app in SERVICES]
    try:
        for injection in injections:
            check_restart(deployed_lab, injection, artifacts)
    finally:
        for app in SERVICES:  # the patched probe keeps failing: put the manifests back for the next test
            restore(deployed_lab, app)


@pytest.mark.parametrize("fault", SELF_HEALING)
def test_liveness_fault_in_running_container_restarts_and_heals(deployed_lab, artifacts, fault):
    """(c) fault switch via ``kill -USR1 1``, (d) hung worker via ``kill -USR2 1`` (heartbeat goes stale).

    The switch lives in the process's memory, so the restarted container must be healthy again and stay up for
    another full probe window (including the heartbeat age, so a hang surviving the restart would show).
    """
    injections = [break_liveness(deployed_lab, app, fault) for app in SERVICES]
    for injection in injections:
        check_restart(deployed_lab, injection, artifacts)
    counts = healthy_again(deployed_lab, *injections)
    assert counts == {i.app: i.restarts_before + 1 for i in injections}, "each container restarted exactly once"
