"""CPU starvation: the services' CPU fault on a copy with a tight liveness probe, and on the lab's own settings.

The fault switch is the services' own (``shared.faults``): ``kill -<FAULT_CPU_SIGNUM> 1`` starts busy threads that
use up the container's CFS quota in every period, so the kernel throttles the health server with them. Whether that
restarts the container is a property of the probe, not of the fault: a liveness probe whose ``timeoutSeconds`` is
shorter than the throttled server's answer fails, and ``failureThreshold`` such failures restart a container that
was working. The copy (the consumer's Deployment patched the way `lab.probeconfig` patches a probe, restored by
re-applying the manifests, the restore proven field by field) gets a tight probe and a low CPU limit (`TIGHT_PROBE`,
`TIGHT_CPU_LIMIT`, and a startupProbe for its slow start under that limit); the lab's own manifests get the same
fault.

How long "rides it out" must hold is derived from the live probe: a failure the kubelet acts on is decided within
``periodSeconds × failureThreshold + timeoutSeconds``; a starved worker shows as a stale heartbeat at the latest
``HEARTBEAT_MAX_AGE_SECONDS`` later (`window`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from lab.deploy import Lab
from lab.kube import container_spec
from lab.ledger import parse_events
from lab.probes import Probe
from lab.timeline import occurrences
from lab.times import parse_time
from shared.runtime import FAULT_CPU_SIGNUM

FAULT_EVENT = "fault_cpu_on"
# The copy: a liveness probe with the Kubernetes default timeout (1 s) and a short period, under a 50m CPU limit
# (a tenth of the lab's 500m). These are fields the lab's manifest sets, so `lab.apply` restores them.
TIGHT_PROBE = {"timeoutSeconds": 1, "periodSeconds": 2}
TIGHT_CPU_LIMIT = "50m"
# Under 50m the copy also starts about ten times slower (measured in Docker with --cpus 0.05, 2026-12-03: /health
# first answered 11 s after the start, past the tight probe's first decision), and its start is not the fault under
# test: a startupProbe on the same endpoint holds liveness back until the app answered once, for as long as the
# Deployment allows its rollout (progressDeadlineSeconds). The manifest has none, so `restore` removes it.
STARTUP_PERIOD_SECONDS = 2


def tight_patch(lab: Lab, app: str) -> list[dict]:
    """JSON patch: ``app``'s liveness probe tightened to `TIGHT_PROBE`, its CPU limit lowered to `TIGHT_CPU_LIMIT`,
    and a startupProbe for the slow start under that limit."""
    index, container = container_spec(lab.kube.deployment(app)["spec"]["template"]["spec"], app)
    base = f"/spec/template/spec/containers/{index}"
    liveness = container.get("livenessProbe", {})
    missing = [key for key in TIGHT_PROBE if key not in liveness]
    if missing or "cpu" not in ((container.get("resources") or {}).get("limits") or {}) or "startupProbe" in container:
        raise LookupError(f"{app}: the manifest does not fit the copy ({missing}): it could not be restored exactly")
    startup = {
        "httpGet": liveness["httpGet"],
        "periodSeconds": STARTUP_PERIOD_SECONDS,
        "timeoutSeconds": TIGHT_PROBE["timeoutSeconds"],
        "failureThreshold": math.ceil(lab.progress_deadline(app) / STARTUP_PERIOD_SECONDS),
    }
    ops: list[dict[str, object]] = [
        {"op": "replace", "path": f"{base}/livenessProbe/{key}", "value": value} for key, value in TIGHT_PROBE.items()
    ]
    ops.append({"op": "replace", "path": f"{base}/resources/limits/cpu", "value": TIGHT_CPU_LIMIT})
    return [*ops, {"op": "add", "path": f"{base}/startupProbe", "value": startup}]


def container_of(lab: Lab, app: str) -> dict:
    """``app``'s container spec in the live Deployment (what the restore is compared on)."""
    return container_spec(lab.kube.deployment(app)["spec"]["template"]["spec"], app)[1]


def tighten(lab: Lab, app: str) -> dict:
    """Patch ``app`` to the tight copy and wait for its rollout; return the container spec as it was (for
    `restore`). The copy starts under 50m too, so its rollout is awaited by the Deployment's own deadline."""
    before = container_of(lab, app)
    lab.kube("patch", "deployment", app, "--type=json", "-p", json.dumps(tight_patch(lab, app)))
    lab.wait_rolled_out((app,))
    probe = lab.probe(app)
    if (probe.timeout, probe.period) != (TIGHT_PROBE["timeoutSeconds"], TIGHT_PROBE["periodSeconds"]):
        raise AssertionError(f"{app}: live liveness probe after the patch is {probe}")
    return before


def restore(lab: Lab, app: str, before: dict) -> None:
    """Remove the startupProbe the copy added, re-apply the manifests (the replaced values), wait for the rollout,
    and prove the container spec is back as it was."""
    index, container = container_spec(lab.kube.deployment(app)["spec"]["template"]["spec"], app)
    if "startupProbe" in container and "startupProbe" not in before:
        remove = [{"op": "remove", "path": f"/spec/template/spec/containers/{index}/startupProbe"}]
        lab.kube("patch", "deployment", app, "--type=json", "-p", json.dumps(remove))
    lab.apply()
    lab.wait_rolled_out((app,))
    now = container_of(lab, app)
    if now != before:
        raise AssertionError(f"{app} not restored: {now} != {before}")


@dataclass(frozen=True)
class Starvation:
    """One CPU fault: where, when, the container it went to and the liveness probe it runs under."""

    app: str
    pod: str
    restarts_before: int  # restartCount of the starved container (its generation in the log follower)
    container_started: float | None  # that container's startedAt (API, whole seconds)
    probe: Probe
    cpu_limit: str | None
    wall: float  # time.time() when the exec returned (a fallback for the handler's own line)

    def window(self, heartbeat_max_age: float) -> float:
        """How long the lab's probe must leave a starved container alone: a liveness decision comes within
        ``periodSeconds × failureThreshold + timeoutSeconds`` of the failures starting, and a starved worker's
        heartbeat is stale at the latest ``heartbeat_max_age`` after its last beat."""
        return self.probe.detection_bound(heartbeat_max_age, from_start=False)


def starve(lab: Lab, app: str) -> Starvation:
    """Send the CPU fault's signal to ``app``'s PID 1; the busy threads run until the container restarts."""
    pod = lab.pod(app)
    status = lab.kube.container_status(pod, app)
    started = parse_time(((status.get("state") or {}).get("running") or {}).get("startedAt"))
    limits = (container_of(lab, app).get("resources") or {}).get("limits") or {}
    probe = lab.probe(app)
    lab.kube.exec(pod, app, "sh", "-c", f"kill -{FAULT_CPU_SIGNUM} 1")
    return Starvation(app, pod, int(status.get("restartCount", 0)), started, probe, limits.get("cpu"), time.time())


def fault_line(log_text: str) -> dict | None:
    """The handler's ``fault_cpu_on`` line in a container's log (its own clock, sub-second), or None."""
    lines = [e for e in parse_events(log_text) if e["event"] == FAULT_EVENT and e.get("_t") is not None]
    return min(lines, key=lambda e: e["_t"], default=None)


def restarted_problems(starvation: Starvation, status: dict, name: str) -> list[str]:
    """The starved container was the one restarted, exactly once, by a SIGTERM it drained (exit 0)."""
    terminated = (status.get("lastState") or {}).get("terminated") or {}
    problems = []
    if parse_time(terminated.get("startedAt")) != starvation.container_started:
        problems.append(
            f"{name}: the restarted container (started {terminated.get('startedAt')}) is not the starved one"
        )
    restarts = int(status.get("restartCount", 0))
    if restarts != starvation.restarts_before + 1:
        problems.append(f"{name}: restartCount {starvation.restarts_before} → {restarts}, expected +1")
    return problems


def occurrences_of(events: list[dict], pod: str, reason: str, text: str, after: float) -> int:
    """How many times the kubelet recorded ``reason`` events about ``pod`` containing ``text``: the ``count`` of each
    (aggregated) event whose latest occurrence is at or after ``after`` (floored: whole-second times)."""
    total = 0
    for event in events:
        obj = event.get("involvedObject") or event.get("regarding") or {}
        message = event.get("message") or event.get("note") or ""
        if obj.get("name") != pod or event.get("reason") != reason or text not in message:
            continue
        if max(occurrences(event), default=float("-inf")) >= float(int(after)):
            total += int(event.get("count") or (event.get("series") or {}).get("count") or 1)
    return total
