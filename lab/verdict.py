"""Pass or fail for one fault run, written once: the fault tests assert it and the report prints it.

Why one module: a report that says "passed" for a run the tests would have failed (or the reverse) makes the report
worthless as evidence. `problems` is the whole rule set; ``tests/e2e/faults/conftest.py`` asserts it is empty when a
run is recorded, and `lab.report.model.FaultRecord.outcome` is "failed" exactly when it is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lab.ledger import LedgerResult
from lab.timeline import Recovery

# How far past the probe bound (or before the earliest possible decision) a measured restart decision may lie and
# still count as the probe's own. It is the README's goal ("excess < 2 s") and it covers two granularities: the
# kubelet's probe ticker is started when the pod worker starts, not when the fault lands, and a probe's own duration
# (well under timeoutSeconds here) shifts its answer; and the figures that only exist in the API (a patched pod's
# container startedAt, the Killing event of a probe that never reaches the server) are truncated to whole seconds,
# which moves a detection by up to 1 s. Anything beyond that is a real miss, not noise.
DETECTION_TOLERANCE_SECONDS = 2.0


def detection_problems(recovery: Recovery) -> list[str]:
    """A probe-bounded fault (``recovery.bound`` set) must be decided inside [earliest, bound] ± the tolerance."""
    if recovery.bound is None:
        return []
    detection = recovery.detection
    if detection is None:
        return [f"{recovery.fault}: no restart decision observed after the fault"]
    problems = []
    if detection - recovery.bound >= DETECTION_TOLERANCE_SECONDS:
        problems.append(
            f"{recovery.fault}: restart decided {detection:.1f} s after the fault, bound {recovery.bound:g} s "
            f"(excess {detection - recovery.bound:+.1f} s, allowed < {DETECTION_TOLERANCE_SECONDS:g} s)"
        )
    if recovery.earliest is not None and detection < recovery.earliest - DETECTION_TOLERANCE_SECONDS:
        problems.append(
            f"{recovery.fault}: restart decided {detection:.1f} s after the fault, earlier than the "
            f"{recovery.earliest:g} s its bound allows: not this fault's doing"
        )
    return problems


def ledger_problems(result: LedgerResult | None) -> list[str]:
    """Nothing lost, nothing unexplained, nothing hidden: the at-least-once promise as assertions."""
    if result is None:
        return []
    checks: list[tuple[list[Any], str]] = [
        (result.lost, "lost (published or given up, never consumed)"),
        (result.unknown, "consumed but never published"),
        (result.dlq_published, "published ids in the DLQ (good messages dead-lettered)"),
        (result.unreadable, "container logs that could not be read"),
        (sorted(result.seq_gaps.items()), "sequence gaps per producer run"),
    ]
    problems = [f"{what}: {_head(items)}" for items, what in checks if items]
    if result.max_excused is not None and len(result.excused) > result.max_excused:
        problems.append(f"{len(result.excused)} losses excused, the window can hold at most {result.max_excused}")
    return problems


def problems(recovery: Recovery, ledger: LedgerResult | None, checks: Iterable[str] = ()) -> list[str]:
    """Every problem of one run: detection, ledger, and the fault's own checks (already phrased as problems)."""
    return detection_problems(recovery) + ledger_problems(ledger) + list(checks)


def _head(items: list, count: int = 10) -> str:
    more = f" … (+{len(items) - count})" if len(items) > count else ""
    return f"{items[:count]}{more}"
