"""Faults of the message path: a poison message, and the emulator itself deleted.

Poison: a body the consumer cannot parse is logged and left on the queue; after ``maxReceiveCount`` receives the
redrive policy moves it to the DLQ while every good message around it is consumed. Deadline: one VisibilityTimeout
per receive, ``maxReceiveCount + 1`` times, plus a long poll and the stated slack.

Emulator deleted: LocalStack keeps its state in memory, so the queue's contents die with the pod. Expected: the
producer and consumer are NOT restarted (liveness does not depend on AWS), they turn NotReady and back; the init
hook recreates topic, queues and subscription; the producer retries and resumes. What an in-memory emulator must
lose is measured, not hidden: messages published after the last one consumed before the deletion and before the
first one that made it through the recreated subscription (the loss window, `lab.catalogue.emulator_loss_window`).
Anything lost outside it fails, and so do more excused losses than the producer can publish inside it. The window
stays in force for the module's later runs (`windows`): the module's ledger is cumulative.

The procedure around each fault (ledger, records) is `lab.runner.run_fault`; `PoisonMessage` and `DeleteEmulator`
are the injectors of these kinds.
"""

import time
import uuid

import pytest

from lab.aws import localstack
from lab.catalogue import dlq_bodies, first_consumed_after, flow_resumed, replaced_pod
from lab.deploy import SERVICES
from lab.diagnose import flow_summary
from lab.fault import Env, Fault, Reaction, Settled, Traffic, publish, redelivery
from lab.kube import KubectlError, wait_for
from lab.ledger import parse_events
from lab.probes import RESTART_SLACK_SECONDS
from lab.runner import run_fault
from lab.services import live_config
from lab.timeline import Recovery, readiness_round_trip, ready_since, started_at

BURST = 20


@pytest.fixture(scope="module")
def windows() -> list:
    """Loss windows of every emulator outage this module made so far (the module's ledger is cumulative)."""
    return []


class PoisonMessage:
    """An unparsable body through the topic, then ``burst`` good neighbours; the redrive must dead-letter it."""

    def prepare(self, env: Env, fault: Fault):
        pod = env.lab.pod("consumer")
        return pod, env.lab.kube.restart_count(pod, "consumer")

    def inject(self, env: Env, fault: Fault, prepared):
        marker = f"poison-{uuid.uuid4().hex}"
        injected = time.time()
        env.aws.sns.publish(TopicArn=env.aws.topic_arn(), Message=f"not json {{ {marker}")
        publish(env, fault)  # the neighbours: every one of them must be consumed around the poison
        return prepared, marker, injected

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        (pod, restarts), marker, injected = state
        settings = env.settings
        deadline = settings.visibility * (settings.max_receive + 1) + settings.receive_wait + RESTART_SLACK_SECONDS
        wait_for(
            lambda: any(marker in body for body in dlq_bodies(env.aws)), deadline, interval=2, what="poison in the DLQ"
        )
        dead_lettered = time.time()

        def review(settled: Settled) -> tuple[list[str], list[str]]:
            seen = [p for p in settled.ledger.poison if marker in str(p.get("body", ""))]
            checks = [] if 1 <= len(seen) <= settings.max_receive else [f"consumer saw the poison {len(seen)} times"]
            if env.lab.kube.restart_count(pod, "consumer") != restarts:
                checks.append("a poison message must not restart the consumer")
            notes = [
                f"received {len(seen)}× (maxReceiveCount {settings.max_receive}), in the DLQ within "
                f"{dead_lettered - injected:.0f} s; DLQ holds {len(settled.result.dlq)}"
            ]
            return checks, notes

        recovery = Recovery(fault.name, injected=injected)
        return {
            "consumer": Reaction(
                recovery, review=review, first_consumed=lambda ledger: first_consumed_after(ledger, injected)
            )
        }

    def undo(self, env: Env, fault: Fault) -> None:
        """Nothing to undo: the redrive policy removes the poison from the queue."""


class DeleteEmulator:
    """``kubectl delete pod`` of LocalStack: state lost, resources recreated by the init hook, the flow resumes."""

    def prepare(self, env: Env, fault: Fault):
        lab = env.lab
        restarts = {app: lab.kube.restart_count(lab.pod(app), app) for app in SERVICES}
        before = {app: lab.kube.pod(app) for app in SERVICES}
        return restarts, before, float(live_config(lab, "producer").publish_interval), lab.pod("localstack")

    def inject(self, env: Env, fault: Fault, prepared):
        injected = time.time()
        env.lab.kube("delete", "pod", prepared[-1], "--wait=false")
        return prepared, injected

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        (restarts, before, interval, old), injected = state
        lab, logs = env.lab, env.logs
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
                env.settings.redelivery(),
                interval,
                what="a message published after the emulator restart consumed",
            )
        except AssertionError as exc:  # say which side stalled: CI shows only this text
            raise AssertionError(f"{exc} | {stall_state(env, injected)}") from None
        env.windows.append(window)

        def review(settled: Settled) -> tuple[list[str], list[str]]:
            checks = [p for app in SERVICES if (p := readiness_round_trip(before[app], lab.kube.pod(app), injected))]
            checks += [
                f"{app} restarted: liveness depends on AWS"
                for app in SERVICES
                if lab.kube.restart_count(lab.pod(app), app) != restarts[app]
            ]
            retried = [
                e for e in logs_events(logs, "producer") if e["event"] == "publish_retry" and e["_t"] >= injected
            ]
            checks += [] if retried else ["the producer never retried during the outage"]
            ledger, excused = settled.ledger, settled.result.excused
            offsets = sorted(ledger.published_at(m) - injected for m in excused)
            span = f"published {offsets[0]:+.1f} s to {offsets[-1]:+.1f} s around the deletion" if offsets else "none"
            notes = [
                f"lost to the in-memory emulator: {len(excused)} of at most {window.max_excused} ({span}; window "
                f"{window.start - injected:+.1f} s to {window.end - injected:+.1f} s); producer retried {len(retried)}×"
            ]
            return checks, notes

        recovery = Recovery(
            fault.name, injected=injected, restarted=started_at(new, "localstack"), ready=ready_since(new)
        )
        return {"consumer": Reaction(recovery, review=review, first_consumed=lambda _: resumed)}

    def undo(self, env: Env, fault: Fault) -> None:
        """Nothing to undo: the Deployment replaces the pod and the init hook recreates the resources."""


def stall_state(env: Env, injected: float) -> str:
    """Which side stalled when the flow did not resume: the followed logs' state and LocalStack's endpoints."""
    try:
        endpoints = env.lab.kube("get", "endpointslices", "-l", "kubernetes.io/service-name=localstack", "-o", "wide")
    except KubectlError as error:
        endpoints = f"unreadable ({error})"
    state = flow_summary(env.logs.texts(), env.logs.streams(), injected, time.time())
    return f"{state} | localstack endpoints: {' '.join(endpoints.split())}"


def logs_events(logs, app: str) -> list[dict]:
    """Every application event logged by the pods of ``app`` (all generations)."""
    return [e for pod, text in logs.texts().items() if pod.startswith(f"{app}-") for e in parse_events(text)]


FAULTS = [
    Fault(
        "poison message",
        ("consumer",),
        PoisonMessage(),
        "poison logged, not deleted, moved to the DLQ after maxReceiveCount; the rest consumed; no restart",
        burst=BURST,
        traffic=Traffic.INJECTOR,  # the neighbours follow the poison
        settle=redelivery,
        dlq=True,
    ),
    Fault(
        "emulator (LocalStack) pod deleted",
        ("consumer",),
        DeleteEmulator(),
        "no producer/consumer restart; NotReady then Ready; resources recreated; flow resumes; loss ⊆ window",
        burst=0,
        traffic=Traffic.INJECTOR,  # the producer's own traffic is what the outage hits
        settle=redelivery,
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_message_fault(deployed_lab, aws, logs, settings, record_fault, windows, fault, run):
    record_fault(*run_fault(fault, Env(deployed_lab, aws, logs, settings, windows=windows)))
