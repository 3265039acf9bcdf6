"""Wrong probe configuration as a fault: the harm shown on a broken copy, and its absence on the lab's manifests.

Each fault runs the same emulator outage (LocalStack scaled to 0) twice: first on the lab's manifests (the control,
in the injector's ``prepare``), then on the services with one probe pointed at the wrong endpoint (the fault:
`lab.probeconfig`, patched, restored by re-applying the manifests, the restore proven). Bounds come from the live
probes:
- liveness on /ready: every pod is restarted, each decided within ``periodSeconds × failureThreshold +
  timeoutSeconds`` of the outage reaching its /ready (not earlier than ``periodSeconds × (failureThreshold − 1)``,
  `lab.verdict`); the lab's own pods go NotReady and are not restarted, no liveness failure at all, for as long as
  the copy's latest decision (that bound + the readiness bound for the outage to reach /ready + tolerance).
- readiness on /health: the copy's pods stay Ready and ``conditions.ready`` in their Service's EndpointSlice for the
  lab's whole readiness bound (``unready_deadline``) after their own /ready already failed; the lab's readiness took
  them out within that bound.
Ledger over both outages: nothing lost outside the in-memory emulator's loss windows; duplicates counted. The
module's ledger is cumulative (one namespace, one log follower), so the windows of earlier tests (and runs) in this
module stay in force (`windows`, the runner settles with them): a message the cascade made the producer give up
stays excused by its own outage's window only. The procedure is `lab.runner.run_fault`.
"""

import pytest

from lab.deploy import SERVICES
from lab.detection import liveness_failures
from lab.fault import Bound, Env, Fault, Held, Reaction, Settled, Traffic, publish
from lab.kube import holds, wait_for
from lab.probeconfig import (
    break_probes,
    emulator_outage,
    http_status,
    in_endpoints,
    judge_cascade,
    loss_window,
    probe_services,
    restore_probes,
)
from lab.runner import run_fault
from lab.services import live_config
from lab.timeline import Recovery, probe_results, ready_since
from lab.verdict import DETECTION_TOLERANCE_SECONDS

BURST = 20


@pytest.fixture(scope="module")
def windows() -> list:
    """Loss windows of every outage this module made so far (the module's ledger is cumulative)."""
    return []


class WrongProbe(Held):
    """Base of the two kinds: the copy's probes patched by ``inject``; ``undo`` re-applies the manifests, then leaves
    what ``prepare`` held (the test's own Services), as the nested blocks did before the move."""

    kind = ""

    def __init__(self) -> None:
        super().__init__()
        self.originals: dict | None = None

    def inject(self, env: Env, fault: Fault, control):
        self.originals = break_probes(env.lab, self.kind)
        return control

    def undo(self, env: Env, fault: Fault) -> None:
        try:
            if self.originals is not None:
                originals, self.originals = self.originals, None
                restore_probes(env.lab, originals)
        finally:
            super().undo(env, fault)


class LivenessOnReady(WrongProbe):
    """Liveness pointed at /ready: an emulator outage restarts every pod of the copy (the cascading restart)."""

    kind = "liveness-on-ready"

    def prepare(self, env: Env, fault: Fault):
        """The burst, then the control: the same outage on the lab's manifests, which must only unready the pods."""
        lab = env.lab
        interval = float(live_config(lab, "producer").publish_interval)
        readiness = {app: lab.probe(app, "readinessProbe") for app in SERVICES}
        publish(env, fault)
        latest = {
            app: lab.probe(app).detection_bound(readiness[app].unready_deadline(), from_start=False) for app in SERVICES
        }
        pods = {app: lab.pod(app) for app in SERVICES}
        before = {app: lab.kube.restart_count(pod, app) for app, pod in pods.items()}
        with emulator_outage(lab) as control:
            for app, pod in pods.items():
                lab.kube.wait("condition=Ready=false", readiness[app].unready_deadline(), f"pod/{pod}")
            hold = max(latest.values()) + DETECTION_TOLERANCE_SECONDS - control.elapsed()
            unchanged = lambda: all(lab.kube.restart_count(p, a) == before[a] for a, p in pods.items())  # noqa: E731
            kept = holds(unchanged, hold, interval=2)
            held = control.elapsed()
        checks = [] if kept else [f"lab's manifests: a pod restarted during the control outage ({held:.0f} s)"]
        checks += liveness_failures(lab.kube.json("get", "events")["items"], pods.values(), control.wall)
        env.windows.append(loss_window(env.logs, control, env.settings.redelivery(), interval))
        return interval, readiness, checks, held

    def await_reaction(self, env: Env, fault: Fault, control) -> dict[str, Reaction]:
        interval, readiness, checks, held = control
        lab, logs = env.lab, env.logs
        pods = {app: lab.pod(app) for app in SERVICES}
        before = {app: lab.kube.restart_count(pod, app) for app, pod in pods.items()}
        probes = {app: lab.probe(app) for app in SERVICES}  # the copy's: /ready, same numbers
        judged = {}
        with emulator_outage(lab) as outage:
            for app, pod in pods.items():
                deadline = probes[app].restart_deadline(readiness[app].unready_deadline()) - outage.elapsed()
                wait_for(lambda p=pod, a=app: lab.kube.restart_count(p, a) > before[a], deadline, what=f"{app} restart")
                logs.scan()
                killed = logs.generation_text(pod, before[app])
                judged[app] = judge_cascade(lab, app, pod, probes[app], probe_results(killed), outage)
            restarts = {app: lab.kube.restart_count(pod, app) for app, pod in pods.items()}
        back = env.settings.redelivery() + max(p.restart_deadline() for p in probes.values())  # a copy may back off
        env.windows.append(loss_window(logs, outage, back, interval))
        recorded: list[int] = []

        def review_of(app: str):
            def review(settled: Settled) -> tuple[list[str], list[str]]:
                gave_up = [m for m, e in settled.ledger.unpublished.items() if e.get("_t", 0) >= outage.wall]
                if not recorded:  # one measurement for both apps' rows
                    recorded.append(len(gave_up))
                    env.record(
                        "probe_config_liveness", control_held=round(held, 1), restarts=restarts, gave_up=len(gave_up)
                    )
                return [], [
                    f"copy: restarted {restarts[app]}× during the outage; producer gave up {len(gave_up)} message(s) "
                    f"mid-retry; lab's manifests, same outage: NotReady, 0 restarts, 0 liveness failures over "
                    f"{held:.0f} s"
                ]

            return review

        return {
            app: Reaction(recovery, checks=checks + problems, review=review_of(app))
            for app, (recovery, problems) in judged.items()
        }


class ReadinessOnHealth(WrongProbe):
    """Readiness pointed at /health: an emulator outage leaves the copy's pods Ready and routed to."""

    kind = "readiness-on-health"

    def prepare(self, env: Env, fault: Fault):
        """The burst, the test's own Services, then the control: the lab's readiness takes each pod out in time."""
        lab = env.lab
        interval = float(live_config(lab, "producer").publish_interval)
        readiness = {app: lab.probe(app, "readinessProbe") for app in SERVICES}
        bound = max(p.unready_deadline() for p in readiness.values())
        publish(env, fault)
        services = self.hold(probe_services(lab))
        pods = {app: lab.pod(app) for app in SERVICES}
        wait_for(lambda: routed(lab, services, pods, True), bound, what="the lab's pods in their Services' endpoints")
        out = {}
        with emulator_outage(lab) as control:
            for app, pod in pods.items():  # the lab's readiness takes each out within its bound
                gone = lambda p=pod: in_endpoints(lab, services.values()).get(p, False) is False  # noqa: E731
                wait_for(gone, readiness[app].unready_deadline() - control.elapsed(), what=f"{app} out of endpoints")
                out[app] = control.elapsed()
        env.windows.append(loss_window(env.logs, control, env.settings.redelivery(), interval))
        for app in SERVICES:
            lab.kube.wait("condition=Ready", readiness[app].ready_deadline() + bound, f"pod/{lab.pod(app)}")
        return interval, readiness, bound, services, out

    def await_reaction(self, env: Env, fault: Fault, control) -> dict[str, Reaction]:
        interval, readiness, bound, services, out = control
        lab = env.lab
        pods = {app: lab.pod(app) for app in SERVICES}
        wait_for(lambda: routed(lab, services, pods, True), bound, what="the copy's pods in their Services' endpoints")
        with emulator_outage(lab) as outage:
            # The outage has reached the copy: its own /ready fails (the kubelet no longer asks it) ...
            wait_for(
                lambda: all(http_status(lab, pod, app, "/ready") != "200" for app, pod in pods.items()),
                bound,
                what="the copy's /ready failing",
            )
            unready = outage.elapsed()
            # ... yet it stays Ready and routed to for the lab's whole readiness bound.
            kept = holds(lambda: routed(lab, services, pods, True) and all_ready(lab, pods), bound, interval=1)
            stayed = outage.elapsed()
        env.windows.append(loss_window(env.logs, outage, env.settings.redelivery(), interval))
        figures = {"control_out": {a: round(t, 1) for a, t in out.items()}, "copy_unready": round(unready, 1)}
        env.record("probe_config_readiness", **figures, copy_stayed=round(stayed, 1), kept=kept, bound=bound)
        checks = [] if kept else [f"copy: a pod left Ready or its endpoint within {bound:.0f} s of its /ready failing"]
        return {
            app: Reaction(
                Recovery(fault.record_name(app), injected=outage.wall),
                checks=checks,
                notes=[
                    f"copy: /ready failing {unready:.1f} s into the outage, still Ready and in the EndpointSlice "
                    f"{stayed:.1f} s in; lab's manifests, same outage: out of the EndpointSlice after {out[app]:.1f} s "
                    f"(bound {readiness[app].unready_deadline():g} s)"
                ],
            )
            for app in SERVICES
        }


def routed(lab, services: dict, pods: dict, wanted: bool) -> bool:
    """Every pod's endpoint in its Service's EndpointSlice with ``conditions.ready`` == ``wanted``."""
    states = in_endpoints(lab, services.values())
    return all(states.get(pod, False) is wanted for pod in pods.values())


def all_ready(lab, pods) -> bool:
    """Every pod's Ready condition True (one kubectl call)."""
    items = lab.kube.json("get", "pods", "-l", f"app in ({','.join(pods)})")["items"]
    ready = {p["metadata"]["name"] for p in items if ready_since(p) is not None}
    return set(pods.values()) <= ready


FAULTS = [
    Fault(
        "liveness probe on /ready, emulator outage",
        SERVICES,
        LivenessOnReady(),
        "copy: every pod restarted within the liveness bound; lab's: NotReady, not restarted; loss ⊆ windows",
        bound=Bound.LIVENESS,
        burst=BURST,
        traffic=Traffic.INJECTOR,  # published before the control outage, as one ledger over both
    ),
    Fault(
        "readiness probe on /health, emulator outage",
        SERVICES,
        ReadinessOnHealth(),
        "copy: stays Ready and routed to through the outage; lab's: out of endpoints within the bound",
        burst=BURST,
        traffic=Traffic.INJECTOR,
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_wrong_probe_harms_the_copy_not_the_labs(
    deployed_lab, aws, logs, settings, record_fault, artifacts, windows, fault, run
):
    env = Env(deployed_lab, aws, logs, settings, windows=windows, artifacts=artifacts)
    record_fault(*run_fault(fault, env))
