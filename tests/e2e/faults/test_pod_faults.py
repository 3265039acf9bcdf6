"""Pods and containers vanish under load; Kubernetes replaces them and the ledger proves no message was lost.

Expected reactions (each test asserts its own):
- pod deleted: the Deployment creates a replacement at once; the old container gets SIGTERM, drains the batch it
  holds (handled messages are deleted, the rest stay on the queue) and exits 0 within terminationGracePeriodSeconds;
- ``kill 1`` via exec: SIGTERM to the app (PID 1). The app handles it like a kubelet stop — drain, exit 0 — and the
  kubelet restarts the container in the same pod (restartPolicy Always). A hard kill cannot be sent this way: the
  kernel drops SIGKILL sent to a namespace's init from inside that namespace, so ``kill -9 1`` is a no-op; the
  in-place restart path and the drain are what this exercises;
- rollout restart: new pod Ready first (maxUnavailable 0 for one replica), then SIGTERM to the old one while it works.
"Mid-batch" and "during work" are shown, not assumed: at least one message of the test's burst must have been handled
after the injection or by the replacement (`lab.catalogue.in_flight`), else the fault hit an idle consumer.
Deadlines: readiness probe bound for the replacement, grace period for the drain, queue VisibilityTimeout plus one
long poll for a message a stopped consumer held to come back (Settings.redelivery).
"""

import time

from lab.catalogue import (
    burst,
    first_consumed_after,
    in_flight,
    ledger_of,
    replaced_pod,
    replacement_recovery,
    settle,
)
from lab.kube import wait_for
from lab.ledger import parse_events
from lab.probes import RESTART_SLACK_SECONDS, backoff_delay
from lab.report.record import make_record
from lab.timeline import Recovery, last_finished_at, ready_since, started_at

# Messages the test adds so the consumer holds a batch when the fault hits. 40 (~4 receives) was found too few on
# the cluster (2026-11-30): in "both pods deleted" the burst was fully consumed before the deletion, so the fault
# hit an idle consumer; `in_flight` now fails that, and 200 keeps the consumer busy for several seconds.
BURST = 200


def busy(logs, extra, deadline: float) -> None:
    """Wait until the consumer has handled part of the burst: it is mid-batch from here on."""
    ids = {e["id"] for e in extra}
    wait_for(lambda: ids & set(logs.ledger().consumed), deadline, interval=0.5, what="consumer busy with the burst")


def clean_stop(logs, pod: str, grace: float) -> dict:
    """The old container's own ``stopped`` line: exit 0 and a drain shorter than the grace period."""

    def stopped():
        events = parse_events(logs.texts().get(pod, ""))
        return next((e for e in events if e["event"] == "stopped"), None)

    event = wait_for(stopped, grace + RESTART_SLACK_SECONDS, what=f"{pod} logged 'stopped'")
    assert event.get("exit_code") == 0, event
    assert float(event.get("drain_seconds") or 0) < grace, f"drain {event.get('drain_seconds')} s ≥ grace {grace} s"
    return event


def burst_hit(ledger, extra, injected: float, new_pods=()) -> tuple[list[str], list[str]]:
    """The burst messages the fault hit, and the problem when there were none (the check `in_flight` names)."""
    hit = in_flight(ledger, [e["id"] for e in extra], injected, new_pods)
    return hit, [] if hit else ["no burst message was in flight at the injection: the consumer was idle"]


def replacement_deadline(lab, app: str) -> float:
    readiness = lab.probe(app, "readinessProbe")
    return readiness.initial_delay + readiness.ready_deadline()


def delete_and_check(lab, aws, logs, settings, apps: tuple[str, ...], fault: str, record_fault) -> None:
    """Delete the pods of ``apps`` in one call mid-burst; replacements Ready, clean stops, nothing lost."""
    old = {app: lab.pod(app) for app in apps}
    extra = burst(aws, BURST, fault.replace(" ", "-"), logs)
    busy(logs, extra, settings.redelivery())
    injected = time.time()
    lab.kube("delete", "pod", *old.values(), "--wait=false")
    new = {app: replaced_pod(lab, app, old[app], replacement_deadline(lab, app)) for app in apps}
    stops = {app: clean_stop(logs, old[app], settings.grace[app]) for app in apps}
    result = settle(logs, extra, time.time(), settings.redelivery() + max(settings.grace.values()))
    ledger = ledger_of(logs, extra)
    records = []
    for app in apps:
        recovery = replacement_recovery(fault, lab, app, old[app], new[app], injected, ledger)
        notes = f"{app}: drained in {stops[app].get('drain_seconds')} s; {result.summary()}"
        expected = "replacement Ready, old container drains and exits 0 within the grace period, nothing lost"
        checks = []
        if app == "consumer":
            hit, checks = burst_hit(ledger, extra, injected, [new[app]["metadata"]["name"]])
            notes += f"; {len(hit)} burst messages in flight"
        name = fault if len(apps) == 1 else f"{fault} ({app})"
        records.append(make_record(name, expected, recovery, ledger, result, logs, app, notes, checks=checks))
    record_fault(*records)


def test_consumer_pod_deleted_mid_batch(deployed_lab, aws, logs, settings, record_fault, run):
    delete_and_check(deployed_lab, aws, logs, settings, ("consumer",), "consumer pod deleted mid-batch", record_fault)


def test_producer_pod_deleted(deployed_lab, aws, logs, settings, record_fault, run):
    delete_and_check(deployed_lab, aws, logs, settings, ("producer",), "producer pod deleted", record_fault)


def test_producer_and_consumer_pods_deleted_at_once(deployed_lab, aws, logs, settings, record_fault, run):
    delete_and_check(deployed_lab, aws, logs, settings, ("producer", "consumer"), "both pods deleted", record_fault)


def test_consumer_container_killed_restarts_in_place(deployed_lab, aws, logs, settings, record_fault, run):
    lab = deployed_lab
    pod = lab.pod("consumer")
    before = lab.kube.restart_count(pod, "consumer")
    extra = burst(aws, BURST, "kill-1", logs)
    busy(logs, extra, settings.redelivery())
    injected = time.time()
    lab.kube.exec(pod, "consumer", "sh", "-c", "kill 1")
    # The app exits by itself after its drain (at most one long poll, inside the grace period). The kubelet applies
    # its crash back-off even to a clean exit: the first restart is immediate, later ones in the same pod wait
    # 10 s, 20 s, ... (measured: 1.7 s, 16 s, 30 s for three runs in a row), so the deadline includes it.
    wait_for(
        lambda: lab.kube.restart_count(pod, "consumer") > before,
        settings.grace["consumer"] + backoff_delay(before + 1) + RESTART_SLACK_SECONDS,
        what="consumer container restarted after kill 1",
    )
    last = lab.kube.container_status(pod, "consumer")["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (0, "Completed"), last
    lab.kube.wait("condition=Ready", replacement_deadline(lab, "consumer"), f"pod/{pod}")
    result = settle(logs, extra, time.time(), settings.redelivery())
    ledger = ledger_of(logs, extra)
    hit, checks = burst_hit(ledger, extra, injected)  # handled by the draining container or its restart
    now = lab.kube.json("get", "pod", pod)
    restarted = started_at(now, "consumer")
    recovery = Recovery(
        "consumer container killed (kill 1)",
        injected=injected,
        killed=last_finished_at(now, "consumer"),
        restarted=restarted,
        ready=ready_since(now),
        first_consumed=first_consumed_after(ledger, restarted),
    )
    expected = "SIGTERM to PID 1: drain, exit 0 (Completed), restarted in place, Ready again, nothing lost"
    notes = f"{result.summary()}; {len(hit)} burst messages in flight"
    record_fault(
        make_record(recovery.fault, expected, recovery, ledger, result, logs, "consumer", notes, checks=checks)
    )


def test_sigterm_during_work_rollout_restart(deployed_lab, aws, logs, settings, record_fault, run):
    lab = deployed_lab
    old = {app: lab.pod(app) for app in ("producer", "consumer")}
    extra = burst(aws, BURST, "rollout", logs)
    busy(logs, extra, settings.redelivery())
    injected = time.time()
    lab.kube("rollout", "restart", "deployment/producer", "deployment/consumer")
    lab.wait_rolled_out(("producer", "consumer"))
    stops = {app: clean_stop(logs, old[app], settings.grace[app]) for app in old}
    result = settle(logs, extra, time.time(), settings.redelivery() + max(settings.grace.values()))
    ledger = ledger_of(logs, extra)
    new = lab.kube.pod("consumer")
    recovery = replacement_recovery(
        "SIGTERM during work (rollout restart)", lab, "consumer", old["consumer"], new, injected, ledger
    )
    hit, checks = burst_hit(ledger, extra, injected, [new["metadata"]["name"]])
    expected = "new pods Ready, old ones drain in-flight work and exit 0 before the grace period, nothing lost"
    notes = "; ".join(f"{app} drained in {stop.get('drain_seconds')} s" for app, stop in stops.items())
    notes += f"; {result.summary()}; {len(hit)} burst messages in flight"
    record_fault(
        make_record(recovery.fault, expected, recovery, ledger, result, logs, "consumer", notes, checks=checks)
    )
