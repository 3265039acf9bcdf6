"""A liveness failure that persists drives the pod into CrashLoopBackOff with growing back-off delays.

The fault is the exercise's own — the probe's path renamed, which no restart heals — made fast (probed at once,
every second, first failure restarts), because the kubelet measures back-off from the last container that had
already exited: with the lab's 17-20 s liveness cycle it restarts a few times at once before back-off shows (see
lab/crashloop.py, and the restart records of test_liveness_restarts). The test records the delays it observed.
"""

import time

from lab.crashloop import observe_backoff, persistent_liveness_failure
from lab.liveness import liveness_events
from lab.probes import BACKOFF_INITIAL_SECONDS, crashloop_deadline, grows

RESTARTS = 4  # restarts 1-2 come at once, then the kubelet waits ~10 s and ~20 s: growth shows within ~1 minute


def test_persistent_liveness_failure_crashloops_with_growing_backoff(deployed_lab, artifacts):
    patched = time.time()
    pod, probe = persistent_liveness_failure(deployed_lab, "producer")
    # Upper bound: each cycle runs to the (patched) probe's restart deadline, then waits the kubelet's schedule.
    deadline = crashloop_deadline(probe, RESTARTS)
    backoff = observe_backoff(deployed_lab, pod, "producer", RESTARTS, deadline)
    delays = backoff.delays()
    artifacts.record("crashloop_backoff", delays=delays, waiting=sorted(backoff.waiting_reasons), deadline=deadline)

    assert backoff.complete(), f"a container generation slipped between polls: {backoff.finished}"
    assert "CrashLoopBackOff" in backoff.waiting_reasons
    assert max(delays) >= BACKOFF_INITIAL_SECONDS - 1, f"no back-off applied: {delays}"
    assert grows(delays[-2:]), f"back-off delays did not grow: {delays}"
    assert all(b >= a - 1 for a, b in zip(delays, delays[1:], strict=False)), f"a delay shrank: {delays}"
    unhealthy, killing = liveness_events(deployed_lab, pod, patched)
    assert unhealthy and killing
    back_off = [e for e in deployed_lab.kube.events(pod) if e.get("reason") == "BackOff"]
    assert back_off and "Back-off restarting failed container" in back_off[-1]["message"]
