"""Breaking the /health endpoint restarts the container — each of the four ways separately, on both services.

Both services are broken at once (they are independent Deployments), which halves the wall time; each keeps its
own deadline, counted from its own injection. How long the test waits for restartCount to move comes from
`lab.probes.Probe.restart_deadline` on the live probe (detection bound + grace period + RESTART_SLACK_SECONDS); what
it asserts is stricter and is the fault catalogue's own verdict: the restart is tied to this injection and was
decided within the probe bound (`lab.detection.judge`, `lab.verdict.detection_problems`).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lab.deploy import SERVICES
from lab.liveness import PATCHED, await_restart, break_liveness, examine, healthy_again, killed_log, restore
from lab.logfollow import LogFollower
from lab.verdict import detection_problems

SELF_HEALING = ("fault-switch", "hung-worker")


@contextmanager
def following(lab, artifacts, fault: str) -> Iterator[LogFollower]:
    """The namespace's container logs followed from before the injection: the killed container's own lines, should
    the API lose them after the restart (`lab.liveness.killed_log`)."""
    with LogFollower(lab.kube, artifacts.folder(f"logs-{lab.namespace}-{fault}")) as follower:
        yield follower


def check_restart(lab, injection, artifacts, follower):
    """restartCount +1, tied to this injection and decided inside the probe bound; returns the decision time."""
    elapsed = await_restart(lab, injection)
    judgement = examine(lab, injection, killed_log(lab, injection, follower))
    recovery = judgement.recovery
    problems = judgement.problems + detection_problems(recovery)
    artifacts.record(
        "liveness_restart",
        fault=injection.fault,
        app=injection.app,
        seconds=round(elapsed, 1),
        detection=recovery.detection,
        detection_bound=recovery.bound,
        earliest=recovery.earliest,
        excess=recovery.excess,
        problems=problems,
    )
    assert not problems, "; ".join(problems)
    return recovery.detection


@pytest.mark.parametrize("fault", PATCHED)
def test_liveness_probe_renamed_restarts_the_container(deployed_lab, artifacts, fault):
    """(a) the probe's path renamed to one that 404s, (b) its port renamed to one nothing listens on."""
    with following(deployed_lab, artifacts, fault) as follower:
        injections = [break_liveness(deployed_lab, app, fault) for app in SERVICES]
        try:
            for injection in injections:
                check_restart(deployed_lab, injection, artifacts, follower)
        finally:
            for app in SERVICES:  # the patched probe keeps failing: put the manifests back for the next test
                restore(deployed_lab, app)


@pytest.mark.parametrize("fault", SELF_HEALING)
def test_liveness_fault_in_running_container_restarts_and_heals(deployed_lab, artifacts, fault):
    """(c) fault switch via ``kill -USR1 1``, (d) hung worker via ``kill -USR2 1`` (heartbeat goes stale).

    The switch lives in the process's memory, so the restarted container must be healthy again and stay up for
    another full probe window (including the heartbeat age, so a hang surviving the restart would show).
    """
    with following(deployed_lab, artifacts, fault) as follower:
        injections = [break_liveness(deployed_lab, app, fault) for app in SERVICES]
        for injection in injections:
            check_restart(deployed_lab, injection, artifacts, follower)
    counts = healthy_again(deployed_lab, *injections)
    assert counts == {i.app: i.restarts_before + 1 for i in injections}, "each container restarted exactly once"
