"""The four ways the lab breaks a liveness endpoint, and how to see Kubernetes react.

Shared by the e2e liveness tests and the fault catalogue (tests/e2e/faults), so a fault is written once:
- ``probe-path``   the Deployment's probe is patched to a path the server answers with 404 (the exercise's
                   "rename the endpoint"); a new pod rolls out and fails from its start;
- ``probe-port``   the probe is patched to a port nothing listens on (the exercise's "rename the port");
- ``fault-switch`` ``kubectl exec POD -- sh -c 'kill -USR1 1'`` turns /health to 503 in the running container;
- ``hung-worker``  ``kill -USR2 1`` hangs the worker loop; /health turns 503 once the heartbeat is older than
                   HEARTBEAT_MAX_AGE_SECONDS.
The first two persist (the patched pod crash-loops until the manifests are re-applied); the last two live in the
process's memory, so the restart itself heals them. Whether a restart really answered the injected fault, and in
time, is judged by `lab.detection.judge` and `lab.verdict`; this module injects, waits and reads the evidence.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from lab.deploy import Lab
from lab.detection import Judgement, fault_events, fault_time, judge
from lab.kube import container_spec, holds, wait_for
from lab.logfollow import LogFollower
from lab.probes import RESTART_SLACK_SECONDS, Probe
from lab.services import live_config
from lab.times import parse_time

FAULTS = ("probe-path", "probe-port", "fault-switch", "hung-worker")
PATCHED = ("probe-path", "probe-port")
RENAMED_PATH = "/health-renamed"
SIGNALS = {"fault-switch": "USR1", "hung-worker": "USR2"}


@dataclass(frozen=True)
class Injection:
    """One injected liveness fault: where, when, and the bound Kubernetes must meet."""

    app: str
    fault: str
    pod: str
    restarts_before: int  # also the generation (restartCount) of the container the fault was injected into
    probe: Probe
    extra: float  # latest the fault becomes visible to the probe (heartbeat max age for hung-worker), else 0
    visible_after: float  # earliest it becomes visible (heartbeat max age − the longest healthy beat gap), else 0
    container_started: float | None  # startedAt of the container the fault was injected into (API, whole seconds)
    started: float  # time.monotonic() when the fault was in place (patched: when the patched pod was rolled out)
    wall: float  # time.time() at the same moment, for reports

    @property
    def from_start(self) -> bool:
        """A patched probe fails from the container's start, so its initial delay counts towards the bound."""
        return self.fault in PATCHED

    @property
    def deadline(self) -> float:
        """Restart deadline from `Probe.restart_deadline`: detection bound + extra + grace period + slack."""
        return self.probe.restart_deadline(self.extra)


def break_liveness(lab: Lab, app: str, fault: str) -> Injection:
    """Inject ``fault`` into ``app`` and return the injection record (restart not awaited)."""
    if fault not in FAULTS:
        raise ValueError(f"unknown liveness fault {fault!r}; choose from {FAULTS}")
    probe = lab.probe(app)
    extra = visible_after = 0.0
    if fault == "hung-worker":  # the beat freezes at the signal; its age then was between 0 and the longest gap
        extra = lab.heartbeat_max_age(app)
        visible_after = extra - float(live_config(lab, app).longest_beat_gap)
    if fault in PATCHED:
        lab.kube("patch", "deployment", app, "--type=json", "-p", json.dumps(probe_patch(lab, app, fault)))
        lab.wait_rolled_out((app,))  # readiness (/ready) is untouched, so the patched pod does become Ready
        pod, before = lab.pod(app), 0  # a new pod: its count starts at 0 (it may have restarted already)
        probe = lab.probe(app)
    else:
        pod = lab.pod(app)
        before = lab.kube.restart_count(pod, app)
        lab.kube.exec(pod, app, "sh", "-c", f"kill -{SIGNALS[fault]} 1")
    monotonic, wall = time.monotonic(), time.time()
    status = lab.kube.container_status(pod, app)
    started = parse_time((status.get("state", {}).get("running") or {}).get("startedAt"))
    if int(status.get("restartCount", 0)) != before:  # restarted between the injection and this read
        started = None  # judge() then reports that the restarted container cannot be tied to the injection
    return Injection(app, fault, pod, before, probe, extra, visible_after, started, monotonic, wall)


def probe_patch(lab: Lab, app: str, fault: str) -> list[dict]:
    """JSON patch that points ``app``'s liveness probe at a path that 404s or a port nothing listens on."""
    spec = lab.kube.deployment(app)["spec"]["template"]["spec"]
    index, container = container_spec(spec, app)
    base = f"/spec/template/spec/containers/{index}/livenessProbe/httpGet"
    if fault == "probe-path":
        return [{"op": "replace", "path": f"{base}/path", "value": RENAMED_PATH}]
    port = container["livenessProbe"]["httpGet"]["port"]
    if isinstance(port, str):  # a named port: resolve it, then move one up
        port = next(p["containerPort"] for p in container.get("ports", []) if p.get("name") == port)
    return [{"op": "replace", "path": f"{base}/port", "value": int(port) + 1}]


def await_restart(lab: Lab, injection: Injection) -> float:
    """Wait until restartCount exceeds the count before the fault; return seconds since the fault was in place.

    Only a wait: its deadline (`Probe.restart_deadline`: detection bound + grace period + slack) is how long the
    test is willing to wait for the restart to show in the API, not the claim. The claim — decided within the
    probe bound — is `lab.verdict.detection_problems` on `examine`'s recovery. The deadline runs from
    ``injection.started``, so awaiting several injections one after the other does not stretch the later ones.
    """
    remaining = max(0.0, injection.deadline - (time.monotonic() - injection.started))
    wait_for(
        lambda: lab.kube.restart_count(injection.pod, injection.app) > injection.restarts_before,
        remaining,
        what=f"restart of {injection.app} after {injection.fault} (deadline {injection.deadline:.0f} s)",
    )
    return time.monotonic() - injection.started


def killed_log(lab: Lab, injection: Injection, follower: LogFollower | None = None) -> str:
    """``logs --previous --timestamps`` of the restarted container: the one the fault was injected into as long
    as it restarted once (`judge` checks that through its startedAt).

    Retried for the stated slack: right after restartCount moved, the API can still answer "previous terminated
    container ... not found" (CI on kind, 2026-12-03; the kubelet's view lags the runtime, kubernetes#101044). On kind
    the same day it kept answering that for the whole slack after a liveness restart; with a ``follower`` started
    before the injection, its copy of the killed generation (the same ``--timestamps`` lines, read while they were
    written) is used then, and the test still fails if neither has it.
    """
    try:
        return wait_for(
            lambda: lab.kube("logs", "--timestamps", "--previous", injection.pod, "-c", injection.app),
            RESTART_SLACK_SECONDS,
            what=f"the killed container's log (logs --previous {injection.pod})",
        )
    except AssertionError:
        if follower is None:
            raise
        follower.scan()
        text = follower.generation_text(injection.pod, injection.restarts_before)
        if not text.strip():
            raise
        return text


def liveness_events(lab: Lab, pod: str, after: float, deadline: float = RESTART_SLACK_SECONDS) -> tuple[list, list]:
    """The liveness Unhealthy and Killing messages about ``pod`` recorded at or after ``after``.

    Both are recorded by the kubelet before the restart, so once restartCount moved they exist; ``deadline`` (the
    stated slack) only covers the event reaching the API server. Returns whatever was found by then.
    """

    def found():
        unhealthy, killing = fault_events(lab.kube.events(pod), pod, after)
        return (unhealthy, killing) if unhealthy and killing else None

    try:
        return wait_for(found, deadline, what=f"liveness events of {pod} after the fault")
    except AssertionError:
        return fault_events(lab.kube.events(pod), pod, after)


def restarted_status(lab: Lab, injection: Injection, deadline: float = RESTART_SLACK_SECONDS) -> dict:
    """The injected container's status once it shows its terminated generation (`status_after_restart`)."""
    return status_after_restart(lab, injection.pod, injection.app, deadline)


def status_after_restart(lab: Lab, pod: str, app: str, deadline: float = RESTART_SLACK_SECONDS) -> dict:
    """A restarted container's status once it shows the terminated generation (``lastState.terminated``).

    restartCount can move before the API shows the last state (the parallel kind run of 2026-12-04 21:00 UTC read a
    status without it right after a probe-path restart: "started None"; the cold CI run of 2026-12-04 23:11 UTC did
    the same after a CPU-starvation restart); the stated slack covers that lag, like the killed log's
    (kubernetes#101044). After it, the last read is returned and the caller's check reports what is missing.
    """
    last: dict = {}

    def shown() -> dict | None:
        nonlocal last
        last = lab.kube.container_status(pod, app)
        return last if (last.get("lastState") or {}).get("terminated") else None

    try:
        return wait_for(shown, deadline, what=f"the last state of {pod} after its restart")
    except AssertionError:
        return last


def examine(lab: Lab, injection: Injection, log_text: str) -> Judgement:
    """Judge the restart that followed ``injection`` (``log_text``: the killed container's timestamped log)."""
    status = restarted_status(lab, injection)
    after = fault_time(injection, log_text)
    liveness_events(lab, injection.pod, injection.wall if after is None else after)  # events reach the API server
    return judge(injection, log_text, status, lab.kube.events(injection.pod))


def restore(lab: Lab, app: str) -> None:
    """Undo a patched probe by re-applying the manifests, and wait for the rollout."""
    lab.apply()
    lab.wait_rolled_out((app,))


def healthy_again(lab: Lab, *injections: Injection) -> dict[str, int]:
    """After self-healing faults: Ready again, /health UP, and no further restart for a whole probe window.

    Returns each app's restart count that held. The window includes ``extra`` so a hang that survived the restart
    would have been caught; several injections share one window (their pods are independent).
    """
    counts: dict[str, int] = {}
    for injection in injections:
        readiness = lab.probe(injection.app, "readinessProbe")
        lab.kube.wait("condition=Ready", readiness.initial_delay + readiness.ready_deadline(), f"pod/{injection.pod}")
        body = lab.kube.exec(injection.pod, injection.app, "curl", "-s", "http://0.0.0.0:5000/health")
        assert body == '{"status": "UP!"}', f"{injection.app} /health after restart: {body!r}"
        counts[injection.app] = lab.kube.restart_count(injection.pod, injection.app)
    window = max(injection.probe.window(injection.extra) for injection in injections)

    def unchanged() -> bool:
        return all(lab.kube.restart_count(i.pod, i.app) == counts[i.app] for i in injections)

    assert holds(unchanged, window, interval=2), f"a container restarted again within {window:.0f} s of recovering"
    return counts
