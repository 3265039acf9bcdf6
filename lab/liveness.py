"""The four ways the lab breaks a liveness endpoint, and how to see Kubernetes react.

Shared by the e2e liveness tests and the fault catalogue (tests/e2e/faults), so a fault is written once:
- ``probe-path``   the Deployment's probe is patched to a path the server answers with 404 (the exercise's
                   "rename the endpoint"); a new pod rolls out and fails from its start;
- ``probe-port``   the probe is patched to a port nothing listens on (the exercise's "rename the port");
- ``fault-switch`` ``kubectl exec POD -- sh -c 'kill -USR1 1'`` turns /health to 503 in the running container;
- ``hung-worker``  ``kill -USR2 1`` hangs the worker loop; /health turns 503 once the heartbeat is older than
                   HEARTBEAT_MAX_AGE_SECONDS.
The first two persist (the patched pod crash-loops until the manifests are re-applied); the last two live in the
process's memory, so the restart itself heals them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from lab.deploy import Lab
from lab.kube import holds, wait_for
from lab.probes import RESTART_SLACK_SECONDS, Probe

FAULTS = ("probe-path", "probe-port", "fault-switch", "hung-worker")
PATCHED = ("probe-path", "probe-port")
RENAMED_PATH = "/health-renamed"
SIGNALS = {"fault-switch": "USR1", "hung-worker": "USR2"}
UNHEALTHY = "Liveness probe failed"
KILLING = "failed liveness probe, will be restarted"


@dataclass(frozen=True)
class Injection:
    """One injected liveness fault: where, when, and the bound Kubernetes must meet."""

    app: str
    fault: str
    pod: str
    restarts_before: int
    probe: Probe
    extra: float  # seconds before the fault is visible to the probe at all (heartbeat max age for hung-worker)
    started: float  # time.monotonic() when the fault was in place (patched: when the patched pod was rolled out)
    wall: float  # time.time() at the same moment, for reports

    @property
    def deadline(self) -> float:
        """Restart deadline from `Probe.restart_deadline`: detection bound + extra + grace period + slack."""
        return self.probe.restart_deadline(self.extra)


def break_liveness(lab: Lab, app: str, fault: str) -> Injection:
    """Inject ``fault`` into ``app`` and return the injection record (restart not awaited)."""
    if fault not in FAULTS:
        raise ValueError(f"unknown liveness fault {fault!r}; choose from {FAULTS}")
    probe = lab.probe(app)
    extra = lab.heartbeat_max_age(app) if fault == "hung-worker" else 0.0
    if fault in PATCHED:
        lab.kube("patch", "deployment", app, "--type=json", "-p", json.dumps(probe_patch(lab, app, fault)))
        lab.wait_rolled_out((app,))  # readiness (/ready) is untouched, so the patched pod does become Ready
        pod, before = lab.pod(app), 0  # a new pod: its count starts at 0 (it may have restarted already)
        probe = lab.probe(app)
    else:
        pod = lab.pod(app)
        before = lab.kube.restart_count(pod, app)
        lab.kube.exec(pod, app, "sh", "-c", f"kill -{SIGNALS[fault]} 1")
    return Injection(app, fault, pod, before, probe, extra, time.monotonic(), time.time())


def probe_patch(lab: Lab, app: str, fault: str) -> list[dict]:
    """JSON patch that points ``app``'s liveness probe at a path that 404s or a port nothing listens on."""
    spec = lab.kube.deployment(app)["spec"]["template"]["spec"]
    index = next(i for i, c in enumerate(spec["containers"]) if c["name"] == app)
    base = f"/spec/template/spec/containers/{index}/livenessProbe/httpGet"
    if fault == "probe-path":
        return [{"op": "replace", "path": f"{base}/path", "value": RENAMED_PATH}]
    port = spec["containers"][index]["livenessProbe"]["httpGet"]["port"]
    if isinstance(port, str):  # a named port: resolve it, then move one up
        port = next(p["containerPort"] for p in spec["containers"][index].get("ports", []) if p.get("name") == port)
    return [{"op": "replace", "path": f"{base}/port", "value": int(port) + 1}]


def await_restart(lab: Lab, injection: Injection) -> float:
    """Wait until restartCount exceeds the count before the fault; return seconds since the fault was in place.

    The deadline runs from ``injection.started``, not from this call, so awaiting several injections one after
    the other does not stretch the later ones' bounds.
    """
    remaining = max(0.0, injection.deadline - (time.monotonic() - injection.started))
    wait_for(
        lambda: lab.kube.restart_count(injection.pod, injection.app) > injection.restarts_before,
        remaining,
        what=f"restart of {injection.app} after {injection.fault} (deadline {injection.deadline:.0f} s)",
    )
    elapsed = time.monotonic() - injection.started
    assert elapsed <= injection.deadline + 1, f"{injection.app} restarted after {elapsed:.0f} s > deadline"
    return elapsed


def liveness_events(lab: Lab, pod: str, deadline: float = RESTART_SLACK_SECONDS) -> tuple[list[str], list[str]]:
    """The "Liveness probe failed" (Unhealthy) and "failed liveness probe, will be restarted" (Killing) messages.

    Both are recorded by the kubelet before the restart, so once restartCount moved they exist; ``deadline`` (the
    stated slack) only covers the event reaching the API server.
    """

    def found():
        events = lab.kube.events(pod)
        unhealthy = [e["message"] for e in events if e.get("reason") == "Unhealthy" and UNHEALTHY in e["message"]]
        killing = [e["message"] for e in events if e.get("reason") == "Killing" and KILLING in e["message"]]
        return (unhealthy, killing) if unhealthy and killing else None

    return wait_for(found, deadline, what=f"liveness events of {pod}")


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
