"""Was this restart the liveness probe's answer to *this* fault? Pure checks on what the cluster recorded.

Why they exist: a restart count that went up, or a "Liveness probe failed" event about the pod, proves nothing on
its own. The hung-worker fault runs on the pod the fault switch has just restarted in place, so that earlier fault's
events and restart satisfy a check by pod name at once; a container that simply crashed on the signal would be
restarted at once too. So every piece of evidence is tied to the injection: events recorded after it, the container
that was running when it was injected, the failing probes in that container's own log, the kill answered by a clean
drain (SIGTERM handled, exit 0), and a decision time inside [earliest, bound] (`lab.verdict`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lab.ledger import parse_events
from lab.timeline import Recovery, occurrences, probe_results, restart_decision
from lab.times import parse_time

if TYPE_CHECKING:
    from lab.liveness import Injection

UNHEALTHY = "Liveness probe failed"
KILLING = "failed liveness probe, will be restarted"
# The event the service's signal handler logs the moment the fault is in place (see runtime.py of the services).
SIGNAL_EVENTS = {"fault-switch": "fault_health_on", "hung-worker": "fault_hang_on"}
# A liveness kill is a SIGTERM the app drains: exit 0, "Completed". Anything else is a crash or a SIGKILL after the
# grace period ran out, both failures of the contract.
CLEAN_EXIT = (0, "Completed")


def fault_events(events: Iterable[dict], pod: str, after: float) -> tuple[list[str], list[str]]:
    """Liveness Unhealthy and Killing messages about ``pod`` recorded at or after ``after``.

    Event times are whole seconds, so ``after`` is floored; an aggregated event counts when its latest occurrence
    is after the fault (its count went up for this fault), not when an earlier fault created it.
    """
    floor = float(int(after))
    unhealthy, killing = [], []
    for event in events:
        obj = event.get("involvedObject") or event.get("regarding") or {}
        message = event.get("message") or event.get("note") or ""
        if obj.get("name") != pod or max(occurrences(event), default=float("-inf")) < floor:
            continue
        if event.get("reason") == "Unhealthy" and UNHEALTHY in message:
            unhealthy.append(message)
        elif event.get("reason") == "Killing" and KILLING in message:
            killing.append(message)
    return unhealthy, killing


def fault_time(injection: Injection, killed_log: str) -> float | None:
    """When the fault was in place: the patched container's start, or the signal handler's own log line."""
    if injection.from_start:
        return injection.container_started
    wanted = SIGNAL_EVENTS[injection.fault]
    times = [e["_t"] for e in parse_events(killed_log) if e["event"] == wanted and e.get("_t") is not None]
    return min(times, default=None)


@dataclass
class Judgement:
    """A liveness restart's recovery timeline (for `lab.verdict`) and the problems found with the restart itself."""

    recovery: Recovery
    problems: list[str] = field(default_factory=list)


def judge(injection: Injection, killed_log: str, status: dict, events: list[dict]) -> Judgement:
    """Tie the restart to the injection. ``killed_log``: the killed container's ``logs --timestamps``; ``status``:
    the container's status after the restart; ``events``: the pod's events."""
    name = f"liveness {injection.fault} ({injection.app})"
    probe = injection.probe
    injected = fault_time(injection, killed_log)
    recovery = Recovery(
        name,
        injected=injected if injected is not None else injection.wall,
        bound=probe.detection_bound(injection.extra, from_start=injection.from_start),
        earliest=probe.earliest_decision(injection.visible_after, from_start=injection.from_start),
    )
    problems = []
    if injected is None:
        problems.append(f"{name}: the fault was never seen in place (no start time or signal line in the log)")
        return Judgement(recovery, problems)
    recovery.killed = restart_decision(
        probe_results(killed_log), events, injected, probe.failure_threshold, probe.path, injection.pod
    )
    unhealthy, killing = fault_events(events, injection.pod, injected)
    if not (unhealthy and killing):
        problems.append(f"{name}: no liveness Unhealthy/Killing event after the fault ({unhealthy}, {killing})")
    terminated = (status.get("lastState") or {}).get("terminated") or {}
    if parse_time(terminated.get("startedAt")) != injection.container_started:
        problems.append(
            f"{name}: the restarted container (started {terminated.get('startedAt')}) is not the one the fault was "
            f"injected into"
        )
    if (terminated.get("exitCode"), terminated.get("reason")) != CLEAN_EXIT:
        problems.append(
            f"{name}: last state exit {terminated.get('exitCode')} {terminated.get('reason')}, expected a drained "
            f"SIGTERM {CLEAN_EXIT}"
        )
    return Judgement(recovery, problems)


def liveness_failures(events: Iterable[dict], pods: Iterable[str], after: float) -> list[str]:
    """Every liveness failure or liveness kill of ``pods`` recorded at or after ``after`` (for "must not restart")."""
    found = []
    for pod in pods:
        unhealthy, killing = fault_events(events, pod, after)
        found += [f"{pod}: {message}" for message in unhealthy + killing]
    return found
