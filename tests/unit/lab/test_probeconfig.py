"""Pure pieces of the wrong-probe faults: losses over two outages, EndpointSlice readiness, first failed /ready."""

from lab.ledger import Ledger, LossWindow
from lab.probeconfig import WRONG_PROBES, endpoint_states, first_failed
from lab.timeline import ProbeResult
from lab.verdict import ledger_problems


def ledger() -> Ledger:
    return Ledger().add_events(
        [
            {"event": "published", "id": "a", "seq": 1, "producer": "p", "_t": 10.0},  # lost in outage 1
            {"event": "published", "id": "b", "seq": 2, "producer": "p", "_t": 50.0},  # lost between the outages
            {"event": "unpublished", "id": "c", "seq": 3, "producer": "p", "_t": 101.0},  # given up in outage 2
            {"event": "published", "id": "d", "seq": 3, "producer": "p", "_t": 102.0},
            {"event": "consumed", "id": "d", "_t": 103.0},
            {"event": "consumed", "id": "d", "_t": 104.0},
        ]
    )


def test_each_outage_excuses_only_its_own_losses_and_the_bounds_add_up():
    windows = [LossWindow(5, 20, max_excused=2), LossWindow(100, 110, max_excused=3)]
    result = ledger().check(windows=windows)
    assert result.lost == ["b"], "a loss between the outages stays a loss"
    assert result.excused == ["a", "c"]
    assert result.max_excused == 5
    assert result.duplicates == 1
    assert ledger_problems(result) == ["lost (published or given up, never consumed): ['b']"]


def test_more_losses_than_the_windows_hold_fail():
    result = ledger().check(windows=[LossWindow(0, 200, max_excused=1)])
    assert result.lost == []
    assert ledger_problems(result) == ["3 losses excused, the window can hold at most 1"]


def test_endpoint_states_reads_conditions_ready_over_slices():
    slices = [
        {"endpoints": [{"targetRef": {"name": "p1"}, "conditions": {"ready": True}}]},
        {"endpoints": [{"targetRef": {"name": "p2"}, "conditions": {"ready": False, "serving": True}}]},
        {"endpoints": [{"targetRef": {"name": "p3"}, "conditions": {}}, {"conditions": {"ready": True}}]},
        {"endpoints": None},
    ]
    assert endpoint_states(slices) == {"p1": True, "p2": False, "p3": False}


def test_first_failed_ready_answer_after_the_outage():
    probes = [
        ProbeResult(9.0, "/ready", 503),  # before the outage: an earlier fault's
        ProbeResult(11.0, "/health", 503),
        ProbeResult(12.0, "/ready", 200),
        ProbeResult(13.5, "/ready", 503),
    ]
    assert first_failed(probes, "/ready", 10.0) == 13.5
    assert first_failed(probes, "/ready", 14.0) is None


def test_the_wrong_paths_are_the_other_probes_endpoints():
    assert WRONG_PROBES == {
        "liveness-on-ready": ("livenessProbe", "/ready"),
        "readiness-on-health": ("readinessProbe", "/health"),
    }
