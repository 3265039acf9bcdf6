"""The three measurements of the benchmark, each bounded in message count and wall time, loopback only.

Throughput is compared on equal terms: the same preloaded backlog on the same queue is drained once by a raw boto3
receive+delete loop and once by the real consumer process, and both rates are (n − 1) / (last handled − first
handled) so start-up time is excluded from both.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid

from lab.emulator import Emulator
from lab.processes import Service
from lab.waiting import wait_for
from shared import contract


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """p50/p99/max of ``values`` (inclusive method: exact for small samples), rounded to 0.1 ms."""
    if len(values) < 2:
        return {"n": len(values), "p50": None, "p99": None, "max": None}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"n": len(values), "p50": round(q[49], 4), "p99": round(q[98], 4), "max": round(max(values), 4)}


def preload(emulator: Emulator, topic_arn: str, queue_url: str, count: int, deadline: float) -> None:
    """Publish ``count`` producer-shaped messages through SNS and wait until the queue holds them all."""
    sns, sqs = emulator.client("sns"), emulator.client("sqs")
    run = uuid.uuid4().hex[:8]
    for start in range(0, count, 10):
        entries = [
            {
                "Id": str(i),
                "Message": json.dumps(contract.message(str(uuid.uuid4()), i + 1, time.time(), f"bench-preload-{run}")),
            }
            for i in range(start, min(start + 10, count))
        ]
        sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)

    def queued() -> bool:
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"]) >= count

    wait_for(queued, deadline, 0.05, f"{count} messages queued")


def rate(rounds: list[list[float]]) -> float | None:
    """Messages per second over several drained backlogs: sum of (n − 1) over sum of (last − first) handled time."""
    spans = [(len(times) - 1, max(times) - min(times)) for times in rounds if len(times) >= 2]
    seconds = sum(span for _, span in spans)
    return round(sum(n for n, _ in spans) / seconds, 1) if seconds > 0 else None


def raw_drain(emulator: Emulator, queue_url: str, count: int, deadline: float) -> list[float]:
    """Baseline: the plainest fast loop (batch of 10, long poll, parse, batch delete) on one client."""
    sqs = emulator.client("sqs")
    handled: list[float] = []
    end = time.monotonic() + deadline
    while len(handled) < count and time.monotonic() < end:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for message in messages:
            json.loads(message["Body"])
            handled.append(time.time())
        if messages:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    if len(handled) < count:
        raise TimeoutError(f"raw loop handled {len(handled)} of {count} messages within {deadline} s")
    return handled


def app_drain(consumer: Service, count: int, deadline: float) -> list[float]:
    """The real consumer draining the same backlog; handled times are its own ``consumed`` log stamps."""
    return [e["_t"] for e in consumer.wait_events("consumed", count, deadline)]


def throughput(emulator: Emulator, topic_arn: str, queue_url: str, start_consumer, args) -> dict:
    """Alternate raw and app rounds of ``--batch`` messages on the same queue.

    Rounds stay small because the emulator's receive cost grows with queue depth (moto scans the queue), so a small
    backlog measures the client loop more than the emulator; alternating spreads background load evenly. The
    consumer is started per round and has exited before the raw loop runs, so its long poll cannot take messages
    meant for the raw loop.
    """
    raw_rounds, app_rounds = [], []
    for _ in range(args.rounds):
        preload(emulator, topic_arn, queue_url, args.batch, args.deadline)
        raw_rounds.append(raw_drain(emulator, queue_url, args.batch, args.deadline))
        preload(emulator, topic_arn, queue_url, args.batch, args.deadline)
        consumer = start_consumer()
        app_rounds.append(app_drain(consumer, args.batch, args.deadline))
        # Once its deletes are logged nothing is in flight: end it at once instead of waiting out its long poll
        # (a SIGTERM drain would wait up to RECEIVE_WAIT_SECONDS per round on the now empty queue).
        consumer.wait_deleted(args.batch, args.deadline)
        consumer.kill()
    raw, app = rate(raw_rounds), rate(app_rounds)
    return {
        "raw": {"messages": sum(map(len, raw_rounds)), "rate_per_s": raw},
        "app": {"messages": sum(map(len, app_rounds)), "rate_per_s": app},
        "ratio": round(app / raw, 2) if app and raw else None,
        "rounds": args.rounds,
        "batch": args.batch,
    }


def latency(producer: Service, consumer: Service, count: int, deadline: float) -> dict:
    """Publish → consumer handled, per message id, from the message's own ``ts`` to the ``consumed`` log stamp."""
    consumed = consumer.wait_events("consumed", count, deadline)
    sent = {e["id"]: e["_t"] for e in producer.events("published")}
    samples = []
    for event in consumed:
        body = event.get("body")
        try:
            ts = (json.loads(body) if isinstance(body, str) else body or {}).get("ts")
        except (ValueError, AttributeError):
            ts = None
        start = ts if isinstance(ts, int | float) else sent.get(event["id"])
        if start is not None:
            samples.append(event["_t"] - start)
    return {"seconds": percentiles(samples)}
