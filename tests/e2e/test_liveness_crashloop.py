"""A liveness failure that persists drives the pod into CrashLoopBackOff with growing back-off delays.

The fault is the exercise's own: the probe's path renamed, which no restart can heal. The kubelet restarts the
first time at once, then waits 10 s, 20 s, 40 s … (capped at 300 s) before each next start; the test records the
delays it actually applied and asserts that they grow.
"""

from lab.crashloop import observe_backoff
from lab.liveness import break_liveness, liveness_events
from lab.probes import backoff_delay, crashloop_deadline, grows

RESTARTS = 3  # restart 1 is immediate, 2 and 3 wait 10 s and 20 s: enough to see growth, ~2 minutes in all


def test_persistent_liveness_failure_crashloops_with_growing_backoff(deployed_lab, artifacts):
    injection = break_liveness(deployed_lab, "producer", "probe-path")
    # Each cycle: the container runs until the probe gives up, is stopped, then waits out the back-off.
    deadline = crashloop_deadline(injection.probe, RESTARTS)
    backoff = observe_backoff(deployed_lab.kube, injection.pod, "producer", RESTARTS, deadline)
    delays = backoff.ordered()
    artifacts.record(
        "crashloop_backoff",
        delays=delays,
        expected=[backoff_delay(n) for n in range(1, RESTARTS + 1)],
        waiting_reasons=sorted(backoff.waiting_reasons),
        deadline=deadline,
    )

    assert "CrashLoopBackOff" in backoff.waiting_reasons
    assert grows(delays), f"back-off delays did not grow: {delays}"
    for restart, delay in enumerate(delays, start=1):
        # Timestamps have 1 s resolution, so allow 1 s below the kubelet's schedule.
        assert delay >= backoff_delay(restart) - 1, f"restart {restart} came after {delay} s"
    unhealthy, killing = liveness_events(deployed_lab, injection.pod)
    assert unhealthy and killing
    back_off = [e for e in deployed_lab.kube.events(injection.pod) if e.get("reason") == "BackOff"]
    assert back_off and "Back-off restarting failed container" in back_off[-1]["message"]
