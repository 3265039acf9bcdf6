"""The session's fault records as a JUnit XML document: one test case per fault run, its figures as properties.

Why JUnit: CI systems (GitHub test reporters, GitLab, Jenkins) render JUnit files natively, so a red fault shows up
with its bound, detection and ledger counts without anyone opening report.md. Standard library only (no matplotlib),
so the e2e suite writes it on every run, report or not. Pass or fail is `FaultRecord.outcome` and the failure text is
`FaultRecord.problems` (`lab.verdict`): the same verdict as the tests' assertion and the report's outcome column.
"""

from __future__ import annotations

import fcntl
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from lab.report.model import FaultRecord

JUNIT_NAME = "report.junit.xml"  # next to report.md, and in the run's artifact folder (tests/e2e/faults/conftest.py)
SUITE = "fault catalogue"
RECOVERY_FIGURES = ("bound", "earliest", "detection", "excess", "restart_to_ready", "to_first_consumed")
LEDGER_COUNTS = ("lost", "excused", "duplicates", "poison", "dlq", "seq_gaps")
PROPERTIES = RECOVERY_FIGURES + LEDGER_COUNTS
# Characters XML 1.0 cannot carry at all (e.g. the ANSI escapes in a pytest error text): dropped, or nothing parses.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def figures(record: FaultRecord) -> dict[str, float | int]:
    """The record's figures by their model names; a figure the run did not have is left out (never "None")."""
    recovery = record.recovery.to_dict()
    values: dict[str, float | int | None] = {name: recovery[name] for name in RECOVERY_FIGURES}
    values.update(lost=record.lost, excused=record.excused, duplicates=record.duplicates)
    if record.ledger is not None:  # counts of what LedgerResult lists, as the report's DLQ column does
        ledger = record.ledger
        values.update(poison=ledger.poison, dlq=len(ledger.dlq), seq_gaps=sum(map(len, ledger.seq_gaps.values())))
    return {name: value for name, value in values.items() if value is not None}


def case_time(record: FaultRecord) -> float:
    """Detection, else the recovery to messages flowing (or to Ready): the run's headline figure, 0 when none.

    JUnit's time is a duration, so a negative figure is written as 0; the exact value is in the properties.
    """
    rec = record.recovery
    value = next((v for v in (rec.detection, rec.to_first_consumed, rec.restart_to_ready) if v is not None), 0.0)
    return max(0.0, value)


def junit_xml(records: list[FaultRecord], suite: str = SUITE) -> ET.Element:
    """``<testsuites>`` holding one ``<testsuite name=suite>``, one ``<testcase>`` per record, in record order."""
    runs = Counter(record.fault for record in records)
    seen: Counter[str] = Counter()
    cases = []
    for record in records:
        seen[record.fault] += 1
        name = record.fault if runs[record.fault] == 1 else f"{record.fault} (run {seen[record.fault]})"
        cases.append(_case(record, name, suite))
    return _document(cases, suite)


def _document(cases: list[ET.Element], suite: str) -> ET.Element:
    failures = sum(case.find("failure") is not None for case in cases)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0", "skipped": "0"}
    total = f"{sum(float(case.get('time', 0)) for case in cases):.3f}"
    root = ET.Element("testsuites", {"name": suite, **counts, "time": total})
    element = ET.SubElement(root, "testsuite", {"name": suite, **counts, "time": total})
    element.extend(cases)
    return root


def merge_junit(parts: list[Path], suite: str = SUITE) -> ET.Element:
    """One document of every test case in ``parts`` (in their order), the counts and time summed anew."""
    cases = [case for part in parts for case in ET.parse(part).getroot().iter("testcase")]
    return _document(cases, suite)


def write_junit(records: list[FaultRecord], path: Path, part: str | None = None) -> Path:
    """Write `junit_xml` of ``records`` to ``path`` (parents created) and return it.

    ``part`` (default: the pytest-xdist worker id, ``PYTEST_XDIST_WORKER``, when there is one): each worker holds only
    the records of its own modules, and every worker writes the same run folder's file at its end. So each writes its
    part (``<name>.parts/<part>.xml``) and, under a lock, rebuilds ``path`` from all parts written so far: the last
    worker to finish leaves every record of the run in it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = part if part is not None else os.environ.get("PYTEST_XDIST_WORKER")
    if not part:
        _write(junit_xml(records), path)
        return path
    parts = path.parent / f"{path.stem}.parts"
    parts.mkdir(exist_ok=True)
    _write(junit_xml(records), parts / f"{part}.xml")
    with (parts / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write(merge_junit(sorted(parts.glob("*.xml"))), path)
        fcntl.flock(lock, fcntl.LOCK_UN)
    return path


def _write(root: ET.Element, path: Path) -> None:
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _case(record: FaultRecord, name: str, suite: str) -> ET.Element:
    case = ET.Element("testcase", {"classname": _module(record.test) or suite, "name": _clean(name)})
    case.set("time", f"{case_time(record):.3f}")
    values = figures(record)
    if values:
        properties = ET.SubElement(case, "properties")
        for key, value in values.items():
            ET.SubElement(properties, "property", {"name": key, "value": str(value)})
    problems = record.problems
    if record.outcome == "failed":  # the verdict's problems, else the test's own error (kept in notes)
        kind = "lab.verdict" if problems else "test failed"
        problems = problems or [record.notes or "the test failed after recording (see its pytest report)"]
        failure = ET.SubElement(case, "failure", {"message": _clean("; ".join(problems)), "type": kind})
        failure.text = _clean("\n".join(problems))
    if record.notes and record.notes not in problems:
        ET.SubElement(case, "system-out").text = _clean(record.notes)
    return case


def _module(nodeid: str) -> str:
    """``tests/e2e/faults/test_x.py::test_y[run1]`` → ``tests.e2e.faults.test_x`` (pytest's own junitxml style)."""
    path = nodeid.split("::", 1)[0]
    return path.removesuffix(".py").replace("/", ".")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)
