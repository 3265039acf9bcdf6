"""Shared steps of the fault catalogue: traffic the test adds, the ledger wait, and reading a recovery back.

Every deadline here is computed from settings read from the live objects (probe fields, the queue's
VisibilityTimeout, the consumer's RECEIVE_WAIT_SECONDS, terminationGracePeriodSeconds), never guessed, so a change
in the manifests moves the waits with it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from lab.aws import DLQ, QUEUE, Aws
from lab.deploy import Lab
from lab.kube import wait_for
from lab.ledger import Ledger, LedgerResult, LossWindow
from lab.logfollow import LogFollower
from lab.probes import RESTART_SLACK_SECONDS
from lab.timeline import Recovery, event_time, probe_results, ready_since, started_at

DEFAULT_GRACE = 30.0


@dataclass(frozen=True)
class Settings:
    """The live numbers the catalogue's deadlines are made of."""

    visibility: float  # queue VisibilityTimeout: how long a received, undeleted message stays hidden
    receive_wait: float  # consumer long poll: the longest a drain or a redelivery pickup can take
    max_receive: int  # redrive maxReceiveCount
    grace: dict[str, float]  # terminationGracePeriodSeconds per app

    @classmethod
    def read(cls, lab: Lab, aws: Aws) -> Settings:
        attrs = aws.queue_attributes(QUEUE)
        redrive = json.loads(attrs.get("RedrivePolicy", "{}") or "{}")
        grace = {}
        for app in ("producer", "consumer", "localstack"):
            spec = lab.kube.deployment(app)["spec"]["template"]["spec"]
            grace[app] = float(spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE))
        return cls(
            visibility=float(attrs["VisibilityTimeout"]),
            receive_wait=float(lab.env("consumer", "RECEIVE_WAIT_SECONDS", "20") or 20),
            max_receive=int(redrive.get("maxReceiveCount", 3)),
            grace=grace,
        )

    def redelivery(self) -> float:
        """Worst case for a message a dead consumer had received to be handled again by its successor."""
        return self.visibility + self.receive_wait + RESTART_SLACK_SECONDS


def burst(aws: Aws, count: int, tag: str, logs: LogFollower | None = None) -> list[dict]:
    """Publish ``count`` lab-shaped messages through the topic; return them as ledger ``published`` events.

    With ``logs`` they are also registered there, so every later ledger of the namespace knows them.
    """
    topic = aws.topic_arn()
    if topic is None:
        raise AssertionError("topic lab-messages does not exist")
    producer = f"{tag}-{uuid.uuid4().hex[:6]}"
    events = []
    for start in range(0, count, 10):
        entries = []
        for seq in range(start + 1, min(start + 10, count) + 1):
            body = {"id": f"{producer}-{seq}", "seq": seq, "ts": time.time(), "producer": producer}
            entries.append({"Id": str(seq), "Message": json.dumps(body)})
        aws.sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        accepted = time.time()
        events += [{**json.loads(e["Message"]), "event": "published", "_t": accepted} for e in entries]
    if logs is not None:
        logs.test_published.extend(events)
    return events


def ledger_of(logs: LogFollower, extra: list[dict], aws: Aws | None = None) -> Ledger:
    """The ledger of everything the pods logged plus what the test published; DLQ peeked when ``aws`` is given."""
    bodies = dlq_bodies(aws) if aws is not None else []
    return logs.ledger(bodies).add_events(extra)


def dlq_bodies(aws: Aws) -> list[str]:
    """Bodies in the DLQ, received with visibility 0 so they stay there for the next look."""
    url = aws.queue_url(DLQ)
    found: dict[str, str] = {}
    for _ in range(5):  # SQS returns a sample per call; a few calls see a small DLQ whole
        for msg in aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            found[msg["MessageId"]] = msg["Body"]
    return list(found.values())


def settle(
    logs: LogFollower,
    extra: list[dict],
    until: float,
    deadline: float,
    window: LossWindow | None = None,
    aws: Aws | None = None,
) -> LedgerResult:
    """Wait until every message published up to ``until`` is consumed (or dead-lettered, or excused)."""

    def done() -> LedgerResult | None:
        result = ledger_of(logs, extra, aws).check(until=until, window=window)
        return result if not result.lost else None

    try:
        return wait_for(done, deadline, interval=2, what="every published message consumed")
    except AssertionError:
        result = ledger_of(logs, extra, aws).check(until=until, window=window)
        raise AssertionError(f"ledger after {deadline:.0f} s: {result.summary()}; lost {result.lost[:10]}") from None


def first_consumed_after(
    ledger: Ledger, after: float | None, published_after: bool = False, pod: str | None = None
) -> float | None:
    """When the first message was handled after ``after``.

    ``published_after``: only messages also published after it (a restarted producer's). ``pod``: only messages
    handled by that consumer pod, or, with ``published_after``, published by that producer pod (a replacement's).
    """
    if after is None:
        return None
    times = []
    for msg_id, event in ledger.first_consumed.items():
        when, sent = event.get("_t"), ledger.published.get(msg_id, {})
        if when is None or when < after:
            continue
        if published_after and (sent.get("_t") is None or sent["_t"] < after):
            continue
        if pod is not None and (sent if published_after else event).get("_source") != pod:
            continue
        times.append(when)
    return min(times, default=None)


def replaced_pod(lab: Lab, app: str, old: str, deadline: float) -> dict:
    """The new pod that replaced ``old`` once it is Ready (bounded by ``deadline``)."""

    def ready_new() -> dict | None:
        pods = [p for p in lab.kube.pods(app) if p["metadata"]["name"] != old]
        return next((p for p in pods if ready_since(p) is not None), None)

    return wait_for(ready_new, deadline, what=f"a Ready replacement of {old}")


def replacement_recovery(
    fault: str, lab: Lab, app: str, old: str, new: dict, injected: float, ledger: Ledger
) -> Recovery:
    """Timeline of a pod replaced by its Deployment (delete, rollout): no probe decides, so no bound."""
    events = lab.kube.json("get", "events")["items"]
    restarted = started_at(new, app)
    return Recovery(
        fault,
        injected=injected,
        killed=event_time(events, "Killing", injected, old),
        restarted=restarted,
        ready=ready_since(new),
        first_consumed=first_consumed_after(
            ledger, restarted, published_after=app == "producer", pod=new["metadata"]["name"]
        ),
    )


def kill_decision(logs: LogFollower, lab: Lab, app: str, pod: str, after: float, threshold: int) -> float | None:
    """When the kubelet decided to restart: the ``threshold``-th consecutive failed liveness probe in the pod's log
    (nanosecond stamps), else the Killing event (whole seconds) when the probe never reached the server (port)."""
    liveness = [p for p in probe_results(logs.texts().get(pod, "")) if p.at >= after and p.path != "/ready"]
    streak = 0
    for probe in liveness:
        streak = 0 if probe.ok else streak + 1
        if streak == threshold:
            return probe.at
    events = lab.kube.json("get", "events", "--field-selector", f"involvedObject.name={pod}")["items"]
    return event_time(events, "Killing", after, pod, contains="liveness")
