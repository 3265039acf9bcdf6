"""Recovery timeline of one fault, rebuilt from what the Kubernetes API and the pod logs recorded.

The chain is: injected → first failed probe → container killed → restarted → Ready again → first message consumed.
Kubernetes stores event times, ``startedAt`` and condition transitions with one-second resolution, so every figure
derived only from them carries ±1 s; kubelet probe requests in ``kubectl logs --timestamps`` carry the runtime's
nanosecond stamps, so the first failed probe is taken from them when the server answered at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from lab.kube import container_status
from lab.ledger import split_line
from lab.times import parse_time

_ACCESS = re.compile(r'^(?P<client>\S+) \S+ \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) ')
# Probe requests come from the node's address; `kubectl exec ... curl` from inside the pod comes from loopback.
_LOCAL_CLIENTS = ("127.", "::1", "0.0.0.0")


@dataclass(frozen=True)
class ProbeResult:
    at: float
    path: str
    status: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400


def probe_results(log_text: str) -> list[ProbeResult]:
    """Kubelet probe answers from ``kubectl logs --timestamps`` output (lines without a stamp are skipped)."""
    results = []
    for raw in log_text.splitlines():
        line = split_line(raw)
        match = _ACCESS.match(line.text)
        if not match or line.stamp is None or match.group("client").startswith(_LOCAL_CLIENTS):
            continue
        results.append(ProbeResult(line.stamp, match.group("path"), int(match.group("status"))))
    return results


def occurrences(event: dict) -> list[float]:
    """Known times of a (possibly aggregated) event: first, last and the new-style event/series times."""
    series = event.get("series") or {}
    values = [
        event.get("firstTimestamp"),
        event.get("eventTime"),
        event.get("lastTimestamp"),
        series.get("lastObservedTime"),
    ]
    return sorted(t for t in (parse_time(v) for v in values) if t is not None)


def event_time(
    events: Iterable[dict], reason: str, after: float, pod: str | None = None, contains: str = ""
) -> float | None:
    """Earliest time an event with ``reason`` was recorded at or after ``after``.

    Times are truncated to whole seconds by the API, so ``after`` is floored before comparing and an event stamped
    in the same second as ``after`` is reported at ``after`` (the best lower bound it allows); an aggregated event
    (count > 1) whose first time predates ``after`` contributes its last time.
    """
    floor = float(int(after))
    found = []
    for event in events:
        obj = event.get("involvedObject") or event.get("regarding") or {}
        if event.get("reason") != reason or (pod and obj.get("name") != pod):
            continue
        if contains and contains not in (event.get("message") or event.get("note") or ""):
            continue
        found += [t for t in occurrences(event) if t >= floor]
    return max(min(found), after) if found else None


def started_at(pod: dict, container: str) -> float | None:
    state = container_status(pod, container).get("state") or {}
    return parse_time((state.get("running") or {}).get("startedAt"))


def last_finished_at(pod: dict, container: str) -> float | None:
    last = container_status(pod, container).get("lastState") or {}
    return parse_time((last.get("terminated") or {}).get("finishedAt"))


def ready_since(pod: dict) -> float | None:
    """When the pod last became Ready, or None while it is not Ready."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return parse_time(cond.get("lastTransitionTime")) if cond.get("status") == "True" else None
    return None


def readiness_round_trip(before: dict, after: dict, since: float) -> str | None:
    """The NotReady → Ready sequence of a pod across a dependency outage, or what is wrong with it.

    ``before``/``after``: the pod read before the outage and after recovery. Ready must have been True before, be
    True again after, and have changed since ``since`` (floored: whole-second API times); an unchanged
    lastTransitionTime means the pod never went NotReady, i.e. readiness did not notice the outage.
    """
    name = (after.get("metadata") or {}).get("name", "pod")
    if ready_since(before) is None:
        return f"{name} was not Ready before the outage"
    again = ready_since(after)
    if again is None:
        return f"{name} is not Ready again"
    if again < float(int(since)):
        return f"{name} stayed Ready through the outage (Ready since {again:.0f}, outage at {since:.0f})"
    return None


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 3)


@dataclass
class Recovery:
    """Timestamps (unix seconds) of one fault's recovery and the figures the report prints."""

    fault: str
    injected: float
    first_failed_probe: float | None = None
    killed: float | None = None
    restarted: float | None = None
    ready: float | None = None
    first_consumed: float | None = None
    bound: float | None = None  # latest restart decision the probe settings allow, seconds after the fault
    earliest: float | None = None  # earliest one they allow (lab.verdict checks both)

    @property
    def detection(self) -> float | None:
        """Fault to restart decision: what the probe bound limits."""
        return _delta(self.injected, self.killed)

    @property
    def excess(self) -> float | None:
        return None if self.detection is None or self.bound is None else round(self.detection - self.bound, 3)

    @property
    def restart_to_ready(self) -> float | None:
        return _delta(self.restarted, self.ready)

    @property
    def to_first_consumed(self) -> float | None:
        return _delta(self.injected, self.first_consumed)

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "detection": self.detection,
            "excess": self.excess,
            "restart_to_ready": self.restart_to_ready,
            "to_first_consumed": self.to_first_consumed,
        }


def first_failure(
    probes: Iterable[ProbeResult], events: Iterable[dict], after: float, pod: str | None, path: str | None = None
) -> float | None:
    """First failed liveness probe after the fault: from the access log when it is there, else the Unhealthy event."""
    logged = [p.at for p in probes if p.at >= after and not p.ok and (path is None or p.path == path)]
    if logged:
        return min(logged)
    return event_time(events, "Unhealthy", after, pod, contains="Liveness probe failed")


def restart_decision(
    probes: Iterable[ProbeResult],
    events: Iterable[dict],
    after: float,
    threshold: int,
    path: str | None,
    pod: str | None,
) -> float | None:
    """When the kubelet decided to restart: the ``threshold``-th consecutive failed liveness probe (on ``path``)
    after ``after`` in the container's access log (nanosecond stamps), else the liveness Killing event (whole
    seconds) when the probe never reached the server (a wrong port)."""
    streak = 0
    for probe in sorted((p for p in probes if p.at >= after and (path is None or p.path == path)), key=lambda p: p.at):
        streak = 0 if probe.ok else streak + 1
        if streak == threshold:
            return probe.at
    return event_time(events, "Killing", after, pod, contains="liveness")


def first_after(times: Iterable[float | None], after: float | None) -> float | None:
    """Earliest time at or after ``after`` (e.g. the first message consumed once the pod is Ready)."""
    if after is None:
        return None
    return min((t for t in times if t is not None and t >= after), default=None)
