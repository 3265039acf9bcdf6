"""The node faults' declared bounds (`lab.fault.Bound.NODE`, `Bound.DRAIN`): what the injectors hand the runner and
what the verdict then does with a late or early eviction.

Why: until issue 10 the node injectors checked their windows only in their own notes and checks, the report's bound
column stayed empty, and the runner's declared-vs-measured check (`lab.runner.bound_problems`) could not see a node
fault lose its bound. These tests fail when a node recovery carries no bound, when the bound is not the live
windows' sum, when the verdict would accept an eviction past it, or when the runner would accept a node fault whose
declaration and measurement disagree.
"""

from pathlib import Path

import pytest

from lab.fault import Bound, Fault, Reaction
from lab.nodedrain import DRAIN_RETRY_SECONDS, DrainNode, drain_recovery, first_attempt
from lab.nodefaults import NodeSettings
from lab.nodeinjectors import LoseNode, StopKubelet, eviction_recovery
from lab.runner import bound_problems
from lab.timeline import Recovery
from lab.verdict import DETECTION_TOLERANCE_SECONDS, detection_problems

SETTINGS = NodeSettings(grace=50, monitor_period=5, heartbeat=10, toleration=10)
INJECTED = 1_796_400_000.0  # 2026-12-04T16:00:00Z
TOOK = 3.0  # the node's cut-off took 3 s (`CutOffNode.inject`)
NEW = {
    "metadata": {"name": "consumer-new"},
    "spec": {"nodeName": "lab-nodes-worker2"},
    "status": {
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-04T16:01:05Z"}],
        "containerStatuses": [{"name": "consumer", "state": {"running": {"startedAt": "2026-12-04T16:01:03Z"}}}],
    },
}
REFUSAL = (
    'error when evicting pods/"consumer-1" -n "lab" (will retry after 5s): Cannot evict pod as it would violate the '
    "pod's disruption budget."
)


def lost(after: float) -> Recovery:
    """A node-lost recovery whose pod was evicted ``after`` seconds after the fault."""
    return eviction_recovery("consumer's node lost", SETTINGS, INJECTED, TOOK, INJECTED + after, NEW)


def test_the_node_bound_is_the_notready_window_plus_the_eviction_delay():
    # NotReady in [grace − heartbeat, took + grace + 2 × period] = [40, 63], evicted tolerationSeconds (10) later.
    assert SETTINGS.eviction_bounds(TOOK) == (50, 73)


def test_a_node_recovery_carries_its_bound_the_eviction_and_the_replacement():
    recovery = lost(60)
    assert (recovery.bound, recovery.earliest) == (73, 50)
    assert recovery.detection == 60 and recovery.excess == -13
    assert recovery.restart_to_ready == 2.0
    assert detection_problems(recovery) == []


def test_an_eviction_past_the_node_bound_fails_the_verdict():
    assert detection_problems(lost(73 + DETECTION_TOLERANCE_SECONDS - 0.1)) == []  # the API's whole-second stamps
    (late,) = detection_problems(lost(73 + DETECTION_TOLERANCE_SECONDS))
    assert "73 s (excess +2.0 s" in late


def test_an_eviction_earlier_than_the_node_windows_allow_fails_the_verdict():
    assert detection_problems(lost(50 - DETECTION_TOLERANCE_SECONDS)) == []
    (early,) = detection_problems(lost(50 - DETECTION_TOLERANCE_SECONDS - 0.1))
    assert "earlier than the 50 s" in early


def test_a_node_recovery_without_an_eviction_fails_the_verdict():
    recovery = eviction_recovery("consumer's node lost", SETTINGS, INJECTED, TOOK, None, NEW)
    assert detection_problems(recovery) == ["consumer's node lost: no restart decision observed after the fault"]


@pytest.mark.parametrize("injector", [LoseNode(), StopKubelet()], ids=["lost", "kubelet"])
def test_the_runner_refuses_a_node_fault_whose_declared_bound_and_measurement_differ(injector):
    reaction = Reaction(lost(60))
    declared = Fault("node", ("consumer",), injector, "", bound=Bound.NODE)
    assert bound_problems(declared, "consumer", reaction) == []
    undeclared = Fault("node", ("consumer",), injector, "")
    assert bound_problems(undeclared, "consumer", reaction) == [
        "node: no bound applies, but the injector set one (73 s)"
    ]
    unmeasured = Reaction(Recovery("node", injected=INJECTED, killed=INJECTED + 60))
    assert bound_problems(declared, "consumer", unmeasured) == [
        "node: the node bound applies, but the injector measured none"
    ]


def drained(after: float | None) -> Recovery:
    """A drain recovery whose pod's Killing event came ``after`` seconds after the drain started."""
    return drain_recovery("consumer's node drained", INJECTED, None if after is None else INJECTED + after, NEW)


def test_a_drain_recovery_is_held_to_kubectls_first_retry():
    recovery = drained(0.0)
    assert (recovery.bound, recovery.earliest) == (DRAIN_RETRY_SECONDS, 0.0)
    assert detection_problems(recovery) == []
    assert detection_problems(drained(DRAIN_RETRY_SECONDS + DETECTION_TOLERANCE_SECONDS - 0.1)) == []
    (late,) = detection_problems(drained(DRAIN_RETRY_SECONDS + DETECTION_TOLERANCE_SECONDS))
    assert f"bound {DRAIN_RETRY_SECONDS:g} s" in late
    assert detection_problems(drained(None)) == [
        "consumer's node drained: no restart decision observed after the fault"
    ]


def test_the_runner_refuses_a_drain_without_its_bound():
    declared = Fault("drain", ("consumer",), DrainNode(), "", bound=Bound.DRAIN)
    assert bound_problems(declared, "consumer", Reaction(drained(0.0))) == []
    unmeasured = Reaction(Recovery("drain", injected=INJECTED, killed=INJECTED))
    assert bound_problems(declared, "consumer", unmeasured) == [
        "drain: the drain bound applies, but the injector measured none"
    ]


def test_a_first_drain_refused_by_the_budget_is_a_problem():
    assert first_attempt("node/lab-nodes-worker cordoned\npod/consumer-1 evicted\n", "lab-nodes-worker") == []
    (refused,) = first_attempt(f"node/lab-nodes-worker cordoned\n{REFUSAL}\n", "lab-nodes-worker")
    assert "lab-nodes-worker" in refused and "refused" in refused


def test_every_bound_is_listed_in_the_fault_guide():
    guide = (Path(__file__).resolve().parents[3] / "docs" / "faults.md").read_text(encoding="utf-8")
    assert [b.name for b in Bound if f"`Bound.{b.name}`" not in guide] == []
