"""Observing the kubelet's restart back-off on a container whose liveness keeps failing.

Why container status and not events: each time the container runs again, its status holds the previous
container's ``lastState.terminated.finishedAt`` next to the new ``state.running.startedAt``; their difference is
the back-off the kubelet actually applied (API timestamps, 1 s resolution). Between restarts the status shows
``waiting.reason: CrashLoopBackOff``, which is recorded as it is seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.kube import Kube, parse_time, wait_for


@dataclass
class Backoff:
    """Delays (seconds) before restart 1, 2, … and the waiting reasons seen in between."""

    delays: dict[int, float] = field(default_factory=dict)
    waiting_reasons: set[str] = field(default_factory=set)

    def ordered(self) -> list[float]:
        return [self.delays[n] for n in sorted(self.delays)]

    def observe(self, status: dict) -> None:
        """Take one container status reading into account."""
        state = status.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            self.waiting_reasons.add(state["waiting"]["reason"])
        running = state.get("running")
        last = status.get("lastState", {}).get("terminated")
        count = int(status.get("restartCount", 0))
        if running and last and count not in self.delays:
            started, finished = parse_time(running["startedAt"]), parse_time(last["finishedAt"])
            self.delays[count] = (started - finished).total_seconds()


def observe_backoff(kube: Kube, pod: str, container: str, restarts: int, deadline: float) -> Backoff:
    """Poll the container's status every second until the delays of restarts 1..``restarts`` are known.

    A restart whose running phase fell between two polls would leave a gap; the liveness-failure cycle keeps each
    container running for at least the probe's failure window (seconds), so one-second polls see every one.
    """
    backoff = Backoff()

    def complete() -> bool:
        backoff.observe(kube.container_status(pod, container))
        return all(n in backoff.delays for n in range(1, restarts + 1))

    wait_for(complete, deadline, interval=1.0, what=f"{restarts} restarts of {container} in {pod}")
    return backoff
