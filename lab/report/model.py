"""What one fault run leaves behind for the report: its recovery timeline, its ledger and the raw series to plot.

Kept separate from rendering so the e2e tests only build records (cheap, no matplotlib import) and the report is
written once at the end of the session.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field

from lab.ledger import LedgerResult
from lab.timeline import ProbeResult, Recovery
from lab.verdict import problems as verdict_problems


@dataclass
class FaultRecord:
    """One run of one fault. Times are unix seconds; the plot shows them relative to ``recovery.injected``."""

    fault: str
    expected: str
    recovery: Recovery
    ledger: LedgerResult | None = None
    probes: list[ProbeResult] = field(default_factory=list)
    published: list[float] = field(default_factory=list)
    consumed: list[float] = field(default_factory=list)
    readiness: list[tuple[float, bool]] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # the fault's own failed checks, phrased as problems
    test_failed: bool = False  # set when the test failed for any other reason (an exception, a wait that timed out)
    notes: str = ""
    test: str = ""  # pytest node id, so a failure after recording marks the right rows

    @property
    def problems(self) -> list[str]:
        """`lab.verdict.problems`: what the fault test asserts to be empty when it records this run."""
        return verdict_problems(self.recovery, self.ledger, self.checks)

    @property
    def outcome(self) -> str:
        """The report's verdict: the test's own assertion (`problems`), or the test having failed otherwise."""
        return "failed" if self.test_failed or self.problems else "passed"

    @property
    def lost(self) -> int | None:
        return None if self.ledger is None else len(self.ledger.lost)

    @property
    def excused(self) -> int | None:
        return None if self.ledger is None else len(self.ledger.excused)

    @property
    def duplicates(self) -> int | None:
        return None if self.ledger is None else self.ledger.duplicates

    def to_dict(self) -> dict:
        return {
            "fault": self.fault,
            "expected": self.expected,
            "outcome": self.outcome,
            "problems": self.problems,
            "notes": self.notes,
            "test": self.test,
            "recovery": self.recovery.to_dict(),
            "ledger": None if self.ledger is None else asdict(self.ledger),
            "probes": [asdict(p) for p in self.probes],
            "published": self.published,
            "consumed": self.consumed,
            "readiness": self.readiness,
            "restarts": self.restarts,
        }


def _values(records: list[FaultRecord], attr: str) -> list[float]:
    out = []
    for record in records:
        value = getattr(record.recovery, attr, None)
        if value is None:
            value = getattr(record, attr, None)
        if value is not None:
            out.append(float(value))
    return out


@dataclass(frozen=True)
class Stat:
    """Median and worst of one figure over a fault's repetitions (``n`` = how many runs had it)."""

    median: float | None
    worst: float | None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        if not values:
            return cls(None, None, 0)
        return cls(round(statistics.median(values), 3), round(max(values), 3), len(values))


def summarize(records: list[FaultRecord], attr: str) -> Stat:
    """Aggregate a Recovery property or a FaultRecord count (e.g. ``excess``, ``lost``) over repetitions."""
    return Stat.of(_values(records, attr))
