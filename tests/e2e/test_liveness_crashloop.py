"""A liveness failure that persists drives the pod into CrashLoopBackOff with growing back-off waits.

The fault is the exercise's own — the probe's path renamed, which no restart heals — made fast (probed at once,
every second, first failure restarts), because the kubelet measures back-off from the last container that had
already exited: with the lab's 17-20 s liveness cycle it restarts a few times at once before back-off shows (see
lab/crashloop.py, and the restart records of test_liveness_restarts). For the same reason a restart can still come
at once between two held ones (CI on kind saw [0, 0, 15, 0]); the claim checked is the kubelet's rule: the waits it
imposes in CrashLoopBackOff follow its schedule (≥ 10 s, ≥ 20 s, …) and grow, every other restart comes at once.
"""

import time

from lab.crashloop import CRASH_LOOP, observe_backoff, persistent_liveness_failure, problems
from lab.liveness import liveness_events
from lab.probes import crashloop_deadline

WAITS = 2  # imposed back-off waits to see: two are enough to show growth (10 s, then ≥ 20 s)
# Restarts by which WAITS imposed waits must have come: two at once (no exited container, then no back-off entry),
# the first wait, at most one more at once (the kill outlasted the back-off, as on CI), then the back-off (≥ 40 s)
# exceeds a fast-failing container's whole life (detection + grace), so the next restart is held.
RESTARTS_AT_MOST = 5


def test_persistent_liveness_failure_crashloops_with_growing_backoff(deployed_lab, artifacts):
    patched = time.time()
    pod, probe = persistent_liveness_failure(deployed_lab, "producer")
    # Upper bound: each cycle runs to the (patched) probe's restart deadline, then waits the kubelet's schedule.
    deadline = crashloop_deadline(probe, RESTARTS_AT_MOST)
    backoff = observe_backoff(deployed_lab, pod, "producer", WAITS, deadline)
    artifacts.record(
        "crashloop_backoff",
        delays=backoff.delays(),
        imposed=backoff.imposed(),
        waiting=sorted(backoff.waiting_reasons),
        deadline=deadline,
    )

    assert problems(backoff, WAITS) == []
    assert CRASH_LOOP in backoff.waiting_reasons
    unhealthy, killing = liveness_events(deployed_lab, pod, patched)
    assert unhealthy and killing
    back_off = [e for e in deployed_lab.kube.events(pod) if e.get("reason") == "BackOff"]
    assert back_off and "Back-off restarting failed container" in back_off[-1]["message"]
