"""Wrong probe configuration as a fault: the harm shown on a broken copy, and its absence on the lab's manifests.

Each test runs the same emulator outage (LocalStack scaled to 0) twice: first on the lab's manifests (the control),
then on the services with one probe pointed at the wrong endpoint (`lab.probeconfig`: patched, restored by
re-applying the manifests, the restore proven). Bounds come from the live probes:
- liveness on /ready: every pod is restarted, each decided within ``periodSeconds × failureThreshold +
  timeoutSeconds`` of the outage reaching its /ready (not earlier than ``periodSeconds × (failureThreshold − 1)``,
  `lab.verdict`); the lab's own pods go NotReady and are not restarted, no liveness failure at all, for as long as
  the copy's latest decision (that bound + the readiness bound for the outage to reach /ready + tolerance).
- readiness on /health: the copy's pods stay Ready and ``conditions.ready`` in their Service's EndpointSlice for the
  lab's whole readiness bound (``unready_deadline``) after their own /ready already failed; the lab's readiness took
  them out within that bound.
Ledger over both outages: nothing lost outside the in-memory emulator's loss windows; duplicates counted. The
module's ledger is cumulative (one namespace, one log follower), so the windows of earlier tests (and runs) in this
module stay in force: a message the cascade made the producer give up stays excused by its own outage's window only.
"""

import time

import pytest

from lab.catalogue import burst, ledger_of
from lab.deploy import SERVICES
from lab.detection import liveness_failures
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
from lab.report.record import make_record
from lab.services import live_config
from lab.timeline import Recovery, probe_results, ready_since
from lab.verdict import DETECTION_TOLERANCE_SECONDS

BURST = 20


@pytest.fixture(scope="module")
def windows() -> list:
    """Loss windows of every outage this module made so far (the module's ledger is cumulative)."""
    return []


def settle_outages(logs, extra, windows, deadline):
    """Every message published up to now consumed or excused by one of the outages' windows (or the deadline)."""

    def check():
        ledger = ledger_of(logs, extra)
        return ledger.check(until=until, windows=windows)

    def done():
        result = check()
        return result if not result.lost and not result.unknown else None

    until = time.time()
    try:
        return wait_for(done, deadline, interval=2, what="every published message consumed or excused")
    except AssertionError:
        return check()  # the verdict fails on what is left


def test_liveness_on_ready_restarts_every_pod_in_an_emulator_outage(
    deployed_lab, aws, logs, settings, record_fault, artifacts, windows, run
):
    lab = deployed_lab
    interval = float(live_config(lab, "producer").publish_interval)
    readiness = {app: lab.probe(app, "readinessProbe") for app in SERVICES}
    extra = burst(aws, BURST, "probecfg-liveness", logs)
    latest = {
        app: lab.probe(app).detection_bound(readiness[app].unready_deadline(), from_start=False) for app in SERVICES
    }
    pods = {app: lab.pod(app) for app in SERVICES}
    before = {app: lab.kube.restart_count(pod, app) for app, pod in pods.items()}
    with emulator_outage(lab) as control:
        for app, pod in pods.items():
            lab.kube.wait("condition=Ready=false", readiness[app].unready_deadline(), f"pod/{pod}")
        hold = max(latest.values()) + DETECTION_TOLERANCE_SECONDS - control.elapsed()
        kept = holds(lambda: all(lab.kube.restart_count(p, a) == before[a] for a, p in pods.items()), hold, interval=2)
        held = control.elapsed()
    checks = [] if kept else [f"lab's manifests: a pod restarted during the control outage ({held:.0f} s)"]
    checks += liveness_failures(lab.kube.json("get", "events")["items"], pods.values(), control.wall)
    windows.append(loss_window(logs, control, settings.redelivery(), interval))

    originals = break_probes(lab, "liveness-on-ready")
    try:
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
        back = settings.redelivery() + max(p.restart_deadline() for p in probes.values())  # a copy may be backing off
        windows.append(loss_window(logs, outage, back, interval))
    finally:
        restore_probes(lab, originals)
    result = settle_outages(logs, extra, windows, settings.redelivery() + max(settings.grace.values()))
    ledger = ledger_of(logs, extra)
    gave_up = [m for m, e in ledger.unpublished.items() if e.get("_t", 0) >= outage.wall]
    artifacts.record("probe_config_liveness", control_held=round(held, 1), restarts=restarts, gave_up=len(gave_up))
    records = []
    for app, (recovery, problems) in judged.items():
        notes = (
            f"copy: restarted {restarts[app]}× during the outage; producer gave up {len(gave_up)} message(s) "
            f"mid-retry; lab's manifests, same outage: NotReady, 0 restarts, 0 liveness failures over {held:.0f} s; "
            f"{result.summary()}"
        )
        expected = "copy: every pod restarted within the liveness bound; lab's: NotReady, not restarted; loss ⊆ windows"
        records.append(
            make_record(
                fault=recovery.fault,
                expected=expected,
                recovery=recovery,
                ledger=ledger,
                result=result,
                logs=logs,
                app=app,
                notes=notes,
                checks=checks + problems,
            )
        )
    record_fault(*records)


def test_readiness_on_health_keeps_pods_in_endpoints_in_an_emulator_outage(
    deployed_lab, aws, logs, settings, record_fault, artifacts, windows, run
):
    lab = deployed_lab
    interval = float(live_config(lab, "producer").publish_interval)
    readiness = {app: lab.probe(app, "readinessProbe") for app in SERVICES}
    bound = max(p.unready_deadline() for p in readiness.values())
    extra = burst(aws, BURST, "probecfg-readiness", logs)
    with probe_services(lab) as services:

        def routed(pods, wanted):
            states = in_endpoints(lab, services.values())
            return all(states.get(pod, False) is wanted for pod in pods.values())

        pods = {app: lab.pod(app) for app in SERVICES}
        wait_for(lambda: routed(pods, True), bound, what="the lab's pods in their Services' endpoints")
        out = {}
        with emulator_outage(lab) as control:
            for app, pod in pods.items():  # the lab's readiness takes each out within its bound
                gone = lambda p=pod: in_endpoints(lab, services.values()).get(p, False) is False  # noqa: E731
                wait_for(gone, readiness[app].unready_deadline() - control.elapsed(), what=f"{app} out of endpoints")
                out[app] = control.elapsed()
        windows.append(loss_window(logs, control, settings.redelivery(), interval))
        for app in SERVICES:
            lab.kube.wait("condition=Ready", readiness[app].ready_deadline() + bound, f"pod/{lab.pod(app)}")

        originals = break_probes(lab, "readiness-on-health")
        try:
            pods = {app: lab.pod(app) for app in SERVICES}
            wait_for(lambda: routed(pods, True), bound, what="the copy's pods in their Services' endpoints")
            with emulator_outage(lab) as outage:
                # The outage has reached the copy: its own /ready fails (the kubelet no longer asks it) ...
                wait_for(
                    lambda: all(http_status(lab, pod, app, "/ready") != "200" for app, pod in pods.items()),
                    bound,
                    what="the copy's /ready failing",
                )
                unready = outage.elapsed()
                # ... yet it stays Ready and routed to for the lab's whole readiness bound.
                kept = holds(lambda: routed(pods, True) and all_ready(lab, pods), bound, interval=1)
                stayed = outage.elapsed()
            windows.append(loss_window(logs, outage, settings.redelivery(), interval))
        finally:
            restore_probes(lab, originals)
    result = settle_outages(logs, extra, windows, settings.redelivery() + max(settings.grace.values()))
    ledger = ledger_of(logs, extra)
    figures = {"control_out": {a: round(t, 1) for a, t in out.items()}, "copy_unready": round(unready, 1)}
    artifacts.record("probe_config_readiness", **figures, copy_stayed=round(stayed, 1), kept=kept, bound=bound)
    checks = [] if kept else [f"copy: a pod left Ready or its endpoint within {bound:.0f} s of its /ready failing"]
    records = []
    for app in SERVICES:
        recovery = Recovery(f"readiness probe on /health, emulator outage ({app})", injected=outage.wall)
        notes = (
            f"copy: /ready failing {unready:.1f} s into the outage, still Ready and in the EndpointSlice "
            f"{stayed:.1f} s in; lab's manifests, same outage: out of the EndpointSlice after {out[app]:.1f} s "
            f"(bound {readiness[app].unready_deadline():g} s); {result.summary()}"
        )
        expected = "copy: stays Ready and routed to through the outage; lab's: out of endpoints within the bound"
        records.append(
            make_record(
                fault=recovery.fault,
                expected=expected,
                recovery=recovery,
                ledger=ledger,
                result=result,
                logs=logs,
                app=app,
                notes=notes,
                checks=checks,
            )
        )
    record_fault(*records)


def all_ready(lab, pods) -> bool:
    """Every pod's Ready condition True (one kubectl call)."""
    items = lab.kube.json("get", "pods", "-l", f"app in ({','.join(pods)})")["items"]
    ready = {p["metadata"]["name"] for p in items if ready_since(p) is not None}
    return set(pods.values()) <= ready
