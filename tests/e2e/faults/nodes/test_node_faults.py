"""A consumer's node drained, lost, or left without its kubelet: Kubernetes moves the consumer within the bounds its
settings give, and the ledger proves nothing was lost (duplicates counted).

Cluster: 1 control plane (LocalStack, producer) + 2 workers (one consumer each), deploy/nodes (conftest.py). Each
fault starts from one Ready consumer per worker (`lab.nodedrain.spread`) and runs through `lab.runner.run_fault`:
- drained (`lab.nodedrain.DrainNode`): the PDB lets the first eviction through, the evicted consumer stops cleanly
  within its grace period; a second drain that would leave no consumer waits, and completes once capacity returns;
- lost (`lab.nodeinjectors.LoseNode`): the node's kind container killed; NotReady within the node-monitor grace
  period of the last heartbeat, the consumer evicted tolerationSeconds later, the replacement Ready on the other
  worker within the readiness bound; the container is started again and the node comes back Ready;
- kubelet stopped (`lab.nodeinjectors.StopKubelet`): the same decisions, but the evicted pod's container keeps
  running and consuming on the cut-off node until the kubelet returns and stops it.
The bounds are read from the live controller-manager, kubelet and pod spec (`lab.nodefaults.NodeSettings`) and
checked by the injectors, stage by stage; the eviction is each fault's restart decision, declared as `Bound.DRAIN`
(before kubectl's first retry) or `Bound.NODE` (the NotReady window plus tolerationSeconds), so the verdict holds
``detection`` to it and the report's bound and excess columns show it. Figures in each record's notes and in
docs/nodes.md.
"""

import pytest

from lab.fault import Bound, Env, Fault
from lab.nodedrain import DrainNode, spread
from lab.nodeinjectors import LoseNode, StopKubelet
from lab.runner import run_fault

# Messages the test adds around each fault, on top of the producer's stream, so both consumers hold work. Not
# "mid-batch": the node faults take tens of seconds to decide, long after any burst is consumed, and the drained
# consumer's batch is shown by its own clean stop (exit 0, drain shorter than the grace period) instead.
BURST = 100
NOTHING_LOST = "nothing lost, duplicates counted"
FAULTS = [
    Fault(
        "consumer's node drained",
        ("consumer",),
        DrainNode(),
        "PDB honoured: first eviction allowed at once, evicted consumer drains within its grace period, replacement "
        "Ready on the other worker; a drain that would break the budget waits until capacity returns, then completes; "
        f"{NOTHING_LOST}",
        bound=Bound.DRAIN,
        burst=BURST,
    ),
    Fault(
        "kubelet stopped on the consumer's node",
        ("consumer",),
        StopKubelet(),
        "NotReady after the grace period, pod Terminating after tolerationSeconds but its container keeps running and "
        f"consuming there, replacement Ready elsewhere; the returning kubelet stops it; {NOTHING_LOST}",
        bound=Bound.NODE,
        burst=BURST,
    ),
    Fault(
        "consumer's node lost",
        ("consumer",),
        LoseNode(),
        "NotReady after the node-monitor grace period, consumer evicted after tolerationSeconds, replacement Ready on "
        f"the other worker; the node comes back Ready; {NOTHING_LOST}",
        bound=Bound.NODE,
        burst=BURST,
    ),
]


def spread_deadline(lab, settings) -> float:
    """A deleted consumer's replacement scheduled, started and Ready: the readiness bound plus its grace period."""
    readiness = lab.probe("consumer", "readinessProbe")
    return readiness.initial_delay + readiness.ready_deadline() + settings.grace["consumer"]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_node_fault_moves_the_consumer_without_losing_messages(
    deployed_lab, aws, logs, settings, record_fault, fault, run
):
    spread(deployed_lab, spread_deadline(deployed_lab, settings))
    record_fault(*run_fault(fault, Env(deployed_lab, aws, logs, settings)))
