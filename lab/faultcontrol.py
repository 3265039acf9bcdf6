"""A small typed client for faultproxy's control port (faultproxy/control.py), for the AWS-operation faults.

Why ``fault()`` is the shape tests use: it sets one fault, yields, and removes it whatever happened, then lists the
table to prove nothing is left behind — the most common complaint about chaos tools — and returns the removed
fault's final counters, so the test can assert that the fault really fired (``injected`` above 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from faultproxy.faults import KINDS
from lab.jsonapi import JsonApi

# The control API answers from memory; the timeout only guards against a hung or unreachable proxy.
CONTROL_TIMEOUT_SECONDS = 5.0


class FaultProxyError(RuntimeError):
    """A control call faultproxy refused: its HTTP status and error text."""


@dataclass
class Fired:
    """What a removed fault did, filled in when its ``with`` block ends."""

    operation: str
    kind: str
    counters: dict[str, Any] = field(default_factory=dict)

    @property
    def matched(self) -> int:
        return int(self.counters.get("matched", 0))

    @property
    def injected(self) -> int:
        return int(self.counters.get("injected", 0))


class FaultProxy(JsonApi):
    """``FaultProxy("http://127.0.0.1:PORT")``: set, list and clear faults."""

    def __init__(self, url: str, timeout: float = CONTROL_TIMEOUT_SECONDS) -> None:
        super().__init__(url, timeout)

    def refused(self, method: str, path: str, status: int, message: str) -> Exception:
        return FaultProxyError(f"faultproxy: {method} {path}: HTTP {status}: {message}")

    def set(self, operation: str, kind: str, rate: float = 1.0, seed: int | None = None) -> dict[str, Any]:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; faultproxy has {', '.join(KINDS)}")
        payload: dict[str, Any] = {"operation": operation, "kind": kind, "rate": rate}
        if seed is not None:
            payload["seed"] = seed
        return dict(self._call("POST", "/faults", payload)["fault"])

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/faults")["faults"])

    def clear(self, operation: str | None = None) -> list[dict[str, Any]]:
        """Remove one operation's fault, or all; return what was removed with its final counters."""
        path = "/faults" if operation is None else f"/faults/{operation}"
        return list(self._call("DELETE", path)["removed"])

    @contextmanager
    def fault(self, operation: str, kind: str, rate: float = 1.0, seed: int | None = None) -> Iterator[Fired]:
        """Set a fault for the ``with`` block; afterwards remove every fault and prove by listing that none is left."""
        fired = Fired(operation, kind)
        self.set(operation, kind, rate, seed)
        try:
            yield fired
        finally:
            removed = self.clear()
            fired.counters = next((f for f in removed if f.get("operation") == operation), {})
            left = self.faults()
            if left:
                raise FaultProxyError(f"faultproxy: faults still active after removal: {left}")
