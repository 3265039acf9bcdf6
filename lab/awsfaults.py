"""Reading an AWS-operation fault (faultproxy) back from the services' own logs: which batch a delete fault hit.

Why from the consumer's log: faultproxy sees receipt handles, not the lab's message ids, and a ``delete_failed``
event lists the failed entries by their batch ``Id`` only. The consumer numbers the entries of a delete by their
index among the messages it handled (``Id = str(i)``, logged as ``consumed`` in that order just before the delete),
so one container generation's events, read in order, tell exactly which messages a failed delete left on the queue.
Pure functions over log texts, unit-tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lab.kube import container_status
from lab.ledger import Ledger, parse_events
from lab.timeline import ready_since


@dataclass
class DeleteBatch:
    """The messages one consumer handled between two deletes, and what became of their batch delete."""

    source: str
    ids: list[str] = field(default_factory=list)  # entry order: Id "i" is ids[i]
    consumed_at: float = 0.0  # the last ``consumed`` of the batch: the receive was just before it
    retries: list[dict] = field(default_factory=list)  # consume_retry events of this batch's delete
    failed: list[str] = field(default_factory=list)  # ids whose entry the answer reported in ``Failed``
    deleted: int | None = None  # ``deleted`` count once the delete returned
    closed_at: float | None = None  # when it returned (or was abandoned)


def delete_batches(events: Iterable[dict]) -> list[DeleteBatch]:
    """The batches of one container generation's events, in log order (a generation ends with at most one open)."""
    batches: list[DeleteBatch] = []
    current: DeleteBatch | None = None
    for event in events:
        kind, when = event.get("event"), event.get("_t") or 0.0
        if kind == "consumed":
            if current is None:
                current = DeleteBatch(str(event.get("_source", "")))
                batches.append(current)
            current.ids.append(str(event.get("id")))
            current.consumed_at = when
        elif current is None:
            continue
        elif kind == "consume_retry" and event.get("operation") == "delete":
            current.retries.append(event)
        elif kind == "delete_failed":
            for entry in event.get("failed") or []:
                index = int(entry.get("Id", -1))
                if 0 <= index < len(current.ids):
                    current.failed.append(current.ids[index])
        elif kind in ("deleted", "delete_abandoned"):
            current.deleted = int(event.get("count", 0)) if kind == "deleted" else 0
            current.closed_at, current = when, None
    return batches


def consumer_batches(generation_texts: dict[tuple[str, int], str], since: float) -> list[DeleteBatch]:
    """Every consumer pod's batches whose delete was still to come at ``since``: answered then or later, or open
    (`LogFollower.generation_texts` as input). A batch received just before a fault was set but deleted after it is
    one the fault hit."""
    found = []
    for (pod, generation), text in sorted(generation_texts.items()):
        if pod.startswith("consumer-"):
            batches = delete_batches(parse_events(text, source=pod, generation=generation))
            found += [b for b in batches if b.closed_at is None or b.closed_at >= since]
    return sorted(found, key=lambda b: b.consumed_at)


def app_events(generation_texts: dict[tuple[str, int], str], app: str, since: float, *names: str) -> list[dict]:
    """Events of those ``names`` that ``app``'s pods logged at or after ``since``, in time order."""
    found = [
        event
        for (pod, generation), text in generation_texts.items()
        if pod.startswith(f"{app}-")
        for event in parse_events(text, source=pod, generation=generation)
        if event["event"] in names and (event.get("_t") or 0.0) >= since
    ]
    return sorted(found, key=lambda e: e["_t"])


def redelivery_delays(ledger: Ledger, ids: Iterable[str]) -> dict[str, float | None]:
    """Seconds from each message's first delivery to its second (None: not delivered again)."""
    delays: dict[str, float | None] = {}
    for msg_id in ids:
        times = sorted(e["_t"] for e in ledger.deliveries.get(msg_id, []) if e.get("_t") is not None)
        delays[msg_id] = round(times[1] - times[0], 3) if len(times) > 1 else None
    return delays


def longest_gap(times: Iterable[float], start: float, end: float) -> float:
    """The longest stretch of ``[start, end]`` without one of ``times``: how stale a heartbeat beaten then got."""
    marks = [start, *sorted(t for t in times if start <= t <= end), end]
    return max(b - a for a, b in zip(marks, marks[1:], strict=False))


def steady(pod: dict, container: str) -> tuple[str, int, float | None]:
    """Pod name, restartCount and Ready-since: unchanged across a fault means not replaced, not restarted and not
    NotReady for a moment either (any Ready transition moves lastTransitionTime; None while NotReady)."""
    status = container_status(pod, container)
    return pod["metadata"]["name"], int(status.get("restartCount", 0)), ready_since(pod)
