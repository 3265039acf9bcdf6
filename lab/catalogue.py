"""Shared steps of the fault catalogue: traffic the test adds, the ledger wait, and reading a recovery back.

Every deadline here is computed from settings read from the live objects (probe fields, the queue's
VisibilityTimeout, the consumer's RECEIVE_WAIT_SECONDS, terminationGracePeriodSeconds), never guessed, so a change
in the manifests moves the waits with it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lab.aws import DLQ, QUEUE, Aws
from lab.deploy import Lab
from lab.kube import wait_for
from lab.ledger import Ledger, LedgerResult, LossWindow
from lab.logfollow import LogFollower
from lab.probes import RESTART_SLACK_SECONDS
from lab.timeline import Recovery, event_time, ready_since, started_at

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
    windows: Sequence[LossWindow] = (),
) -> LedgerResult:
    """Wait until every message published up to ``until`` is consumed (or excused), and every consumed one is known.

    ``unknown`` is waited on too: a consumer can log a message a few milliseconds after the producer, and the
    producer's ``published`` line can reach the follower's file later (measured on a loaded node, 2026-11-30: a
    message consumed 30 ms after its publish showed as unknown in a check 3 s later). A real unknown stays, and
    fails after the deadline. ``window``/``windows``: losses an in-memory emulator's outage(s) excuse (`Ledger.check`).
    """

    def done() -> LedgerResult | None:
        result = ledger_of(logs, extra, aws).check(until=until, window=window, windows=windows)
        return result if not result.lost and not result.unknown else None

    try:
        return wait_for(done, deadline, interval=2, what="every published message consumed")
    except AssertionError:
        result = ledger_of(logs, extra, aws).check(until=until, window=window, windows=windows)
        raise AssertionError(
            f"ledger after {deadline:.0f} s: {result.summary()}; lost {result.lost[:10]}; unknown {result.unknown[:10]}"
        ) from None


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


def in_flight(ledger: Ledger, ids: Iterable[str], injected: float, new_pods: Iterable[str] = ()) -> list[str]:
    """Burst messages the fault really hit: handled at or after the injection (the old pod draining its batch, or a
    redelivery), or handled by a replacement pod. Empty means the burst was over before the fault: not "mid-batch"."""
    replacements = set(new_pods)
    return sorted(
        msg_id
        for msg_id in ids
        if any(
            (e.get("_t") is not None and e["_t"] >= injected) or e.get("_source") in replacements
            for e in ledger.deliveries.get(msg_id, [])
        )
    )


def flow_resumed(
    logs: LogFollower, injected: float, deadline: float, interval: float, after: float | None = None, what: str = ""
) -> tuple[float, LossWindow]:
    """Wait (``deadline``) until a message published after ``after`` (default ``injected``) was consumed; return when,
    and what the in-memory emulator may have lost since ``injected`` (`emulator_loss_window`, up to the first message
    published since then that came through)."""
    since = injected if after is None else after
    resumed = wait_for(
        lambda: first_consumed_after(logs.ledger(), since, published_after=True),
        deadline,
        what=what or "a message published after the emulator came back consumed",
    )
    ledger = logs.ledger()
    through = first_through(ledger, since)
    return resumed, emulator_loss_window(ledger, injected, resumed if through is None else through, interval)


def first_through(ledger: Ledger, since: float) -> float | None:
    """Publish time of the first message published at or after ``since`` that was consumed: the first one through the
    recreated subscription. Counting from the injection instead (the scale-to-0 command) let a message published in
    the moment before LocalStack actually stopped end the window early, and the producer's message given up later
    in the outage fell outside it (kind, 2026-12-03 16:18 UTC: both probe-config faults failed on that one message).
    """
    times = [e["_t"] for m, e in ledger.published.items() if m in ledger.first_consumed and e["_t"] >= since]
    return min(times, default=None)


def emulator_loss_window(ledger: Ledger, injected: float, resumed: float, publish_interval: float) -> LossWindow:
    """What an in-memory emulator restart may lose: messages published after the last one consumed before the
    deletion and up to ``resumed`` (the publish time of the first message through the recreated subscription).

    Its size is bounded by the producer's rate: one message per ``publish_interval`` (retries reuse the message), so
    the window can hold at most ``(end − start) / interval + 1`` messages; more excused losses fail the ledger.
    """
    before = [
        (event["_t"], msg_id)
        for msg_id, events in ledger.deliveries.items()
        for event in events
        if event.get("_t") is not None and event["_t"] < injected
    ]
    last = max(before, default=None)
    start = ledger.published_at(last[1]) if last is not None else None
    start = injected if start is None else start  # nothing consumed yet: only what was published after the fault
    end = max(resumed, start)
    return LossWindow(start, end, "emulator restart", max_excused=int((end - start) // publish_interval) + 1)
