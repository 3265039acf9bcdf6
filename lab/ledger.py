"""Message ledger: proves from the services' own logs that no published message was lost.

The producer logs ``published`` only after SNS accepted a message and the consumer logs ``consumed`` only after it
handled one (before the batch delete), so comparing the two id sets is the at-least-once check the lab promises.
The logs are read as ``kubectl logs`` prints them: JSON lines on stdout mixed with http.server access lines on stderr,
optionally prefixed by ``--timestamps`` and ``--prefix``, and cut short when a container was killed mid-write.
Everything here is pure so it can be unit-tested without a cluster.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lab.times import parse_time

# kubectl logs --prefix puts "[pod/NAME/CONTAINER] " in front; --timestamps puts an RFC3339Nano stamp.
_PREFIX = re.compile(r"^\[(?P<source>[^\]\s]+)\]\s")
_STAMP = re.compile(r"^(?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\s")


@dataclass(frozen=True)
class LogLine:
    """One line of ``kubectl logs`` output with the decorations kubectl may have added taken off."""

    text: str
    source: str = ""
    stamp: float | None = None


def split_line(raw: str, source: str = "") -> LogLine:
    """Strip the ``--prefix`` and ``--timestamps`` decorations (in kubectl's order) from one line."""
    line = raw.rstrip("\r\n")
    match = _PREFIX.match(line)
    if match:
        source, line = match.group("source"), line[match.end() :]
    stamp = None
    match = _STAMP.match(line)
    if match:
        stamp, line = parse_time(match.group("stamp")), line[match.end() :]
    return LogLine(text=line, source=source, stamp=stamp)


def parse_events(text: str, source: str = "", generation: int | None = None) -> list[dict]:
    """Application events (JSON objects with an ``event`` key) in log order; every other line is ignored.

    Access log lines, tracebacks and a final half-written line of a killed container are not events. Each event gets
    ``_source`` (pod/container, when known), ``_generation`` (the container's restartCount when it logged, when
    known: a restarted producer numbers its messages from 1 again under the same pod name) and ``_t``: the app's own
    ``ts`` if it has one, else kubectl's stamp.
    """
    events: list[dict] = []
    for raw in text.splitlines():
        line = split_line(raw, source)
        if not line.text.startswith("{"):
            continue
        try:
            obj = json.loads(line.text)
        except ValueError:
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("event"), str):
            continue
        when = parse_time(obj.get("ts"))
        obj["_t"] = when if when is not None else line.stamp
        obj["_source"] = line.source
        obj["_generation"] = generation
        events.append(obj)
    return events


@dataclass(frozen=True)
class LossWindow:
    """Publish times during which losing a message is expected and documented, e.g. an in-memory emulator restart.

    Messages that SNS accepted but no consumer received before the emulator pod died vanish with its memory, and so do
    messages published to the recreated topic before the init hook re-subscribed the queue. Losses outside the window
    stay real failures.
    """

    start: float
    end: float
    reason: str = "emulator restart"
    max_excused: int | None = None  # most messages the window can hold (publish rate × its length); None = unbounded

    def covers(self, when: float | None) -> bool:
        return when is not None and self.start <= when <= self.end


@dataclass
class Ledger:
    """Published and consumed ids collected from any number of log texts (several pods, current and previous)."""

    published: dict[str, dict] = field(default_factory=dict)
    consumed: Counter[str] = field(default_factory=Counter)
    first_consumed: dict[str, dict] = field(default_factory=dict)
    poison: list[dict] = field(default_factory=list)
    deleted: int = 0
    dlq: list[dict] = field(default_factory=list)
    # Messages a producer gave up on (SIGTERM mid-retry): never accepted, so lost unless a consumer saw them anyway.
    unpublished: dict[str, dict] = field(default_factory=dict)
    deliveries: dict[str, list[dict]] = field(default_factory=dict)  # every ``consumed`` event per id, log order
    # Container generations whose log could not be read (e.g. ``logs --previous`` failed): the ledger is incomplete.
    unreadable: list[str] = field(default_factory=list)

    def add_events(self, events: Iterable[dict]) -> Ledger:
        for event in events:
            kind, msg_id = event.get("event"), event.get("id")
            if kind == "published" and isinstance(msg_id, str):
                # A producer retry that SNS accepted twice is the same message; keep the first acceptance.
                self.published.setdefault(msg_id, event)
            elif kind == "unpublished" and isinstance(msg_id, str):
                self.unpublished.setdefault(msg_id, event)
            elif kind == "consumed" and isinstance(msg_id, str):
                self.consumed[msg_id] += 1
                self.first_consumed.setdefault(msg_id, event)
                self.deliveries.setdefault(msg_id, []).append(event)
            elif kind == "poison":
                self.poison.append(event)
            elif kind == "deleted" and isinstance(event.get("count"), int):
                self.deleted += event["count"]
        return self

    def add_log(self, text: str, source: str = "", generation: int | None = None) -> Ledger:
        return self.add_events(parse_events(text, source, generation))

    def add_dlq(self, bodies: Iterable[str]) -> Ledger:
        """Record dead-letter queue bodies; JSON bodies keep their id, anything else is kept raw."""
        for body in bodies:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            msg_id = parsed.get("id") if isinstance(parsed, dict) else None
            self.dlq.append({"id": msg_id if isinstance(msg_id, str) else None, "body": body})
        return self

    def missing(self, until: float | None = None) -> set[str]:
        """Published or given up (up to ``until``) and never consumed: what a drain wait watches shrink.

        A message in the DLQ is *not* accounted for: poison bodies carry no id, so a published id there is a good
        message that was dead-lettered, which `LedgerResult.dlq_published` reports. A publish without any timestamp
        counts as published before ``until``: it cannot be shown to be still in flight.
        """
        attempts = {**self.unpublished, **self.published}
        return {
            msg_id
            for msg_id, event in attempts.items()
            if msg_id not in self.consumed and (until is None or event.get("_t") is None or event["_t"] <= until)
        }

    def check(
        self, until: float | None = None, window: LossWindow | None = None, windows: Sequence[LossWindow] = ()
    ) -> LedgerResult:
        """Classify missing messages into real losses and losses a window excuses.

        ``windows``: a module with several outages (each with its own loss window) excuses a loss only inside one of
        them, and may excuse at most the sum of their bounds (unbounded if any is)."""
        every = [*([window] if window is not None else []), *windows]
        missing = self.missing(until)
        excused = {m for m in missing if any(w.covers(self.published_at(m)) for w in every)}
        bounds = [w.max_excused for w in every]
        bound = None if not every or any(b is None for b in bounds) else sum(b for b in bounds if b is not None)
        dlq_ids = {entry["id"] for entry in self.dlq if entry["id"]}
        return LedgerResult(
            published=len(self.published),
            consumed=len(self.consumed),
            lost=sorted(missing - excused),
            excused=sorted(excused),
            duplicates=sum(count - 1 for count in self.consumed.values()),
            duplicated_ids=sorted(m for m, count in self.consumed.items() if count > 1),
            unknown=sorted(set(self.consumed) - set(self.published) - set(self.unpublished)),
            poison=len(self.poison),
            dlq=list(self.dlq),
            seq_gaps=seq_gaps(self.published.values()),
            dlq_published=sorted(dlq_ids & (set(self.published) | set(self.unpublished))),
            unpublished=sorted(self.unpublished),
            unreadable=list(self.unreadable),
            max_excused=bound,
        )

    def published_at(self, msg_id: str) -> float | None:
        event = self.published.get(msg_id) or self.unpublished.get(msg_id) or {}
        return event.get("_t")


@dataclass(frozen=True)
class LedgerResult:
    """What a fault's test asserts on and what the report prints."""

    published: int
    consumed: int
    lost: list[str]
    excused: list[str]
    duplicates: int
    duplicated_ids: list[str]
    unknown: list[str]
    poison: int
    dlq: list[dict]
    seq_gaps: dict[str, list[int]]
    dlq_published: list[str] = field(default_factory=list)  # published ids found in the DLQ: good messages lost
    unpublished: list[str] = field(default_factory=list)  # ids a producer gave up on (in ``lost`` unless consumed)
    unreadable: list[str] = field(default_factory=list)  # container generations whose logs could not be read
    max_excused: int | None = None  # the loss window's bound on ``excused``

    def summary(self) -> str:
        return (
            f"published={self.published} consumed={self.consumed} lost={len(self.lost)} "
            f"excused={len(self.excused)} duplicates={self.duplicates} poison={self.poison} dlq={len(self.dlq)} "
            f"seq_gaps={sum(len(v) for v in self.seq_gaps.values())} unknown={len(self.unknown)}"
        )


def seq_gaps(published: Iterable[dict]) -> dict[str, list[int]]:
    """Sequence numbers each producer run skipped: a gap means a message given up or a log line never read.

    A run is one container generation: a restarted producer starts again at 1 under the same pod name, so keying by
    the producer name alone would let the second run's gaps hide behind the first run's numbers.
    """
    seen: dict[str, set[int]] = {}
    for event in published:
        seq, producer = event.get("seq"), event.get("producer")
        if isinstance(seq, int) and isinstance(producer, str):
            generation = event.get("_generation")
            key = producer if generation is None else f"{producer}#{generation}"
            seen.setdefault(key, set()).add(seq)
    gaps = {p: sorted(set(range(1, max(s) + 1)) - s) for p, s in seen.items()}
    return {p: g for p, g in gaps.items() if g}
