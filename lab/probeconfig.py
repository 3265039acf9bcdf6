"""Wrong probe configuration as a fault class: the two probe mix-ups an emulator outage turns into harm.

- ``liveness-on-ready``: the liveness probe points at ``/ready``. /ready follows AWS, so an emulator outage fails
  liveness on every pod at once and the kubelet restarts them all: the classic cascading restart, which cannot bring
  the dependency back and only loses work (a producer stopped mid-retry gives its message up).
- ``readiness-on-health``: the readiness probe points at ``/health``. /health follows the worker's heartbeat, which
  an outage does not stop, so the pods stay Ready and stay in their Service's endpoints while they cannot serve.

The fault suite shows each on a broken copy (the lab's Deployments patched the way `lab.liveness` patches a probe
path, restored by re-applying the manifests, with the restore proven probe by probe) and contrasts it with the lab's
own manifests under the same outage (LocalStack scaled to 0, as in tests/e2e/test_liveness_not_readiness.py).
The services have no Service of their own (nothing calls them), so `probe_services` adds one per app for the test:
its EndpointSlice is where "still routed to" is visible.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lab.catalogue import flow_resumed
from lab.deploy import SERVICES, Lab
from lab.detection import CLEAN_EXIT
from lab.kube import container_spec
from lab.ledger import LossWindow
from lab.liveness import status_after_restart
from lab.logfollow import LogFollower
from lab.probes import Probe
from lab.timeline import ProbeResult, Recovery, event_time
from lab.times import parse_time

# fault -> (probe kind, the wrong path it is pointed at)
WRONG_PROBES = {"liveness-on-ready": ("livenessProbe", "/ready"), "readiness-on-health": ("readinessProbe", "/health")}
SERVICE_SUFFIX = "probecfg"  # the test's own Services: <app>-probecfg
SERVICE_LABEL = "kubernetes.io/service-name"


def wrong_probe_patch(lab: Lab, app: str, fault: str) -> list[dict]:
    """JSON patch pointing ``app``'s probe of ``fault``'s kind at the wrong path (only the path changes)."""
    kind, path = WRONG_PROBES[fault]
    index, _ = container_spec(lab.kube.deployment(app)["spec"]["template"]["spec"], app)
    return [{"op": "replace", "path": f"/spec/template/spec/containers/{index}/{kind}/httpGet/path", "value": path}]


def break_probes(lab: Lab, fault: str) -> dict[str, dict[str, Probe]]:
    """Patch both services to ``fault`` and wait for the patched pods; return the probes as they were (for
    `restore_probes`). Both patched probes still pass while the emulator is up, so the rollout completes."""
    before = {app: {kind: lab.probe(app, kind) for kind in ("livenessProbe", "readinessProbe")} for app in SERVICES}
    for app in SERVICES:
        lab.kube("patch", "deployment", app, "--type=json", "-p", json.dumps(wrong_probe_patch(lab, app, fault)))
    lab.wait_rolled_out(SERVICES)
    kind, path = WRONG_PROBES[fault]
    wrong = {app: lab.probe(app, kind).path for app in SERVICES}
    if set(wrong.values()) != {path}:
        raise AssertionError(f"{fault}: live {kind} paths after the patch are {wrong}, expected {path}")
    return before


def restore_probes(lab: Lab, before: dict[str, dict[str, Probe]]) -> None:
    """Re-apply the manifests, wait for the rollout, and prove every probe is back as it was before the patch."""
    lab.apply()
    lab.wait_rolled_out(SERVICES)
    now = {app: {kind: lab.probe(app, kind) for kind in kinds} for app, kinds in before.items()}
    if now != before:
        raise AssertionError(f"probes not restored: {now} != {before}")


@dataclass
class Outage:
    """One emulator outage: when LocalStack was scaled to 0 (wall and monotonic) and when back to 1 (wall)."""

    wall: float
    monotonic: float
    ended: float | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.monotonic


@contextmanager
def emulator_outage(lab: Lab) -> Iterator[Outage]:
    """LocalStack scaled to 0 for the block; scaled back and rolled out afterwards, whatever happened inside."""
    outage = Outage(time.time(), time.monotonic())
    lab.scale("localstack", 0)
    try:
        yield outage
    finally:
        lab.scale("localstack", 1)
        outage.ended = time.time()
        lab.wait_rolled_out(("localstack",))


def loss_window(logs: LogFollower, outage: Outage, deadline: float, interval: float) -> LossWindow:
    """Wait until a message published after the outage was consumed; return what the in-memory emulator may have
    lost (`lab.catalogue.flow_resumed`: LocalStack at 0 replicas takes its queue with it)."""
    ended = outage.ended if outage.ended is not None else time.time()
    return flow_resumed(logs, outage.wall, deadline, interval, after=ended)[1]


def first_failed(probes: Iterable[ProbeResult], path: str, after: float) -> float | None:
    """First failed probe answer on ``path`` at or after ``after``: when the outage became visible to the pod."""
    return min((p.at for p in probes if p.at >= after and p.path == path and not p.ok), default=None)


@contextmanager
def probe_services(lab: Lab) -> Iterator[dict[str, str]]:
    """A ClusterIP Service per service app (selector taken from its Deployment), deleted afterwards."""
    names = {app: f"{app}-{SERVICE_SUFFIX}" for app in SERVICES}
    try:
        for app, name in names.items():
            lab.kube("expose", "deployment", app, f"--name={name}", "--port=5000", "--target-port=health")
        yield names
    finally:
        for name in names.values():
            lab.kube("delete", "service", name, "--ignore-not-found", "--wait=true")


def endpoint_states(slices: Iterable[dict]) -> dict[str, bool]:
    """Pod name -> the endpoint's ``conditions.ready`` over EndpointSlices (an absent ``ready`` counts as False)."""
    states = {}
    for item in slices:
        for endpoint in item.get("endpoints") or []:
            pod = (endpoint.get("targetRef") or {}).get("name")
            if pod:
                states[pod] = bool((endpoint.get("conditions") or {}).get("ready"))
    return states


def in_endpoints(lab: Lab, services: Iterable[str]) -> dict[str, bool]:
    """`endpoint_states` of the given Services, one kubectl call."""
    selector = f"{SERVICE_LABEL} in ({','.join(services)})"
    return endpoint_states(lab.kube.json("get", "endpointslices", "-l", selector)["items"])


def http_status(lab: Lab, pod: str, app: str, path: str) -> str:
    """The HTTP status ``app`` answers on ``path`` from inside its pod (what the kubelet would see)."""
    return lab.kube.exec(pod, app, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://0.0.0.0:5000{path}")


def judge_cascade(
    lab: Lab, app: str, pod: str, probe: Probe, probes: Iterable[ProbeResult], outage: Outage
) -> tuple[Recovery, list[str]]:
    """The restart a liveness probe on /ready made of an emulator outage, as a `Recovery` for `lab.verdict`.

    Counted from the first failed /ready answer in the killed container's own log (nanosecond stamps: the outage
    made visible to the pod), decided at the liveness Killing event (whole seconds; readiness probes hit /ready too,
    so the access log cannot tell the liveness failures apart). Bound and earliest as for any fault hitting a running
    container: ``periodSeconds × failureThreshold + timeoutSeconds`` and ``periodSeconds × (failureThreshold − 1)``.
    Also checked: the kill was a drained SIGTERM (exit 0 Completed), not a crash.
    """
    visible = first_failed(probes, "/ready", outage.wall)
    problems = [] if visible is not None else [f"{app}: no failed /ready answer logged after the outage began"]
    injected = outage.wall if visible is None else visible
    recovery = Recovery(
        f"liveness probe on /ready, emulator outage ({app})",
        injected=injected,
        bound=probe.detection_bound(from_start=False),
        earliest=probe.earliest_decision(),
    )
    recovery.killed = event_time(lab.kube.events(pod), "Killing", injected, pod, contains="liveness")
    status = status_after_restart(lab, pod, app)  # restartCount moves before lastState shows
    terminated = (status.get("lastState") or {}).get("terminated") or {}
    if (terminated.get("exitCode"), terminated.get("reason")) != CLEAN_EXIT:
        problems.append(f"{app}: killed container ended {terminated.get('exitCode')} {terminated.get('reason')}")
    recovery.restarted = parse_time((status.get("state", {}).get("running") or {}).get("startedAt"))
    return recovery, problems
