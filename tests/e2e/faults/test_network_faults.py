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
"""

import time
from dataclasses import asdict

import pytest

from lab.catalogue import burst, first_consumed_after, ledger_of, settle
from lab.deploy import SERVICES
from lab.detection import liveness_failures
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
from lab.report.record import make_record, probes_of
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


@pytest.mark.parametrize("degradation", DEGRADATIONS, ids=[d.toxic.type for d in DEGRADATIONS])
def test_degraded_network_slows_calls_without_unready_or_restart(
    deployed_lab, logs, toxiproxy_route, aws, settings, record_fault, artifacts, run, degradation
):
    lab, (_, proxy), toxic = deployed_lab, toxiproxy_route, degradation.toxic
    interval = float(live_config(lab, "producer").publish_interval)
    start, before = time.time(), pod_states(lab.kube, SERVICES)
    wait_for(
        lambda: len(consume_delays(logs.ledger(), start, time.time())) >= BASELINE,
        BASELINE * interval + settings.receive_wait + RESTART_SLACK_SECONDS,
        what="baseline producer messages consumed",
    )
    hold = max(unready_bound(lab.probe(app, "readinessProbe")) for app in SERVICES) + DETECTION_TOLERANCE_SECONDS
    with proxy.toxic(PROXY, toxic):
        injected = time.time()
        extra = burst(aws, BURST, f"net-{toxic.type}", logs)
        kept = holds(lambda: pod_states(lab.kube, SERVICES) == before, hold)
        removed = time.time()
    checks = leftovers(proxy) + [f"{app} not Ready before the fault" for app, (_, r, _) in before.items() if not r]
    if not kept:
        checks.append(f"{toxic.type}: pods changed (Ready, restarts): {before} → {pod_states(lab.kube, SERVICES)}")
    result = settle(logs, extra, time.time(), settings.redelivery())
    ledger = ledger_of(logs, extra)
    base, during = consume_delays(ledger, start, injected), consume_delays(ledger, injected, removed)
    retries = logged(logs.texts().values(), RETRIES, injected, removed)
    checks += [f"{toxic.type}: a call failed and was retried: {e.get('error')} {e.get('detail')}" for e in retries[:3]]
    checks += liveness_failures(lab.kube.json("get", "events")["items"], [p for p, _, _ in before.values()], injected)
    if degradation.floor and (not during or min(during) < degradation.floor or median(during) <= median(base)):
        checks.append(f"{toxic.type}: delays {during} not all ≥ {degradation.floor} s above the baseline {base}")
    failed_ready = [p for p in probes_between(logs, "/ready", injected, removed) if not p.ok]
    name = f"network {toxic.type} {toxic.attributes}"
    figures = {
        "delay_median_before": median(base),
        "delay_median_during": median(during),
        "delay_min_during": min(during, default=None),
        "messages_timed": [len(base), len(during)],
        "held": round(removed - injected, 1),
        "failed_ready_probes": len(failed_ready),
        "retries": len(retries),
    }
    artifacts.record("network_fault", fault=name, **figures, ledger=result.summary())
    recovery = Recovery(name, injected=injected, first_consumed=first_consumed_after(ledger, injected))
    notes = (
        f"publish→consume delay median {figures['delay_median_before']} s ({len(base)} msgs) before → "
        f"{figures['delay_median_during']} s during (min {figures['delay_min_during']}, {len(during)} msgs); "
        f"Ready, not restarted over {figures['held']} s; {len(failed_ready)} failed /ready probe(s); "
        f"{len(retries)} retries; {result.summary()}"
    )
    expected = "calls slower, all succeed: no NotReady, no restart, no retry, nothing lost; toxic removed"
    record_fault(
        make_record(
            fault=name,
            expected=expected,
            recovery=recovery,
            ledger=ledger,
            result=result,
            logs=logs,
            app="consumer",
            notes=notes,
            checks=checks,
        )
    )


@pytest.mark.parametrize("outage", OUTAGES, ids=[o.name for o in OUTAGES])
def test_network_outage_unready_not_restarted_nothing_lost(
    deployed_lab, logs, toxiproxy_route, aws, settings, record_fault, artifacts, run, outage
):
    lab, (_, proxy) = deployed_lab, toxiproxy_route
    readiness = {app: lab.probe(app, "readinessProbe") for app in SERVICES}
    liveness = {app: lab.probe(app) for app in SERVICES}
    hold = hold_for(outage, liveness, readiness, {app: lab.heartbeat_max_age(app) for app in SERVICES})
    before, pods = pod_states(lab.kube, SERVICES), {app: lab.kube.pod(app) for app in SERVICES}
    unready_state = {app: (pod, False, restarts) for app, (pod, _, restarts) in before.items()}
    with outage.injected(proxy, PROXY):
        injected = time.time()
        extra = burst(aws, BURST, f"net-{outage.name}", logs)
        for app, (pod, _, _) in before.items():
            lab.kube.wait("condition=Ready=false", readiness[app].unready_deadline(), f"pod/{pod}")
        unready = {app: not_ready_since(lab.kube.pod(app)) for app in SERVICES}
        kept = holds(lambda: pod_states(lab.kube, SERVICES) == unready_state, hold - (time.time() - injected))
        removed = time.time()
    checks = leftovers(proxy)
    if not kept:
        checks.append(f"{outage.name}: not NotReady throughout, or restarted: {pod_states(lab.kube, SERVICES)}")
    for app, (pod, _, _) in before.items():
        lab.kube.wait("condition=Ready", readiness[app].ready_deadline(), f"pod/{pod}")
    after = {app: lab.kube.pod(app) for app in SERVICES}
    resumed = wait_for(
        lambda: first_consumed_after(ledger_of(logs, extra), removed, published_after=True),
        settings.redelivery(),
        what="a message published after the outage consumed",
    )
    result = settle(logs, extra, time.time(), settings.redelivery())
    ledger = ledger_of(logs, extra)
    checks += [p for app in SERVICES if (p := readiness_round_trip(pods[app], after[app], injected)) is not None]
    if pod_states(lab.kube, SERVICES) != before:
        checks.append(f"{outage.name}: restarted or not Ready again: {before} → {pod_states(lab.kube, SERVICES)}")
    checks += liveness_failures(lab.kube.json("get", "events")["items"], [p for p, _, _ in before.values()], injected)
    trips = [
        ReadinessTrip.measure(app, readiness[app], unready[app], ready_since(after[app]), injected, removed)
        for app in SERVICES
    ]
    checks += [problem for trip in trips for problem in trip.problems()]
    health = probes_between(logs, "/health", injected, removed)
    if not health or not all(p.ok for p in health):
        checks.append(f"{outage.name}: /health answered {[p.status for p in health]} during the outage")
    failed_ready = [p.at for p in probes_between(logs, "/ready", injected, removed) if not p.ok]
    retries = logged(logs.texts().values(), RETRIES, injected, removed)
    errors = sorted({f"{e['event']}: {e.get('error')}" for e in retries})
    if not any(e["event"] == "publish_retry" for e in retries):
        checks.append(f"{outage.name}: the producer never retried: the fault did not reach its calls")
    name = f"network {outage.name}"
    artifacts.record(
        "network_fault",
        fault=name,
        held=round(removed - injected, 1),
        trips=[asdict(trip) for trip in trips],
        health_probes=len(health),
        retries=errors,
        duplicates_since_injection=copies_since(ledger, injected),
        ledger=result.summary(),
    )
    recovery = Recovery(
        name,
        injected=injected,
        first_failed_probe=min(failed_ready, default=None),
        ready=max((t for t in (ready_since(p) for p in after.values()) if t is not None), default=None),
        first_consumed=resumed,
    )
    notes = (
        f"held {removed - injected:.1f} s; {'; '.join(map(str, trips))}; {len(health)} /health probes, all 200; "
        f"restarts unchanged; retries {errors}; {copies_since(ledger, injected)} duplicate(s) delivered since the "
        f"injection; {result.summary()}"
    )
    expected = "/ready 503 → NotReady within the bound, no restart (heartbeat beats), Ready again, nothing lost"
    record_fault(
        make_record(
            fault=name,
            expected=expected,
            recovery=recovery,
            ledger=ledger,
            result=result,
            logs=logs,
            app="consumer",
            notes=notes,
            checks=checks,
        )
    )
