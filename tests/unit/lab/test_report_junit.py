"""Issue 9 (export): the fault records as JUnit XML, so a CI system shows each fault with its measured figures.

Every test parses the produced document back with the standard library, as a CI system would, and reads the values
out of it; the expected verdicts come from the records themselves (`FaultRecord.problems`), not from this file.
"""

import xml.etree.ElementTree as ET

from lab.ledger import Ledger
from lab.report import FaultRecord
from lab.report.junit import JUNIT_NAME, PROPERTIES, SUITE, junit_xml, write_junit
from lab.report.writer import write_report
from lab.timeline import Recovery

NODE = "tests/e2e/faults/test_liveness_faults.py::test_fault_switch[run1]"
SUITE_ATTRIBUTES = {"name", "tests", "failures", "errors", "skipped", "time"}


def record(fault: str = "fault switch", killed: float | None = 107.0, lose_one: bool = False) -> FaultRecord:
    """Published a and b; a consumed twice (one duplicate); b consumed unless ``lose_one``; bound 7 s."""
    ledger = Ledger()
    events = [
        {"event": "published", "id": "a", "seq": 1, "producer": "p", "_t": 99.0},
        {"event": "published", "id": "b", "seq": 2, "producer": "p", "_t": 101.0},
        {"event": "consumed", "id": "a", "_t": 99.5},
        {"event": "consumed", "id": "a", "_t": 111.0},
    ]
    ledger.add_events(events + ([] if lose_one else [{"event": "consumed", "id": "b", "_t": 110.5}]))
    recovery = Recovery(
        fault, injected=100.0, killed=killed, restarted=108.0, ready=110.0, first_consumed=110.5, bound=7.0
    )
    out = FaultRecord(fault, "restart within the bound, nothing lost", recovery, ledger=ledger.check())
    out.test = NODE
    return out


def parse(records: list[FaultRecord]) -> ET.Element:
    return ET.fromstring(ET.tostring(junit_xml(records), encoding="unicode"))


def suite_of(root: ET.Element) -> ET.Element:
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def props(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iterfind("properties/property")}


def test_passing_record_carries_its_figures_as_properties_and_no_failure():
    passing = record()
    passing.notes = "0 excused"
    assert passing.problems == []  # the premise: lab.verdict passes it
    case = suite_of(parse([passing])).find("testcase")
    assert case is not None
    assert case.get("classname") == "tests.e2e.faults.test_liveness_faults"
    assert case.get("name") == "fault switch"
    assert case.get("time") == "7.000"  # detection
    assert props(case) == {
        "bound": "7.0",
        "detection": "7.0",
        "excess": "0.0",
        "restart_to_ready": "2.0",
        "to_first_consumed": "10.5",
        "lost": "0",
        "excused": "0",
        "duplicates": "1",
        "poison": "0",
        "dlq": "0",
        "seq_gaps": "0",
    }  # no earliest: the record has none, so it is left out rather than written as "None"
    assert case.find("failure") is None and case.find("error") is None
    assert case.findtext("system-out") == "0 excused"


def test_lost_message_and_late_decision_fail_with_the_verdicts_words():
    lost, late = record("pod deleted", lose_one=True), record("hung worker", killed=110.0)
    suite = suite_of(parse([record(), lost, late]))
    counts = [suite.get(name) for name in ("tests", "failures", "errors", "skipped")]
    assert counts == ["3", "2", "0", "0"]
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert props(cases["pod deleted"])["lost"] == "1"
    failure = cases["pod deleted"].find("failure")
    assert failure is not None
    assert failure.get("message") == "; ".join(lost.problems) and "lost" in failure.get("message", "")
    late_failure = cases["hung worker"].find("failure")
    assert late_failure is not None and "excess +3.0 s" in late_failure.get("message", "")
    assert props(cases["hung worker"])["excess"] == "3.0"
    assert cases["fault switch"].find("failure") is None
    assert failure.get("type") == "lab.verdict"


def test_test_failed_before_recording_fails_with_its_error_and_writes_no_none():
    failed = FaultRecord("emulator pod deleted", "see docstring", Recovery("x", injected=1.0), test_failed=True)
    failed.notes = "producer restarted\x1b[31m"  # an ANSI colour from pytest's error text: not allowed in XML 1.0
    text = ET.tostring(junit_xml([failed]), encoding="unicode")
    assert "None" not in text
    case = suite_of(ET.fromstring(text)).find("testcase")
    assert case is not None
    assert props(case) == {} and case.get("time") == "0.000"
    assert case.get("classname") == SUITE  # no pytest node id on the record
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == "producer restarted[31m"
    assert failure.get("type") == "test failed" and case.find("system-out") is None  # said once, in the failure


def test_empty_records_give_a_valid_empty_suite():
    root = parse([])
    suite = suite_of(root)
    assert set(suite.attrib) >= SUITE_ATTRIBUTES
    assert suite.get("name") == SUITE
    assert (suite.get("tests"), suite.get("failures"), suite.get("time")) == ("0", "0", "0.000")
    assert suite.findall("testcase") == []


def test_suite_counts_and_time_sum_the_cases_and_repeated_runs_are_named_apart():
    runs = [record(), record(killed=108.0)]
    root = parse(runs)
    suite = suite_of(root)
    assert set(suite.attrib) >= SUITE_ATTRIBUTES and root.get("tests") == "2"
    assert [case.get("name") for case in suite.iter("testcase")] == ["fault switch (run 1)", "fault switch (run 2)"]
    assert suite.get("time") == "15.000"  # 7 + 8


def test_recovery_time_stands_in_when_there_is_no_restart_decision():
    no_restart = record("poison message", killed=None)
    case = suite_of(parse([no_restart])).find("testcase")
    assert case is not None
    assert case.get("time") == "10.500"  # to_first_consumed
    assert "detection" not in props(case) and "excess" not in props(case)


def test_property_names_are_the_models():
    figures = record()
    for name in PROPERTIES:
        assert hasattr(figures.recovery, name) or hasattr(figures, name) or hasattr(figures.ledger, name), name


def test_written_next_to_report_md_and_on_its_own(tmp_path):
    report = write_report([record(), record("pod deleted", lose_one=True)], tmp_path)
    written = ET.parse(report.parent / JUNIT_NAME).getroot()
    assert suite_of(written).get("failures") == "1"
    alone = write_junit([record()], tmp_path / "artifacts" / "e2e-x" / JUNIT_NAME)
    assert ET.parse(alone).getroot().find("testsuite/testcase") is not None
    assert alone.read_text(encoding="utf-8").startswith("<?xml")
