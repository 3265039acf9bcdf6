"""A fault of the catalogue as data: what to break, how, what Kubernetes must do about it, and which bound applies.

Why: every fault test used to write out the same procedure by hand (publish a burst, wait until the consumer is
busy, inject, wait for the reaction, settle the ledger, build a Recovery, a record with eight positional arguments),
and each copy could drift from the others. Now a fault is a `Fault` (a few declared fields) plus an `Injector` for
its kind, and `lab.runner.run_fault` is the one procedure. Adding a fault of a known kind is one `Fault(...)`; a new
kind adds an injector: ``prepare`` (read what must be known before the fault, e.g. the pods to hit; called before
the burst), ``inject`` (put it in place, return at once), ``await_reaction`` (wait for Kubernetes and report what it
did per app, as `Reaction`) and ``undo`` (always called, even after a failed ``inject``).

Faults that do not fit "burst, then inject" describe it instead of writing the procedure out again: ``traffic``
(`Traffic.INJECTOR`: the injector publishes with `publish`, e.g. inside the fault window or in batches until the
reaction shows), ``dlq`` (the ledger peeks the DLQ), `Env.windows` (loss windows an in-memory emulator's outage
excuses), and on a `Reaction` the settled ledger's own checks and timing (``review``, ``first_consumed``).
"""

from __future__ import annotations

import contextlib
import enum
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from lab.artifacts import RunArtifacts
from lab.aws import Aws
from lab.catalogue import Settings, burst
from lab.deploy import Lab
from lab.ledger import Ledger, LedgerResult, LossWindow
from lab.logfollow import LogFollower
from lab.timeline import Recovery


class Bound(enum.Enum):
    """Which bound a fault's restart decision is held to (`lab.verdict` asserts ``Recovery.bound``/``earliest``).

    Declared, so a fault cannot silently lose its bound: `lab.runner` fails a run whose injector measured a bound
    the fault does not declare, or none where it declares one.

    The node faults' restart decision is the pod's eviction (the ReplicaSet replaces the pod then), taken by the
    control plane, not by a probe. A node cut off (lost, or its kubelet stopped) and a node drained get two members
    because different things decide: the first waits out the node lifecycle's windows (tens of seconds, all read from
    the live cluster), the second is a voluntary eviction the PodDisruptionBudget allows at kubectl's first call.
    Holding a drain to the node windows would accept a drain whose eviction was refused and retried; holding it to
    "grace period + readiness" would bound the pod's stop and its replacement, which its own checks already do, not
    the decision ``Recovery.detection`` measures.
    """

    NONE = "none (the Deployment or the app itself replaces the container; no probe decides)"
    LIVENESS = "liveness detection: periodSeconds × failureThreshold + timeoutSeconds (lab.probes)"
    ALLOCATION = "memory allocation: (limit − usage before) at the fault switch's rate (lab.resources.AllocationBounds)"
    NODE = (
        "node cut off: pod evicted tolerationSeconds after NotReady, NotReady between node-monitor grace − heartbeat "
        "and cut-off + grace + 2 × node-monitor period; replacement Ready within its readiness bound (lab.nodefaults)"
    )
    DRAIN = (
        "node drained: eviction allowed at kubectl drain's first call, before its first retry (5 s); evicted pod "
        "stopped within its grace period, replacement Ready within its readiness bound (lab.nodedrain)"
    )


class Traffic(enum.Enum):
    """Who publishes the fault's test messages (all of them are the run's ledger: `LogFollower.test_published`)."""

    BEFORE = "the runner publishes ``burst`` messages before the injection"
    INJECTOR = "the injector publishes them (`publish`) where its fault needs them; ``burst`` is its count"


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
    # Loss windows in force for this namespace's ledger (an in-memory emulator's outages; a module with several
    # keeps them all, the ledger being cumulative): injectors append, the runner settles with them.
    windows: list[LossWindow] = field(default_factory=list)
    artifacts: RunArtifacts | None = None  # for an injector's own figures in measurements.jsonl
    proxy: Any = (
        None  # the module's fault proxy client, when it routes through one (`lab.toxiproxy`, `lab.faultcontrol`)
    )

    def record(self, name: str, **data: object) -> None:
        """Append a measurement when the test passed ``artifacts`` (`RunArtifacts.record`)."""
        if self.artifacts is not None:
            self.artifacts.record(name, **data)


@dataclass(frozen=True)
class Settled:
    """The run's ledger once the runner settled it: what a `Reaction`'s ``review`` checks."""

    ledger: Ledger
    result: LedgerResult
    published: list[dict]  # the test messages published in this run (by the runner or the injector)

    @property
    def ids(self) -> set[str]:
        return {e["id"] for e in self.published}


# A check of the settled ledger: more failed checks and notes for the report row.
Review = Callable[[Settled], tuple[list[str], list[str]]]


@dataclass
class Reaction:
    """What Kubernetes did to one app, as its injector saw it.

    ``recovery``: its timeline up to Ready (``first_consumed`` is left to the runner, which owns the ledger);
    ``replacement``: the new pod's name when the hit pod was replaced (the runner then counts a message handled by
    it as in flight and times the first message it handled), None when the container restarted in place;
    ``checks``: this kind's failed checks, phrased as problems; ``notes``: free text for the report row;
    ``review``: checks and notes that need the settled ledger (called with it after the runner's settle);
    ``first_consumed``: when the first message counts as handled after recovery, from the settled ledger, where the
    restart rule (`lab.runner.first_consumed`) does not apply (no restart, or "after the fault was lifted").
    """

    recovery: Recovery
    replacement: str | None = None
    checks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    review: Review | None = None
    first_consumed: Callable[[Ledger], float | None] | None = None


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
    (`lab.catalogue.in_flight`); ``settle``: the ledger's deadline from the live settings; ``traffic``: who
    publishes the burst (`Traffic`); ``dlq``: the ledger peeks the DLQ (a dead-lettered good message fails it).
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
    traffic: Traffic = Traffic.BEFORE
    dlq: bool = False

    def __post_init__(self) -> None:
        if not self.apps:
            raise ValueError(f"{self.name}: a fault hits at least one app")
        if self.mid_batch and self.traffic is not Traffic.BEFORE:
            raise ValueError(f"{self.name}: mid_batch waits for the runner's burst, which {self.traffic} leaves out")
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


def publish(env: Env, fault: Fault, count: int | None = None, tag: str = "") -> list[dict]:
    """Publish test messages for ``fault`` (``count``, default its ``burst``), tagged with its id (+ ``tag``).

    Registered with the log follower, so they are part of the run's ledger whoever publishes them.
    """
    return burst(env.aws, fault.burst if count is None else count, fault.id + tag, env.logs)


T = TypeVar("T")


class Held:
    """Base of an injector whose fault lives in a ``with`` block (a toxic, a proxy fault, the test's Services):
    ``hold`` enters it (in ``inject`` or ``prepare``), ``lift`` leaves it when the fault ends, ``undo`` if still open.
    The block's own exit does the proving (e.g. ``Toxiproxy.toxic`` proves the toxic gone)."""

    def __init__(self) -> None:
        self._blocks = contextlib.ExitStack()

    def hold(self, block: contextlib.AbstractContextManager[T]) -> T:
        return self._blocks.enter_context(block)

    def lift(self) -> float:
        """Leave every held block; return the time right before (the fault's last moment)."""
        last = time.time()
        self._blocks.close()
        return last

    def undo(self, env: Env, fault: Fault) -> None:
        self._blocks.close()
