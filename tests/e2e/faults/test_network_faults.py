"""A degraded network between the services and LocalStack, through Toxiproxy (issue 9, item 1).

Both services talk to the emulator through the overlay's Toxiproxy for the whole module (``toxiproxy_route``); the
test's own bursts and checks go to LocalStack directly. Every toxic is added inside ``Toxiproxy.toxic`` (or the proxy
disabled inside `lab.netfaults.proxy_down`), which removes it and proves it gone; afterwards nothing may be left on
the server at all. Sizes and bounds come from `lab.netfaults` (the services' client timeouts, the live probes).

Degradations (latency with jitter, bandwidth, slicer): calls slow down and still succeed. Expected: no NotReady and
no restart for longer than the readiness bound (`lab.netfaults.unready_bound`), no retry logged, nothing lost; the
latency toxic visibly raises the publish→consume delay (every message by at least latency − jitter).

Outages (toxics on the answers, ``downstream``: the request reaches the emulator and its answer is lost or hangs, so
a publish may be accepted twice and a receive may hide messages for the queue's VisibilityTimeout; the proxy down:
nothing gets through). Expected: /ready answers 503, the pods go NotReady within `lab.netfaults.unready_bound`, are
never restarted (liveness reads the heartbeat, which keeps beating while calls time out and are retried: every
/health answer 200, no liveness event), come back Ready within `ready_bound` of the removal, the flow resumes, and
nothing is lost (duplicates counted). The hung socket is held for the liveness bound plus the heartbeat's max age
(the longest a stalled heartbeat could take to cause a restart); the others for longer than the readiness bound.
The procedure is `lab.runner.run_fault`; `Degrade` and `Cut` are the injectors of these kinds (`lab.fault.Held`).
"""

import time
from dataclasses import asdict

import pytest

from lab.catalogue import first_consumed_after
from lab.deploy import SERVICES
from lab.detection import liveness_failures
from lab.fault import Env, Fault, Held, Reaction, Settled, Traffic, publish, redelivery
from lab.kube import holds, wait_for
from lab.netfaults import (
    DEGRADATIONS,
    OUTAGES,
    ReadinessTrip,
    configured_proxy,
    consume_delays,
    copies_since,
    hold_for,
    leftovers,
    logged,
    median,
    not_ready_since,
    pod_states,
    unready_bound,
)
from lab.probes import RESTART_SLACK_SECONDS
from lab.report.record import probes_of
from lab.runner import run_fault
from lab.services import live_config
from lab.timeline import Recovery, readiness_round_trip, ready_since
from lab.verdict import DETECTION_TOLERANCE_SECONDS

BURST = 20  # test messages published at the injection, straight to LocalStack: two receive batches of work
BASELINE = 5  # producer messages timed before a degradation, the reference for the delay it adds
PROXY = configured_proxy()
RETRIES = ("publish_retry", "consume_retry")


def probes_between(logs, path: str, start: float, end: float) -> list:
    """The kubelet's answers on ``path`` from both services' access logs in [start, end]."""
    return [p for app in SERVICES for p in probes_of(logs, app) if p.path == path and start <= p.at <= end]


class Degrade(Held):
    """One degradation toxic for longer than the readiness bound: nothing may change but the calls' speed."""

    def __init__(self, degradation) -> None:
        super().__init__()
        self.degradation = degradation

    def prepare(self, env: Env, fault: Fault):
        lab, logs, settings = env.lab, env.logs, env.settings
        interval = float(live_config(lab, "producer").publish_interval)
        start, before = time.time(), pod_states(lab.kube, SERVICES)
        wait_for(
            lambda: len(consume_delays(logs.ledger(), start, time.time())) >= BASELINE,
            BASELINE * interval + settings.receive_wait + RESTART_SLACK_SECONDS,
            what="baseline producer messages consumed",
        )
        hold = max(unready_bound(lab.probe(app, "readinessProbe")) for app in SERVICES) + DETECTION_TOLERANCE_SECONDS
        return start, before, hold

    def inject(self, env: Env, fault: Fault, prepared):
        self.hold(env.proxy.toxic(PROXY, self.degradation.toxic))
        injected = time.time()
        publish(env, fault)
        return prepared, injected

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        (start, before, hold), injected = state
        lab, logs, toxic, floor = env.lab, env.logs, self.degradation.toxic, self.degradation.floor
        kept = holds(lambda: pod_states(lab.kube, SERVICES) == before, hold)
        removed = self.lift()
        checks = leftovers(env.proxy) + [
            f"{app} not Ready before the fault" for app, (_, r, _) in before.items() if not r
        ]
        if not kept:
            checks.append(f"{toxic.type}: pods changed (Ready, restarts): {before} → {pod_states(lab.kube, SERVICES)}")

        def review(settled: Settled) -> tuple[list[str], list[str]]:
            ledger = settled.ledger
            base, during = consume_delays(ledger, start, injected), consume_delays(ledger, injected, removed)
            retries = logged(logs.texts().values(), RETRIES, injected, removed)
            problems = [
                f"{toxic.type}: a call failed and was retried: {e.get('error')} {e.get('detail')}" for e in retries[:3]
            ]
            events = lab.kube.json("get", "events")["items"]
            problems += liveness_failures(events, [p for p, _, _ in before.values()], injected)
            if floor and (not during or min(during) < floor or median(during) <= median(base)):
                problems.append(f"{toxic.type}: delays {during} not all ≥ {floor} s above the baseline {base}")
            failed_ready = [p for p in probes_between(logs, "/ready", injected, removed) if not p.ok]
            figures = {
                "delay_median_before": median(base),
                "delay_median_during": median(during),
                "delay_min_during": min(during, default=None),
                "messages_timed": [len(base), len(during)],
                "held": round(removed - injected, 1),
                "failed_ready_probes": len(failed_ready),
                "retries": len(retries),
            }
            env.record("network_fault", fault=fault.name, **figures, ledger=settled.result.summary())
            notes = (
                f"publish→consume delay median {figures['delay_median_before']} s ({len(base)} msgs) before → "
                f"{figures['delay_median_during']} s during (min {figures['delay_min_during']}, {len(during)} msgs); "
                f"Ready, not restarted over {figures['held']} s; {len(failed_ready)} failed /ready probe(s); "
                f"{len(retries)} retries"
            )
            return problems, [notes]

        reaction = Reaction(
            Recovery(fault.name, injected=injected),
            checks=checks,
            review=review,
            first_consumed=lambda ledger: first_consumed_after(ledger, injected),
        )
        return {"consumer": reaction}


class Cut(Held):
    """One outage (a toxic on the answers, or the proxy down): NotReady, never restarted, Ready again, nothing lost."""

    def __init__(self, outage) -> None:
        super().__init__()
        self.outage = outage

    def prepare(self, env: Env, fault: Fault):
        lab = env.lab
        readiness = {app: lab.probe(app, "readinessProbe") for app in SERVICES}
        liveness = {app: lab.probe(app) for app in SERVICES}
        hold = hold_for(self.outage, liveness, readiness, {app: lab.heartbeat_max_age(app) for app in SERVICES})
        before, pods = pod_states(lab.kube, SERVICES), {app: lab.kube.pod(app) for app in SERVICES}
        return readiness, hold, before, pods

    def inject(self, env: Env, fault: Fault, prepared):
        self.hold(self.outage.injected(env.proxy, PROXY))
        injected = time.time()
        publish(env, fault)
        return prepared, injected

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        (readiness, hold, before, pods), injected = state
        lab, logs, name = env.lab, env.logs, fault.name
        unready_state = {app: (pod, False, restarts) for app, (pod, _, restarts) in before.items()}
        for app, (pod, _, _) in before.items():
            lab.kube.wait("condition=Ready=false", readiness[app].unready_deadline(), f"pod/{pod}")
        unready = {app: not_ready_since(lab.kube.pod(app)) for app in SERVICES}
        kept = holds(lambda: pod_states(lab.kube, SERVICES) == unready_state, hold - (time.time() - injected))
        removed = self.lift()
        checks = leftovers(env.proxy)
        if not kept:
            checks.append(f"{name}: not NotReady throughout, or restarted: {pod_states(lab.kube, SERVICES)}")
        for app, (pod, _, _) in before.items():
            lab.kube.wait("condition=Ready", readiness[app].ready_deadline(), f"pod/{pod}")
        after = {app: lab.kube.pod(app) for app in SERVICES}
        resumed = wait_for(
            lambda: first_consumed_after(logs.ledger(), removed, published_after=True),
            env.settings.redelivery(),
            what="a message published after the outage consumed",
        )
        checks += [p for app in SERVICES if (p := readiness_round_trip(pods[app], after[app], injected)) is not None]
        trips = [
            ReadinessTrip.measure(app, readiness[app], unready[app], ready_since(after[app]), injected, removed)
            for app in SERVICES
        ]
        checks += [problem for trip in trips for problem in trip.problems()]
        health = probes_between(logs, "/health", injected, removed)
        if not health or not all(p.ok for p in health):
            checks.append(f"{name}: /health answered {[p.status for p in health]} during the outage")
        failed_ready = [p.at for p in probes_between(logs, "/ready", injected, removed) if not p.ok]
        retries = logged(logs.texts().values(), RETRIES, injected, removed)
        errors = sorted({f"{e['event']}: {e.get('error')}" for e in retries})
        if not any(e["event"] == "publish_retry" for e in retries):
            checks.append(f"{name}: the producer never retried: the fault did not reach its calls")

        def review(settled: Settled) -> tuple[list[str], list[str]]:  # after the settle, as before the move
            problems = []
            if pod_states(lab.kube, SERVICES) != before:
                problems.append(f"{name}: restarted or not Ready again: {before} → {pod_states(lab.kube, SERVICES)}")
            events = lab.kube.json("get", "events")["items"]
            problems += liveness_failures(events, [p for p, _, _ in before.values()], injected)
            copies = copies_since(settled.ledger, injected)
            env.record(
                "network_fault",
                fault=name,
                held=round(removed - injected, 1),
                trips=[asdict(trip) for trip in trips],
                health_probes=len(health),
                retries=errors,
                duplicates_since_injection=copies,
                ledger=settled.result.summary(),
            )
            notes = (
                f"held {removed - injected:.1f} s; {'; '.join(map(str, trips))}; {len(health)} /health probes, all "
                f"200; restarts unchanged; retries {errors}; {copies} duplicate(s) delivered since the injection"
            )
            return problems, [notes]

        recovery = Recovery(
            name,
            injected=injected,
            first_failed_probe=min(failed_ready, default=None),
            ready=max((t for t in (ready_since(p) for p in after.values()) if t is not None), default=None),
        )
        return {"consumer": Reaction(recovery, checks=checks, review=review, first_consumed=lambda _: resumed)}


DEGRADED = [
    Fault(
        f"network {d.toxic.type} {d.toxic.attributes}",
        ("consumer",),
        Degrade(d),
        "calls slower, all succeed: no NotReady, no restart, no retry, nothing lost; toxic removed",
        burst=BURST,
        traffic=Traffic.INJECTOR,  # published with the toxic in place
        settle=redelivery,
    )
    for d in DEGRADATIONS
]
CUT = [
    Fault(
        f"network {o.name}",
        ("consumer",),
        Cut(o),
        "/ready 503 → NotReady within the bound, no restart (heartbeat beats), Ready again, nothing lost",
        burst=BURST,
        traffic=Traffic.INJECTOR,
        settle=redelivery,
    )
    for o in OUTAGES
]


@pytest.mark.parametrize("fault", DEGRADED, ids=[d.toxic.type for d in DEGRADATIONS])
def test_degraded_network_slows_calls_without_unready_or_restart(
    deployed_lab, logs, toxiproxy_route, aws, settings, record_fault, artifacts, run, fault
):
    env = Env(deployed_lab, aws, logs, settings, artifacts=artifacts, proxy=toxiproxy_route[1])
    record_fault(*run_fault(fault, env))


@pytest.mark.parametrize("fault", CUT, ids=[o.name for o in OUTAGES])
def test_network_outage_unready_not_restarted_nothing_lost(
    deployed_lab, logs, toxiproxy_route, aws, settings, record_fault, artifacts, run, fault
):
    env = Env(deployed_lab, aws, logs, settings, artifacts=artifacts, proxy=toxiproxy_route[1])
    record_fault(*run_fault(fault, env))
