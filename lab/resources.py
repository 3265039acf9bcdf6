"""Container-resource faults: memory exhausted past the container's limit, and the numbers they are judged by.

The fault switch is the services' own (``shared.runtime``): ``kill -<FAULT_MEMORY_SIGNUM> 1`` starts a thread that
allocates and touches ``MEMORY_STEP_BYTES`` every ``MEMORY_STEP_SECONDS``, so the kernel's OOM killer ends the
container once its memory reaches ``resources.limits.memory``. Nothing here retypes those numbers: the schedule is
imported from the runtime module the services run, the limit is read from the live Deployment and the usage before
the fault from the container's cgroup, so a change in either moves the bounds with it.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from lab.deploy import Lab
from lab.kube import KubectlError, container_spec
from lab.ledger import parse_events
from lab.times import parse_time
from shared.runtime import FAULT_MEMORY_SIGNUM, MEMORY_LOG_EVERY_BYTES, MEMORY_STEP_BYTES, MEMORY_STEP_SECONDS

# What the kubelet reports for a container the kernel's OOM killer ended: reason and exit code (128 + SIGKILL).
OOM_KILLED = ("OOMKilled", 137)
FAULT_EVENT = "fault_memory_on"
PROGRESS_EVENT = "memory_allocated"
# cgroup v2 first, then v1 (this lab's hosts run Docker on cgroup v1, and kind nodes inherit it).
USAGE_COMMAND = "cat /sys/fs/cgroup/memory.current 2>/dev/null || cat /sys/fs/cgroup/memory/memory.usage_in_bytes"

_SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"^(?P<number>[0-9.]+)(?:[eE](?P<exp>[+-]?[0-9]+)|(?P<suffix>[a-zA-Z]*))$")


def quantity_bytes(quantity: str | int) -> int:
    """A Kubernetes memory quantity (``256Mi``, ``1G``, ``128974848``, ``129e6``) in bytes, rounded up as the
    API does."""
    match = _QUANTITY.match(str(quantity).strip())
    if not match or (match.group("suffix") or "") not in _SUFFIXES:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    number = float(match.group("number"))
    if match.group("exp") is not None:
        return math.ceil(number * 10 ** int(match.group("exp")))
    return math.ceil(number * _SUFFIXES[match.group("suffix") or ""])


def memory_limit(lab: Lab, app: str) -> int:
    """``resources.limits.memory`` of ``app``'s container in the live Deployment, in bytes (LookupError if unset)."""
    _, container = container_spec(lab.kube.deployment(app)["spec"]["template"]["spec"], app)
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if limit is None:
        raise LookupError(f"{app} has no memory limit: the memory fault would exhaust the node instead")
    return quantity_bytes(limit)


def memory_usage(lab: Lab, pod: str, app: str) -> int | None:
    """The container's cgroup memory usage in bytes now (page cache included), or None when it cannot be read."""
    try:
        return int(lab.kube.exec(pod, app, "sh", "-c", USAGE_COMMAND).strip())
    except (KubectlError, ValueError):
        return None


@dataclass(frozen=True)
class AllocationBounds:
    """When the OOM kill may come, counted from the signal handler's ``fault_memory_on`` line.

    Step ``k`` (from 0) runs ``k × step_seconds`` after the signal and brings the allocation to ``(k + 1) ×
    step_bytes``. The kill comes in the step that pushes the cgroup past ``limit``:
    - at the latest in step ``ceil(limit / step) − 1``: even a container using nothing before the fault is full
      then (``bound``);
    - at the earliest in step ``ceil((limit − usage) / step) − 2``: the allocation must at least fill what was free
      at the injection (``usage`` read just before; page cache in it can be reclaimed, which only delays the kill),
      with one step of margin for what the exec'd ``kill`` and the app itself add meanwhile (``earliest``).
    The verdict's DETECTION_TOLERANCE_SECONDS then covers the whole-second ``finishedAt`` and the kernel's work.
    """

    limit: int
    usage: int | None
    step_bytes: int = MEMORY_STEP_BYTES
    step_seconds: float = MEMORY_STEP_SECONDS

    @property
    def rate(self) -> float:
        """Bytes per second the fault allocates."""
        return self.step_bytes / self.step_seconds

    @property
    def bound(self) -> float:
        return round((math.ceil(self.limit / self.step_bytes) - 1) * self.step_seconds, 3)

    @property
    def earliest(self) -> float | None:
        if self.usage is None:
            return None
        free = max(0, self.limit - self.usage)
        return round(max(0, math.ceil(free / self.step_bytes) - 2) * self.step_seconds, 3)


@dataclass(frozen=True)
class MemoryInjection:
    """One memory fault: where, when, and the container it was sent to."""

    app: str
    pod: str
    restarts_before: int  # restartCount of the container the signal went to (its generation in the log follower)
    container_started: float | None  # that container's startedAt (API, whole seconds)
    bounds: AllocationBounds
    wall: float  # time.time() when the exec returned (a fallback for the handler's own line)


def exhaust_memory(lab: Lab, app: str) -> MemoryInjection:
    """Read the limit and usage, then send the memory fault's signal to ``app``'s PID 1 (the kill is not awaited)."""
    pod = lab.pod(app)
    status = lab.kube.container_status(pod, app)
    started = parse_time(((status.get("state") or {}).get("running") or {}).get("startedAt"))
    bounds = AllocationBounds(memory_limit(lab, app), memory_usage(lab, pod, app))
    lab.kube.exec(pod, app, "sh", "-c", f"kill -{FAULT_MEMORY_SIGNUM} 1")
    return MemoryInjection(app, pod, int(status.get("restartCount", 0)), started, bounds, time.time())


def fault_line_time(killed_log: str) -> float | None:
    """When the handler logged ``fault_memory_on`` in the killed container (its own clock, sub-second)."""
    times = [e["_t"] for e in parse_events(killed_log) if e["event"] == FAULT_EVENT and e.get("_t") is not None]
    return min(times, default=None)


def allocated_mib(killed_log: str) -> int | None:
    """The last allocation total the killed container logged before it died (MiB)."""
    totals = [int(e["total_mib"]) for e in parse_events(killed_log) if e["event"] == PROGRESS_EVENT]
    return max(totals, default=None)


def oom_problems(injection: MemoryInjection, terminated: dict, restarts_now: int, name: str) -> list[str]:
    """The container the fault went to ended as the OOM killer's (reason, exit 137) and was restarted once."""
    problems = []
    if (terminated.get("reason"), terminated.get("exitCode")) != OOM_KILLED:
        problems.append(
            f"{name}: last state {terminated.get('reason')} exit {terminated.get('exitCode')}, expected "
            f"{OOM_KILLED[0]} exit {OOM_KILLED[1]}"
        )
    if parse_time(terminated.get("startedAt")) != injection.container_started:
        problems.append(
            f"{name}: the terminated container (started {terminated.get('startedAt')}) is not the one "
            "the fault was sent to"
        )
    if restarts_now != injection.restarts_before + 1:
        problems.append(f"{name}: restartCount {injection.restarts_before} → {restarts_now}, expected +1")
    return problems


def last_progress_time(killed_log: str) -> float | None:
    """When the killed container last logged its allocation: the kill follows within one logging interval
    (MEMORY_LOG_EVERY_BYTES at the allocation rate), so this is the kill time's lower bound when lastState is lost."""
    stamps = [e["_t"] for e in parse_events(killed_log) if e["event"] == PROGRESS_EVENT and e.get("_t") is not None]
    return max(stamps, default=None)


# Events only a container that stopped on its own terms logs (SIGTERM drain, a crash of the worker).
GRACEFUL_END_EVENTS = ("stopped", "worker_crashed")


def lost_state_problems(injection: MemoryInjection, killed_log: str, restarts_now: int, name: str) -> list[str]:
    """The kernel's kill shown without ``lastState`` (the kubelet can lose it: kubernetes/kubernetes#101044, seen here
    once in three runs, `logs --previous` "not found" too): the killed container's own log, kept by the follower,
    must show its allocation up to the limit (within one logging interval) and no graceful end, and the container must
    have been restarted exactly once. Anything else fails as a missing OOM kill would.
    """
    problems = []
    bounds = injection.bounds
    headroom = bounds.limit - (bounds.usage or 0)
    total = allocated_mib(killed_log)
    needed = (headroom - MEMORY_LOG_EVERY_BYTES) // 2**20
    if total is None or total < needed:
        problems.append(f"{name}: lastState lost and the killed container logged {total} MiB allocated, < {needed}")
    ended = [e["event"] for e in parse_events(killed_log) if e["event"] in GRACEFUL_END_EVENTS]
    if ended:
        problems.append(f"{name}: lastState lost and the killed container ended on its own terms ({ended[0]})")
    if restarts_now != injection.restarts_before + 1:
        problems.append(f"{name}: restartCount {injection.restarts_before} → {restarts_now}, expected +1")
    return problems
