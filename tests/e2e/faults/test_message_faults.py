"""Faults of the message path: a poison message, and the emulator itself deleted.

Poison: a body the consumer cannot parse is logged and left on the queue; after ``maxReceiveCount`` receives the
redrive policy moves it to the DLQ while every good message around it is consumed. Deadline: one VisibilityTimeout
per receive, ``maxReceiveCount + 1`` times, plus a long poll and the stated slack.

Emulator deleted: LocalStack keeps its state in memory, so the queue's contents die with the pod. Expected: the
producer and consumer are NOT restarted (liveness does not depend on AWS), they turn NotReady and back; the init
hook recreates topic, queues and subscription; the producer retries and resumes. What an in-memory emulator must
lose is measured, not hidden: messages published after the last one consumed before the deletion and before the
first one that made it through the recreated subscription (the loss window, `lab.catalogue.emulator_loss_window`).
Anything lost outside it fails, and so do more excused losses than the producer can publish inside it.
"""

import time
import uuid

from lab.aws import localstack
from lab.catalogue import (
    burst,
    dlq_bodies,
    first_consumed_after,
    flow_resumed,
    ledger_of,
    replaced_pod,
    settle,
)
from lab.deploy import SERVICES
from lab.diagnose import flow_summary
from lab.kube import KubectlError, wait_for
from lab.ledger import parse_events
from lab.probes import RESTART_SLACK_SECONDS
from lab.report.record import make_record
from lab.services import live_config
from lab.timeline import Recovery, readiness_round_trip, ready_since, started_at

BURST = 20


def test_poison_message_dead_lettered_while_the_rest_is_consumed(deployed_lab, aws, logs, settings, record_fault, run):
    lab = deployed_lab
    pod = lab.pod("consumer")
    restarts = lab.kube.restart_count(pod, "consumer")
    marker = f"poison-{uuid.uuid4().hex}"
    injected = time.time()
    aws.sns.publish(TopicArn=aws.topic_arn(), Message=f"not json {{ {marker}")
    extra = burst(aws, BURST, "poison-neighbours", logs)
    deadline = settings.visibility * (settings.max_receive + 1) + settings.receive_wait + RESTART_SLACK_SECONDS
    wait_for(lambda: any(marker in body for body in dlq_bodies(aws)), deadline, interval=2, what="poison in the DLQ")
    result = settle(logs, extra, time.time(), settings.redelivery(), aws=aws)
    ledger = ledger_of(logs, extra, aws)
    seen = [p for p in ledger.poison if marker in str(p.get("body", ""))]
    assert 1 <= len(seen) <= settings.max_receive, f"consumer saw the poison {len(seen)} times"
    assert lab.kube.restart_count(pod, "consumer") == restarts, "a poison message must not restart the consumer"
    dead_lettered = time.time()
    recovery = Recovery("poison message", injected=injected, first_consumed=first_consumed_after(ledger, injected))
    notes = (
        f"received {len(seen)}× (maxReceiveCount {settings.max_receive}), in the DLQ within "
        f"{dead_lettered - injected:.0f} s; DLQ holds {len(result.dlq)}; {result.summary()}"
    )
    expected = "poison logged, not deleted, moved to the DLQ after maxReceiveCount; the rest consumed; no restart"
    record_fault(
        make_record(
            fault=recovery.fault,
            expected=expected,
            recovery=recovery,
            ledger=ledger,
            result=result,
            logs=logs,
            app="consumer",
            notes=notes,
        )
    )


def test_emulator_pod_deleted_resources_recreated_and_flow_resumes(deployed_lab, logs, settings, record_fault, run):
    lab = deployed_lab
    restarts = {app: lab.kube.restart_count(lab.pod(app), app) for app in SERVICES}
    before = {app: lab.kube.pod(app) for app in SERVICES}
    interval = float(live_config(lab, "producer").publish_interval)
    old = lab.pod("localstack")
    injected = time.time()
    lab.kube("delete", "pod", old, "--wait=false")
    bound = lab.progress_deadline("localstack")  # the Deployment's own bound for a new pod to become available
    new = replaced_pod(lab, "localstack", old, bound)
    readiness = lab.probe("localstack", "readinessProbe")
    window_wait = readiness.window() + RESTART_SLACK_SECONDS
    with localstack(lab) as aws:
        topic = wait_for(aws.topic_arn, window_wait, what="topic recreated by the init hook")
        wait_for(lambda: aws.subscriptions(topic), window_wait, what="subscription recreated")
    for app in SERVICES:
        app_readiness = lab.probe(app, "readinessProbe")
        lab.kube.wait("condition=Ready", app_readiness.ready_deadline() + window_wait, f"pod/{lab.pod(app)}")
    # Flow resumed: a message the producer published after the recovery has been consumed.
    try:
        resumed, window = flow_resumed(
            logs,
            injected,
            settings.redelivery(),
            interval,
            what="a message published after the emulator restart consumed",
        )
    except AssertionError as exc:  # say which side stalled: CI shows only this text
        try:
            endpoints = lab.kube("get", "endpointslices", "-l", "kubernetes.io/service-name=localstack", "-o", "wide")
        except KubectlError as error:
            endpoints = f"unreadable ({error})"
        state = flow_summary(logs.texts(), logs.streams(), injected, time.time())
        raise AssertionError(f"{exc} | {state} | localstack endpoints: {' '.join(endpoints.split())}") from None
    ledger = logs.ledger()
    result = settle(logs, [], time.time(), settings.redelivery(), window=window)
    round_trips = [readiness_round_trip(before[app], lab.kube.pod(app), injected) for app in SERVICES]
    for app in SERVICES:
        assert lab.kube.restart_count(lab.pod(app), app) == restarts[app], f"{app} restarted: liveness depends on AWS"
    retry_events = [e for e in logs_events(logs, "producer") if e["event"] == "publish_retry" and e["_t"] >= injected]
    assert retry_events, "the producer never retried during the outage"
    recovery = Recovery(
        "emulator (LocalStack) pod deleted",
        injected=injected,
        restarted=started_at(new, "localstack"),
        ready=ready_since(new),
        first_consumed=resumed,
    )
    excused = sorted(ledger.published_at(m) - injected for m in result.excused)
    span = f"published {excused[0]:+.1f} s to {excused[-1]:+.1f} s around the deletion" if excused else "none"
    notes = (
        f"lost to the in-memory emulator: {len(result.excused)} of at most {window.max_excused} ({span}; window "
        f"{window.start - injected:+.1f} s to {window.end - injected:+.1f} s); "
        f"producer retried {len(retry_events)}×; {result.summary()}"
    )
    expected = "no producer/consumer restart; NotReady then Ready; resources recreated; flow resumes; loss ⊆ window"
    checks = [problem for problem in round_trips if problem is not None]
    record_fault(
        make_record(
            fault=recovery.fault,
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


def logs_events(logs, app: str) -> list[dict]:
    """Every application event logged by the pods of ``app`` (all generations)."""
    return [e for pod, text in logs.texts().items() if pod.startswith(f"{app}-") for e in parse_events(text)]
