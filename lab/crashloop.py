"""A liveness failure that persists, and the kubelet's restart back-off observed on it.

What the lab measured (see tests/e2e/test_liveness_crashloop.py): with the lab's own probe settings a container
failing liveness is killed every ~17-20 s and restarted *at once*, three times in a row, with no back-off. The kubelet
computes the back-off from the last container that had already *exited* when it decides; the one it kills for a
failed probe in the same sync has not exited yet, so the delay is measured from an older container
(kubernetes/kubernetes#22240, #99697). Back-off only shows once it exceeds the time a container lives. So the test
makes the failure fast (probe at once, every second, one failure is enough): then the kubelet restarts the first
ones immediately and the next ones after 10 s, 20 s … — CrashLoopBackOff.

Delays are read from container status: each generation's ``startedAt`` (running or ``lastState.terminated``) and
``finishedAt`` (``lastState.terminated``); delay before generation n = its start − generation n−1's finish
(API timestamps, 1 s resolution). ``waiting.reason: CrashLoopBackOff`` is recorded whenever it is seen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lab.deploy import Lab
from lab.kube import container_spec, wait_for
from lab.liveness import RENAMED_PATH
from lab.probes import RESTART_SLACK_SECONDS, Probe
from lab.times import parse_time

# The probe the persistent failure uses: path that 404s, probed at once, every second, first failure restarts.
FAST_FAILING = {"initialDelaySeconds": 0, "periodSeconds": 1, "timeoutSeconds": 1, "failureThreshold": 1}


@dataclass
class Backoff:
    """Container generations seen (startedAt → finishedAt or None) and the waiting reasons seen in between."""

    finished: dict[str, str | None] = field(default_factory=dict)
    waiting_reasons: set[str] = field(default_factory=set)
    max_restarts: int = 0

    def observe(self, status: dict) -> None:
        """Take one container status reading into account."""
        state = status.get("state", {})
        if state.get("waiting", {}).get("reason"):
            self.waiting_reasons.add(state["waiting"]["reason"])
        if state.get("running"):
            self.finished.setdefault(state["running"]["startedAt"], None)
        for terminated in (state.get("terminated"), status.get("lastState", {}).get("terminated")):
            if terminated and terminated.get("startedAt"):
                self.finished[terminated["startedAt"]] = terminated.get("finishedAt")
        self.max_restarts = max(self.max_restarts, int(status.get("restartCount", 0)))

    def delays(self) -> list[float]:
        """Seconds between each generation's finish and the next one's start, oldest first."""
        starts = sorted(self.finished, key=parse_time)
        out = []
        for before, after in zip(starts, starts[1:], strict=False):
            if self.finished[before] is None:
                break
            start, end = parse_time(after), parse_time(self.finished[before])
            if start is None or end is None:
                break
            out.append(start - end)
        return out

    def complete(self) -> bool:
        """Every generation up to restartCount was seen (none slipped between two polls)."""
        return len(self.finished) == self.max_restarts + 1


def persistent_liveness_failure(lab: Lab, app: str) -> tuple[str, Probe]:
    """Patch ``app``'s liveness probe to fail at once and forever; return the new pod and the live probe.

    The patched pod never becomes Ready, so the rollout stalls by design (the old pod keeps serving); the new pod
    is the one the controller creates after the patch.
    """
    old = {p["metadata"]["name"] for p in lab.kube.pods(app)}
    spec = lab.kube.deployment(app)["spec"]["template"]["spec"]
    index, _ = container_spec(spec, app)
    base = f"/spec/template/spec/containers/{index}/livenessProbe"
    ops = [{"op": "replace", "path": f"{base}/httpGet/path", "value": RENAMED_PATH}]
    ops += [{"op": "replace", "path": f"{base}/{key}", "value": value} for key, value in FAST_FAILING.items()]
    lab.kube("patch", "deployment", app, "--type=json", "-p", json.dumps(ops))

    def new_pod():
        return next((p["metadata"]["name"] for p in lab.kube.pods(app) if p["metadata"]["name"] not in old), None)

    pod = wait_for(new_pod, RESTART_SLACK_SECONDS, what=f"the patched {app} pod")
    return pod, Probe.from_pod_template(lab.kube.json("get", "pod", pod)["spec"], app)


def observe_backoff(lab: Lab, pod: str, container: str, restarts: int, deadline: float) -> Backoff:
    """Poll the container's status twice a second until ``restarts`` restart delays are known."""
    backoff = Backoff()

    def enough() -> bool:
        backoff.observe(lab.kube.container_status(pod, container))
        return len(backoff.delays()) >= restarts

    wait_for(enough, deadline, interval=0.5, what=f"{restarts} restarts of {container} in {pod}")
    return backoff
