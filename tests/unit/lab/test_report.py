"""The report must show the measured figures per fault and link a real PNG for every run."""

import json

from lab.ledger import Ledger
from lab.report import FaultRecord, summarize
from lab.report.writer import write_report
from lab.timeline import ProbeResult, Recovery

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def record(fault: str, killed: float | None, lost_one: bool = False, bound: float | None = 7.0) -> FaultRecord:
    ledger = Ledger()
    ledger.add_events(
        [
            {"event": "published", "id": "a", "seq": 1, "producer": "p", "_t": 99.0},
            {"event": "published", "id": "b", "seq": 2, "producer": "p", "_t": 101.0},
            {"event": "consumed", "id": "a", "_t": 99.5},
            {"event": "consumed", "id": "a", "_t": 111.0},
        ]
    )
    if not lost_one:
        ledger.add_events([{"event": "consumed", "id": "b", "_t": 110.5}])
    recovery = Recovery(
        fault,
        injected=100.0,
        first_failed_probe=101.0,
        killed=killed,
        restarted=108.0,
        ready=110.0,
        first_consumed=110.5,
        bound=bound,
    )
    return FaultRecord(
        fault=fault,
        expected="restart within the probe bound, nothing lost",
        recovery=recovery,
        ledger=ledger.check(),
        probes=[
            ProbeResult(98.0, "/health", 200),
            ProbeResult(101.0, "/health", 503),
            ProbeResult(101.0, "/ready", 200),
        ],
        published=[99.0, 101.0],
        consumed=[99.5, 110.5, 111.0],
        readiness=[(95.0, True), (107.0, False), (110.0, True)],
        restarts=[108.0],
        notes="synthetic",
    )


def test_report_has_summary_rows_sections_and_pngs(tmp_path):
    records = [
        record("fault switch", killed=107.0),
        record("fault switch", killed=109.0),
        record("pod deleted", None, True, bound=None),
    ]
    report = write_report(records, tmp_path, {"cluster": "unit-test"})
    text = report.read_text()
    assert report.parent.parent == tmp_path
    assert "- cluster: unit-test" in text
    # fault switch: detection 7 and 9 -> median 8 / worst 9, excess 0 / 2; 2 duplicates over two runs. The run at
    # +2 s excess is failed (it used to be "passed"): the report's outcome is lab.verdict, as in the tests.
    assert "| fault switch | 2 | failed, passed | 7 / 7 | 8 / 9 | 1 / 2 | 2 / 2 | 10.5 / 10.5 | 0 | 0 | 2 |" in text
    assert "| 1 | passed | 7 | 7 | 0 |" in text and "| 2 | failed | 7 | 9 | 2 |" in text
    assert "- run 2 **failed**: fault switch: restart decided 9.0 s after the fault, bound 7 s (excess +2.0 s" in text
    # A lost message fails the run too, whatever the timing.
    assert "| pod deleted | 1 | failed |  |  |  | 2 | 10.5 | 1 | 0 | 1 |" in text
    pictures = sorted(p.name for p in report.parent.glob("*.png"))
    assert pictures == ["timeline-fault-switch-1.png", "timeline-fault-switch-2.png", "timeline-pod-deleted-1.png"]
    for name in pictures:
        assert f"({name})" in text
        assert (report.parent / name).read_bytes().startswith(PNG_MAGIC)
    data = json.loads((report.parent / "results.json").read_text())
    assert [run["recovery"]["detection"] for run in data["runs"]] == [7.0, 9.0, None]
    assert data["runs"][2]["ledger"]["lost"] == ["b"]


def test_summarize_ignores_runs_without_the_figure():
    stat = summarize([record("x", 107.0), record("x", None), record("x", 110.0)], "detection")
    assert (stat.median, stat.worst, stat.n) == (8.5, 10.0, 2)


def test_failed_fault_without_data_still_gets_a_row_and_picture(tmp_path):
    failed = FaultRecord(
        "emulator pod deleted",
        "see docstring",
        Recovery("x", injected=1.0),
        test_failed=True,
        notes="producer restarted",
    )
    text = write_report([failed], tmp_path).read_text()
    assert "| emulator pod deleted | 1 | failed |" in text
    assert "- run 1: producer restarted" in text
