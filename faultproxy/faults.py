"""The table of active faults: which operation, which kind, at what rate, and how often each one fired.

Why a seeded generator per fault: a test that sets ``rate=0.5, seed=7`` must see the same sequence of hits and
misses on every run, whatever other operations the services call in between (one shared generator would make one
operation's draws depend on the traffic of all others). The counters are what the control API shows, so a test can
prove that a fault fired and, after DELETE, that none is left.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

THROTTLE = "throttle"
SERVER_ERROR = "error500"
PARTIAL = "partial"
KINDS = (THROTTLE, SERVER_ERROR, PARTIAL)
# A partial batch failure needs a batch answer to put failed entries into.
PARTIAL_OPERATIONS = ("sqs:DeleteMessageBatch",)


class FaultError(ValueError):
    """A fault description the control API refuses (answered as HTTP 400 with this message)."""


@dataclass
class Fault:
    """One active fault. ``rate`` is per request (throttle, error500) or per batch entry (partial)."""

    operation: str
    kind: str
    rate: float
    seed: int
    matched: int = 0
    injected: int = 0
    unsupported: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def draw(self) -> bool:
        """One decision at ``rate``; callers hold the table's lock."""
        return self._rng.random() < self.rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "kind": self.kind,
            "rate": self.rate,
            "seed": self.seed,
            "matched": self.matched,
            "injected": self.injected,
            "unsupported": self.unsupported,
        }


def parse_fault(spec: Any, default_seed: int) -> Fault:
    """Validate a control-API body such as ``{"operation": "sns:Publish", "kind": "throttle", "rate": 0.5}``."""
    if not isinstance(spec, dict):
        raise FaultError("a fault is a JSON object")
    unknown = set(spec) - {"operation", "kind", "rate", "seed"}
    if unknown:
        raise FaultError(f"unknown field(s): {', '.join(sorted(unknown))}")
    operation, kind = spec.get("operation"), spec.get("kind")
    if not isinstance(operation, str) or operation.count(":") != 1 or not all(operation.split(":")):
        raise FaultError(f"operation must look like 'sns:Publish', got {operation!r}")
    if kind not in KINDS:
        raise FaultError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == PARTIAL and operation not in PARTIAL_OPERATIONS:
        raise FaultError(f"kind partial applies to {', '.join(PARTIAL_OPERATIONS)} only, got {operation}")
    rate = spec.get("rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise FaultError(f"rate must be a number in (0, 1], got {rate!r}")
    seed = spec.get("seed", default_seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise FaultError(f"seed must be an integer, got {seed!r}")
    return Fault(operation, kind, float(rate), seed)


class FaultTable:
    """Thread-safe: the proxy's handler threads decide while the control API adds and clears."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._seeds = random.Random(seed)

    def set(self, spec: Any) -> Fault:
        """Add or replace the fault of an operation (one fault per operation keeps the answer unambiguous)."""
        with self._lock:
            fault = parse_fault(spec, self._seeds.randrange(2**31))
            self._faults[fault.operation] = fault
            return fault

    def clear(self, operation: str | None = None) -> list[dict[str, Any]]:
        """Remove one operation's fault or all of them; returns what was removed, with its counters."""
        with self._lock:
            keys = list(self._faults) if operation is None else [k for k in self._faults if k == operation]
            return [self._faults.pop(key).as_dict() for key in keys]

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_dict() for fault in self._faults.values()]

    def decide(self, operation: str) -> str | None:
        """The kind to inject into this request, or None. Partial faults are decided per entry (``pick``)."""
        with self._lock:
            fault = self._faults.get(operation)
            if fault is None:
                return None
            fault.matched += 1
            if fault.kind == PARTIAL:
                return PARTIAL
            if fault.draw():
                fault.injected += 1
                return fault.kind
            return None

    def pick(self, operation: str, count: int) -> list[bool]:
        """For a partial fault: which of ``count`` batch entries fail (one draw per entry)."""
        with self._lock:
            fault = self._faults.get(operation)
            if fault is None:
                return [False] * count
            chosen = [fault.draw() for _ in range(count)]
            fault.injected += sum(chosen)
            return chosen

    def note_unsupported(self, operation: str) -> None:
        """A partial fault met a request it cannot rewrite (query protocol): passed through, but counted."""
        with self._lock:
            fault = self._faults.get(operation)
            if fault is not None:
                fault.unsupported += 1
