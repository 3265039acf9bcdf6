"""Render a session's fault records into ``<dir>/<timestamp>/report.md`` plus PNG timelines, ``results.json`` and
``report.junit.xml``.

Markdown because it reads on GitHub and in a terminal; the JSON keeps every timestamp so figures can be recomputed.
Empty cells mean "not observed" (e.g. no restart for a pod deletion), never zero.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from lab.report.junit import JUNIT_NAME, write_junit
from lab.report.model import FaultRecord, Stat, summarize
from lab.report.plot import plot_record
from lab.verdict import DETECTION_TOLERANCE_SECONDS

HOW_TO_READ = f"""\
**How to read it.** *bound* is the latest restart decision the fault's declared bound (`lab.fault.Bound`) allows:
for a probe, what its settings allow (`initialDelaySeconds` when the fault exists from container start +
`periodSeconds × failureThreshold` + `timeoutSeconds`, plus the heartbeat age for a hung worker); for a memory fault,
the allocation's time to the limit; for a node cut off, the NotReady window plus tolerationSeconds; for a drain,
kubectl's first retry. *detection* is fault → restart decision (for a node fault: the pod's eviction), *excess* =
detection − bound (negative is inside the bound). A run *fails* when the excess reaches
{DETECTION_TOLERANCE_SECONDS:g} s, when the decision came earlier than the bound allows, or on any ledger problem
(`lab.verdict`: the same check the tests assert). *restart→Ready* is container start → pod Ready. *lost* counts
published messages never consumed (a published id in the DLQ is lost too); *excused* are losses inside a documented,
bounded window (in-memory emulator restart); *duplicated* counts extra deliveries (at-least-once is allowed).
Kubernetes stores event and status times in whole seconds, so figures taken from them carry ±1 s."""


def _fmt(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return ""
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _stat(stat: Stat) -> str:
    if stat.n == 0:
        return ""
    return _fmt(stat.median) if stat.n == 1 else f"{_fmt(stat.median)} / {_fmt(stat.worst)}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _grouped(records: Iterable[FaultRecord]) -> dict[str, list[FaultRecord]]:
    groups: dict[str, list[FaultRecord]] = {}
    for record in records:
        groups.setdefault(record.fault, []).append(record)
    return groups


def _summary(groups: dict[str, list[FaultRecord]]) -> list[str]:
    lines = [
        "| fault | runs | outcome | bound (s) | detection (s) | excess (s) | restart→Ready (s) | to first consumed (s) "
        "| lost | excused | duplicated |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for fault, runs in groups.items():
        outcomes = ", ".join(sorted({r.outcome for r in runs}))
        times = [
            _stat(summarize(runs, a)) for a in ("bound", "detection", "excess", "restart_to_ready", "to_first_consumed")
        ]
        counts = [_total(runs, attr) for attr in ("lost", "excused", "duplicates")]
        lines.append(f"| {fault} | {len(runs)} | {outcomes} | " + " | ".join(times + counts) + " |")
    return lines


def _total(runs: list[FaultRecord], attr: str) -> str:
    """Sum of a ledger count over the runs that had a ledger (empty when none had one)."""
    values = [v for v in (getattr(r, attr) for r in runs) if v is not None]
    return str(sum(values)) if values else ""


def _section(fault: str, runs: list[FaultRecord], out: Path) -> list[str]:
    lines = [f"## {fault}", "", f"Expected: {runs[0].expected}", ""]
    lines += [
        "| run | outcome | bound (s) | detection (s) | excess (s) | restart→Ready (s) | lost | excused | duplicated "
        "| DLQ | timeline |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for index, record in enumerate(runs, start=1):
        picture = f"timeline-{_slug(fault)}-{index}.png"
        plot_record(record, out / picture)
        rec = record.recovery
        dlq = "" if record.ledger is None else str(len(record.ledger.dlq))
        lines.append(
            f"| {index} | {record.outcome} | {_fmt(rec.bound)} | {_fmt(rec.detection)} | {_fmt(rec.excess)} "
            f"| {_fmt(rec.restart_to_ready)} | {_fmt(record.lost)} | {_fmt(record.excused)} "
            f"| {_fmt(record.duplicates)} | {dlq} | [png]({picture}) |"
        )
        if record.notes:
            notes.append(f"- run {index}: {record.notes}")
        notes += [f"- run {index} **failed**: {problem}" for problem in record.problems]
    lines += ["", f"![{fault} timeline](timeline-{_slug(fault)}-1.png)", ""]
    return lines + notes + ([""] if notes else [])


def write_report(records: list[FaultRecord], parent: Path, meta: dict[str, str] | None = None) -> Path:
    """Write the report for ``records`` under ``parent/<UTC timestamp>/`` and return the report.md path."""
    now = datetime.now(UTC)
    out = Path(parent) / now.strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    groups = _grouped(records)
    lines = ["# Resiliency report", "", f"Generated {now.isoformat(timespec='seconds')}."]
    lines += [f"- {key}: {value}" for key, value in (meta or {}).items()]
    lines += ["", HOW_TO_READ, "", "Cells with two numbers are median / worst over the runs.", ""]
    lines += _summary(groups) + [""]
    for fault, runs in groups.items():
        lines += _section(fault, runs, out)
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    payload = {"generated": now.isoformat(), "meta": meta or {}, "runs": [r.to_dict() for r in records]}
    (out / "results.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    write_junit(records, out / JUNIT_NAME)
    return report
