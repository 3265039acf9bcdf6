"""A liveness failure that persists, and the kubelet's restart back-off observed on it.

What the lab measured (see tests/e2e/test_liveness_crashloop.py): with the lab's own probe settings a container
failing liveness is killed every ~17-20 s and restarted *at once*, three times in a row, with no back-off. The kubelet
(v1.34.12, ``kuberuntime_manager.go`` ``doBackOff``) computes the back-off from the last container that had already
*exited* when it decides; the one it kills for a failed probe in the same sync has not exited yet, so the delay is
measured from an older container (kubernetes/kubernetes#22240, #99697). Back-off only shows once it exceeds the time a
container lives. So the test makes the failure fast (probe at once, every second, one failure is enough).

Even then a restart can come at once *after* back-off has shown: CI on kind (2026-11-30) saw delays
[0, 0, 15, 0] — the fourth generation was killed more than 20 s (the back-off then) after the third had finished,
because the kill itself (SIGTERM, drain) took seconds under load, so the same-sync check passed. That is the kubelet's
rule, not a shrinking back-off. What the kubelet guarantees is about the waits it *imposes* (the generations it held in
``CrashLoopBackOff``): the n-th imposed wait is at least the schedule's n-th step (10 s, 20 s, 40 s …), because the
back-off doubles at every start that passes the check; and a restart it did not hold comes at once. ``problems``
checks exactly that.

Delays are read from container status: each generation's ``startedAt`` (running or ``lastState.terminated``) and
``finishedAt`` (``lastState.terminated``); delay before generation n = its start − generation n−1's finish
(API timestamps, 1 s resolution). ``waiting.reason: CrashLoopBackOff`` is recorded whenever it is seen, together with
the generation it held back (``lastState.terminated.startedAt``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lab.deploy import Lab
from lab.kube import container_spec, wait_for
from lab.liveness import RENAMED_PATH
from lab.probes import RESTART_SLACK_SECONDS, Probe, backoff_delay, grows
from lab.times import API_TIMESTAMP_RESOLUTION_SECONDS, parse_time

CRASH_LOOP = "CrashLoopBackOff"
# A restart the kubelet did not hold comes at once; API timestamps have 1 s resolution, a sync takes a moment.
IMMEDIATE_SECONDS = 2.0

# The probe the persistent failure uses: path that 404s, probed at once, every second, first failure restarts.
FAST_FAILING = {"initialDelaySeconds": 0, "periodSeconds": 1, "timeoutSeconds": 1, "failureThreshold": 1}


@dataclass
class Backoff:
    """Container generations seen (startedAt → finishedAt or None) and the waiting reasons seen in between."""

    finished: dict[str, str | None] = field(default_factory=dict)
    waiting_reasons: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)  # startedAt of generations whose successor waited in CrashLoopBackOff
    max_restarts: int = 0

    def observe(self, status: dict) -> None:
        """Take one container status reading into account."""
        state = status.get("state", {})
        reason = state.get("waiting", {}).get("reason")
        if reason:
            self.waiting_reasons.add(reason)
        last = status.get("lastState", {}).get("terminated") or {}
        if reason == CRASH_LOOP and last.get("startedAt"):
            self.held.add(last["startedAt"])
        if state.get("running"):
            self.finished.setdefault(state["running"]["startedAt"], None)
        for terminated in (state.get("terminated"), status.get("lastState", {}).get("terminated")):
            if terminated and terminated.get("startedAt"):
                self.finished[terminated["startedAt"]] = terminated.get("finishedAt")
        self.max_restarts = max(self.max_restarts, int(status.get("restartCount", 0)))

    def restarts(self) -> list[tuple[float, bool]]:
        """Each restart, oldest first: seconds from the previous generation's finish to its start, and whether the
        kubelet held it in CrashLoopBackOff."""
        starts = sorted(self.finished, key=lambda started: parse_time(started) or 0.0)
        out = []
        for before, after in zip(starts, starts[1:], strict=False):
            if self.finished[before] is None:
                break
            start, end = parse_time(after), parse_time(self.finished[before])
            if start is None or end is None:
                break
            out.append((start - end, before in self.held))
        return out

    def delays(self) -> list[float]:
        """Seconds between each generation's finish and the next one's start, oldest first."""
        return [delay for delay, _ in self.restarts()]

    def imposed(self) -> list[float]:
        """The waits the kubelet imposed: delays of the restarts it held in CrashLoopBackOff, oldest first."""
        return [delay for delay, held in self.restarts() if held]

    def complete(self) -> bool:
        """Every generation up to restartCount was seen (none slipped between two polls)."""
        return len(self.finished) == self.max_restarts + 1


def problems(backoff: Backoff, waits: int) -> list[str]:
    """What contradicts the kubelet's back-off rule in what was observed (empty = the rule held).

    ``waits``: how many imposed waits must have been seen. The n-th imposed wait must last at least the schedule's
    n-th step (``backoff_delay(n + 1)``, minus the timestamps' 1 s) and be longer than the one before; a restart the
    kubelet did not hold must come at once (else a CrashLoopBackOff went unseen between polls).
    """
    out = [] if backoff.complete() else [f"a container generation slipped between polls: {backoff.finished}"]
    imposed = backoff.imposed()
    if len(imposed) < waits:
        out.append(f"{len(imposed)} imposed back-off waits seen, {waits} wanted: {backoff.restarts()}")
    for n, wait in enumerate(imposed, start=1):
        if wait < backoff_delay(n + 1) - API_TIMESTAMP_RESOLUTION_SECONDS:
            out.append(f"imposed wait {n} lasted {wait} s, the schedule says at least {backoff_delay(n + 1)} s")
    if len(imposed) >= 2 and not grows(imposed):
        out.append(f"imposed back-off waits did not grow: {imposed}")
    out += [
        f"restart {n} came {delay} s after the previous finish with no CrashLoopBackOff seen"
        for n, (delay, held) in enumerate(backoff.restarts(), start=1)
        if not held and delay > IMMEDIATE_SECONDS
    ]
    return out


def persistent_liveness_failure(lab: Lab, app: str) -> tuple[str, Probe]:
    """Patch ``app``'s liveness probe to fail at once and forever; return the new pod and the live probe.

    The patched pod never becomes Ready, so the rollout stalls by design (the old pod keeps serving); the new pod
    is the one the controller creates after the patch.
    """
    old = {p["metadata"]["name"] for p in lab.kube.pods(app)}
    spec = lab.kube.deployment(app)["spec"]["template"]["spec"]
    index, _ = container_spec(spec, app)
    base = f"/spec/template/spec/containers/{index}/livenessProbe"
    ops: list[dict[str, object]] = [{"op": "replace", "path": f"{base}/httpGet/path", "value": RENAMED_PATH}]
    ops += [{"op": "replace", "path": f"{base}/{key}", "value": value} for key, value in FAST_FAILING.items()]
    lab.kube("patch", "deployment", app, "--type=json", "-p", json.dumps(ops))

    def new_pod():
        return next((p["metadata"]["name"] for p in lab.kube.pods(app) if p["metadata"]["name"] not in old), None)

    pod = wait_for(new_pod, RESTART_SLACK_SECONDS, what=f"the patched {app} pod")
    return pod, Probe.from_pod_template(lab.kube.json("get", "pod", pod)["spec"], app)


def observe_backoff(lab: Lab, pod: str, container: str, waits: int, deadline: float) -> Backoff:
    """Poll the container's status twice a second until ``waits`` imposed back-off waits are known."""
    backoff = Backoff()

    def enough() -> bool:
        backoff.observe(lab.kube.container_status(pod, container))
        return len(backoff.imposed()) >= waits

    wait_for(enough, deadline, interval=0.5, what=f"{waits} back-off waits of {container} in {pod}")
    return backoff
