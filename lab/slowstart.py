"""Slow start: a container that answers only after its liveness probe has given up on it, with and without a
startupProbe.

The copy is the consumer's Deployment with its command wrapped: ``sh`` sleeps ``delay`` seconds, then ``exec``s the
image's own command (``python app.py``), so the app itself is unchanged and the delay is the only difference. The
wrapper traps SIGTERM and exits at once: a shell as PID 1 ignores SIGTERM otherwise, and every kill would wait out
the grace period. Without a startupProbe the liveness probe runs from ``initialDelaySeconds`` and decides within
``initialDelaySeconds + periodSeconds × failureThreshold + timeoutSeconds`` of the start (`Probe.detection_bound`),
so a ``delay`` beyond that (plus the verdict's tolerance for the probe ticker) is killed before it answers, every
time: a restart loop. A startupProbe holds liveness back until it passes once; with ``failureThreshold ×
periodSeconds`` above the delay plus the app's own start, the same copy starts once and stays.

The copy adds fields the manifest does not have (``command``, ``startupProbe``), which re-applying the manifests
would keep (a client-side apply removes only fields it applied itself), so `restore` removes them by JSON patch and
proves the container spec is back as it was.
"""

from __future__ import annotations

import json
import math

from lab.deploy import Lab
from lab.kube import container_spec, wait_for
from lab.probes import RESTART_SLACK_SECONDS, Probe
from lab.verdict import DETECTION_TOLERANCE_SECONDS

# The image's CMD (candidate-project/consumer/Dockerfile); exec'd after the sleep so the app is PID 1 again.
APP_COMMAND = "python app.py"
# $0 is the delay; sleep in the background so the trap runs the moment SIGTERM arrives.
WRAPPER = f"trap 'exit 143' TERM; sleep \"$0\" & wait $!; exec {APP_COMMAND}"
# What the app needs after the delay before /health answers: the stated slack for starting a container (the
# decisions measured ~1 s to the first /health answer under the pods' 500m limit on a loaded node).
START_ALLOWANCE_SECONDS = RESTART_SLACK_SECONDS
STARTUP_PERIOD_SECONDS = 1


def start_delay(liveness: Probe) -> int:
    """Seconds the copy sleeps: past the latest liveness decision from the start, plus the verdict's tolerance
    (the kubelet's probe ticker does not start with the container), rounded up."""
    return math.ceil(liveness.detection_bound(from_start=True) + DETECTION_TOLERANCE_SECONDS)


def startup_probe(liveness: Probe, delay: float) -> dict:
    """A startupProbe on the liveness endpoint whose ``failureThreshold × periodSeconds`` covers the delay and the
    app's own start (`START_ALLOWANCE_SECONDS`)."""
    threshold = math.ceil((delay + START_ALLOWANCE_SECONDS) / STARTUP_PERIOD_SECONDS)
    return {
        "httpGet": {"path": liveness.path, "port": liveness.port},
        "periodSeconds": STARTUP_PERIOD_SECONDS,
        "timeoutSeconds": int(liveness.timeout),
        "failureThreshold": threshold,
    }


def container_of(lab: Lab, app: str) -> tuple[int, dict]:
    return container_spec(lab.kube.deployment(app)["spec"]["template"]["spec"], app)


def slow_start_patch(lab: Lab, app: str, delay: int, startup: dict | None) -> list[dict]:
    """JSON patch: the wrapped command (and ``startup`` as the startupProbe, when given)."""
    index, container = container_of(lab, app)
    if "command" in container or "startupProbe" in container:
        raise LookupError(f"{app} already has a command or a startupProbe: the patch would not be undone exactly")
    base = f"/spec/template/spec/containers/{index}"
    ops: list[dict[str, object]] = [
        {"op": "add", "path": f"{base}/command", "value": ["sh", "-c", WRAPPER, str(delay)]}
    ]
    if startup is not None:
        ops.append({"op": "add", "path": f"{base}/startupProbe", "value": startup})
    return ops


def slow_start(lab: Lab, app: str, delay: int, startup: dict | None = None) -> tuple[dict, str]:
    """Patch ``app`` to start ``delay`` seconds late; return its container spec as it was (for `restore`) and the
    copy's pod. The rollout is not awaited: without a startupProbe the copy never becomes Ready (the old pod keeps
    serving, maxUnavailable rounds down to 0 for one replica)."""
    _, before = container_of(lab, app)
    old = {p["metadata"]["name"] for p in lab.kube.pods(app)}
    patch = slow_start_patch(lab, app, delay, startup)
    lab.kube("patch", "deployment", app, "--type=json", "-p", json.dumps(patch))

    def new_pod() -> str | None:
        return next((p["metadata"]["name"] for p in lab.kube.pods(app) if p["metadata"]["name"] not in old), None)

    return before, wait_for(new_pod, RESTART_SLACK_SECONDS, what=f"the slow-starting {app} pod")


def restore(lab: Lab, app: str, before: dict) -> None:
    """Remove what the copy added, wait for the rollout, prove the container spec is back as it was."""
    index, container = container_of(lab, app)
    base = f"/spec/template/spec/containers/{index}"
    ops = [{"op": "remove", "path": f"{base}/{key}"} for key in ("command", "startupProbe") if key in container]
    if ops:
        lab.kube("patch", "deployment", app, "--type=json", "-p", json.dumps(ops))
    lab.wait_rolled_out((app,))
    _, now = container_of(lab, app)
    if now != before:
        raise AssertionError(f"{app} not restored: {now} != {before}")
