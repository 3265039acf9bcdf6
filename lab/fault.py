"""A fault of the catalogue as data: what to break, how, what Kubernetes must do about it, and which bound applies.

Why: every fault test used to write out the same procedure by hand (publish a burst, wait until the consumer is
busy, inject, wait for the reaction, settle the ledger, build a Recovery, a record with eight positional arguments),
and each copy could drift from the others. Now a fault is a `Fault` (a few declared fields) plus an `Injector` for
its kind, and `lab.runner.run_fault` is the one procedure. Adding a fault of a known kind is one `Fault(...)`; a new
kind adds an injector: ``prepare`` (read what must be known before the fault, e.g. the pods to hit; called before
the burst), ``inject`` (put it in place, return at once), ``await_reaction`` (wait for Kubernetes and report what it
did per app, as `Reaction`) and ``undo`` (always called, even after a failed ``inject``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lab.aws import Aws
from lab.catalogue import Settings
from lab.deploy import Lab
from lab.logfollow import LogFollower
from lab.timeline import Recovery


class Bound(enum.Enum):
    """Which bound a fault's restart decision is held to (`lab.verdict` asserts ``Recovery.bound``/``earliest``).

    Declared, so a fault cannot silently lose its bound: `lab.runner` fails a run whose injector measured a bound
    the fault does not declare, or none where it declares one.
    """

    NONE = "none (the Deployment or the app itself replaces the container; no probe decides)"
    LIVENESS = "liveness detection: periodSeconds × failureThreshold + timeoutSeconds (lab.probes)"


def redelivery(settings: Settings) -> float:
    """Settle deadline when the hit container already drained: a held message comes back after the redelivery."""
    return settings.redelivery()


def redelivery_and_drain(settings: Settings) -> float:
    """Settle deadline when a stopped pod may still be draining: its grace period, then the redelivery."""
    return settings.redelivery() + max(settings.grace.values())


@dataclass(frozen=True)
class Env:
    """What an injector and the runner work with: the module's deployed lab, AWS, followed logs, live settings."""

    lab: Lab
    aws: Aws
    logs: LogFollower
    settings: Settings


@dataclass
class Reaction:
    """What Kubernetes did to one app, as its injector saw it.

    ``recovery``: its timeline up to Ready (``first_consumed`` is left to the runner, which owns the ledger);
    ``replacement``: the new pod's name when the hit pod was replaced (the runner then counts a message handled by
    it as in flight and times the first message it handled), None when the container restarted in place;
    ``checks``: this kind's failed checks, phrased as problems; ``notes``: free text for the report row.
    """

    recovery: Recovery
    replacement: str | None = None
    checks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Injector(Protocol):
    """How one kind of fault is put in place, awaited and undone (see the module docstring)."""

    def prepare(self, env: Env, fault: Fault) -> Any:
        """Read what ``inject`` needs (pod names, restart counts) before the burst: on kind the consumer handles 200
        messages in ~0.8 s, so a kubectl call between the busy wait and the action lets it finish the batch first
        (measured 2026-12-03, three pod faults hit an idle consumer when the lookups ran after the wait)."""
        ...

    def inject(self, env: Env, fault: Fault, prepared: Any) -> Any:
        """Put the fault in place, nothing else first, and return at once with what ``await_reaction`` needs."""
        ...

    def await_reaction(self, env: Env, fault: Fault, state: Any) -> dict[str, Reaction]:
        """Wait (deadlines from live settings) for Kubernetes' reaction; one `Reaction` per app in ``fault.records``."""
        ...

    def undo(self, env: Env, fault: Fault) -> None:
        """Take the fault away; called even when ``inject`` failed half-way, so safe when nothing is in place."""
        ...


@dataclass(frozen=True)
class Fault:
    """One fault of the catalogue.

    ``apps``: the apps the injector hits; ``recorded``: those that get a report row (default: all of them);
    ``burst``: messages the test publishes before the injection; ``mid_batch``: wait until the consumer has handled
    part of the burst before injecting, and fail the consumer's row when no burst message was in flight at the fault
    (`lab.catalogue.in_flight`); ``settle``: the ledger's deadline from the live settings.
    """

    name: str
    apps: tuple[str, ...]
    injector: Injector
    expected: str
    bound: Bound = Bound.NONE
    burst: int = 20
    mid_batch: bool = False
    settle: Callable[[Settings], float] = redelivery_and_drain
    recorded: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.apps:
            raise ValueError(f"{self.name}: a fault hits at least one app")
        if set(self.records) - set(self.apps):
            raise ValueError(f"{self.name}: recorded apps {self.records} are not all among the hit apps {self.apps}")

    @property
    def records(self) -> tuple[str, ...]:
        """The apps that get a report row, in order."""
        return self.recorded or self.apps

    @property
    def id(self) -> str:
        """The name as a pytest id and message tag: lower case, words joined by '-'."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    def record_name(self, app: str) -> str:
        """The report row's name: the fault's own with one row, ``"<name> (<app>)"`` with several."""
        return self.name if len(self.records) == 1 else f"{self.name} ({app})"
