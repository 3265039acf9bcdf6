"""``kubectl drain`` of a consumer's node as a catalogue fault, and the one-consumer-per-worker start of node faults.

The drain (a voluntary disruption) goes through the Eviction API, so the consumer's PodDisruptionBudget
(minAvailable 1, deploy/nodes) decides. Shown in two steps:
1. drain the node of one consumer: the eviction is allowed (two Ready), the evicted consumer drains its batch and
   exits 0 within its grace period, its replacement goes to the other worker (the drained one is cordoned);
2. drain the other worker while the first is still cordoned: both consumers are there now and no other node takes a
   consumer (the control plane's taint). The first eviction is allowed, its replacement stays Pending, and the second
   is refused (disruptionsAllowed 0): kubectl drain retries every `DRAIN_RETRY_SECONDS` and must still be waiting
   after two retries. Uncordoning the first worker returns the capacity: the Pending replacement becomes Ready there,
   the refused eviction goes through, and the drain completes within the readiness bound, one retry and a grace
   period. Both workers are uncordoned at the end (``undo``), whatever happened.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from lab.deploy import Lab
from lab.fault import Env, Fault, Reaction
from lab.kube import Kube, holds, wait_for
from lab.ledger import parse_events
from lab.nodefaults import Target, consumers_by_node, node_ready, outside, replacement, target, workers
from lab.nodeinjectors import stopped
from lab.probes import RESTART_SLACK_SECONDS
from lab.providers import READY_TIMEOUT
from lab.timeline import Recovery, event_time, ready_since, started_at

DRAIN_RETRY_SECONDS = 5.0  # kubectl drain: "will retry after 5s" after a refused eviction (fixed in k8s.io/kubectl)
REFUSED = "violate the pod's disruption budget"


def start_drain(kube: Kube, node: str, timeout: float) -> tuple[subprocess.Popen, Path]:
    """``kubectl drain NODE`` in the background (it blocks until every eviction went through); output to a file."""
    manager = kube.manager
    argv = [shutil.which("kubectl") or "kubectl", "--kubeconfig", str(manager.kubeconfig)]
    out = Path(tempfile.mkstemp(prefix=f"lab-drain-{node}-", suffix=".log")[1])
    drain = ["drain", node, "--ignore-daemonsets", "--delete-emptydir-data", f"--timeout={int(timeout)}s"]
    with out.open("wb") as file:
        proc = subprocess.Popen([*argv, *drain], stdout=file, stderr=subprocess.STDOUT)
    return proc, out


def drain_recovery(name: str, injected: float, evicted: float | None, new: dict) -> Recovery:
    """The drain's timeline up to the replacement's Ready, held to `lab.fault.Bound.DRAIN`: the eviction reaching
    the kubelet (its Killing event, ``killed``) is the restart decision, and with the budget allowing one disruption
    it comes before kubectl's first retry (`DRAIN_RETRY_SECONDS`; a refused eviction is tried again only then)."""
    return Recovery(
        name, injected=injected, killed=evicted, restarted=started_at(new, "consumer"), ready=ready_since(new),
        bound=DRAIN_RETRY_SECONDS, earliest=0.0,
    )  # fmt: skip


def first_attempt(output: str, node: str) -> list[str]:
    """A problem when kubectl's output shows the drain of ``node`` refused by the budget: the first drain's eviction
    must be allowed at once (two consumers Ready, minAvailable 1), which is what `Bound.DRAIN` assumes."""
    refusals = output.count(REFUSED)
    return (
        [f"the drain of {node} was refused {refusals} times by the disruption budget, expected none"]
        if refusals
        else []
    )


def stopped_event(env: Env, pod: str) -> dict:
    """The evicted consumer's own ``stopped`` line (exit code, drain seconds), bounded by its grace period."""
    grace = env.settings.grace["consumer"]

    return wait_for(lambda: stopped(parse_events(env.logs.texts().get(pod, ""))), grace + RESTART_SLACK_SECONDS,
                    what=f"{pod} logged 'stopped'")  # fmt: skip


def spread(lab: Lab, deadline: float) -> None:
    """One Ready consumer per worker before a node fault: a crowded worker (after a drain) gives one pod up, and
    the spread constraint (maxSkew 1) can then only place its replacement on the empty worker. The budget must
    count both as Ready too (disruptionsAllowed 1), so a drain's first eviction is allowed (`Bound.DRAIN`)."""
    cluster = Kube(lab.kube.manager)
    nodes = workers(lab.kube)
    for node in nodes:
        cluster("uncordon", node)

    def schedulable() -> bool:  # a worker just back still carries the controller's taints for one monitor pass
        items = cluster.json("get", "nodes", "-l", "!node-role.kubernetes.io/control-plane")["items"]
        return all(node_ready(cluster, n["metadata"]["name"])[0] and not n["spec"].get("taints") for n in items)

    wait_for(schedulable, READY_TIMEOUT, what="every worker Ready and untainted")
    for pods in consumers_by_node(lab).values():
        if len(pods) > 1:
            lab.kube("delete", "pod", pods[-1]["metadata"]["name"], "--wait=false")

    def one_each() -> bool:
        by_node = consumers_by_node(lab)
        each = all(len(by_node.get(n, [])) == 1 and ready_since(by_node[n][0]) is not None for n in nodes)
        return each and lab.kube.json("get", "pdb", "consumer")["status"].get("disruptionsAllowed", 0) >= 1

    # The budget's controller recounts on each pod's Ready change: the same deadline as the pods' own.
    wait_for(one_each, deadline, what="one Ready consumer per worker, the budget allowing one eviction")


class DrainNode:
    """The two drains of the module docstring."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.cordoned: set[str] = set()

    def prepare(self, env: Env, fault: Fault) -> Target:
        return target(env)

    def inject(self, env: Env, fault: Fault, old: Target):
        grace = env.settings.grace["consumer"]
        injected = time.time()
        self.cordoned.add(old.node)
        proc, out = start_drain(env.lab.kube, old.node, grace + RESTART_SLACK_SECONDS)
        self.procs.append(proc)
        return old, injected, proc, out

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        old, injected, proc, out = state
        grace, lab = env.settings.grace["consumer"], env.lab
        code = proc.wait(timeout=grace + 2 * RESTART_SLACK_SECONDS)
        drained = time.time()
        checks = [] if code == 0 else [f"drain of {old.node} exited {code}: {out.read_text()[-300:]}"]
        new = replacement(env, old, old.ready_bound)
        stop = stopped_event(env, old.name)
        if stop.get("exit_code") != 0 or float(stop.get("drain_seconds") or 0) >= grace:
            checks.append(f"{old.name} did not stop cleanly within its grace {grace:g} s: {stop}")
        # The drain returns once the pod is deleted: its kubelet's Killing event is when the eviction reached it.
        evicted = event_time(lab.kube.json("get", "events")["items"], "Killing", injected, old.name)
        checks += first_attempt(out.read_text(), old.node)
        ready = ready_since(new)
        to_ready = None if ready is None or evicted is None else ready - evicted
        checks += outside("replacement Ready after the eviction", to_ready, (0, old.ready_bound))
        notes = [f"drain of {old.node} done in {drained - injected:.1f} s; {old.name} drained in "
                 f"{stop.get('drain_seconds')} s, replacement Ready on {new['spec']['nodeName']}"]  # fmt: skip
        blocked_checks, blocked_notes = self.blocked_drain(env, old, new)
        recovery = drain_recovery(fault.record_name("consumer"), injected, evicted, new)
        return {"consumer": Reaction(recovery, new["metadata"]["name"], checks + blocked_checks, notes + blocked_notes)}

    def blocked_drain(self, env: Env, first: Target, new: dict) -> tuple[list[str], list[str]]:
        """Step 2: the drain that would break the budget waits, and completes once capacity returns."""
        lab, grace = env.lab, env.settings.grace["consumer"]
        other = str(new["spec"]["nodeName"])
        cluster = Kube(lab.kube.manager)
        # The drain must outlast the hold and the return of capacity: its own timeout is the sum of those bounds.
        budget = 2 * DRAIN_RETRY_SECONDS + first.ready_bound + DRAIN_RETRY_SECONDS + grace + 2 * RESTART_SLACK_SECONDS
        started = time.time()
        self.cordoned.add(other)
        proc, out = start_drain(lab.kube, other, budget)
        self.procs.append(proc)
        wait_for(lambda: REFUSED in out.read_text(), 2 * DRAIN_RETRY_SECONDS + RESTART_SLACK_SECONDS,
                 what=f"the drain of {other} refused by the disruption budget")  # fmt: skip
        refused_at = time.time()

        def waiting() -> bool:
            budget_status = lab.kube.json("get", "pdb", "consumer")["status"]
            left = consumers_by_node(lab).get(other, [])
            return proc.poll() is None and budget_status.get("disruptionsAllowed") == 0 and len(left) == 1

        held = holds(waiting, 2 * DRAIN_RETRY_SECONDS)
        refusals = out.read_text().count(REFUSED)
        checks = [] if held else [f"the drain of {other} did not wait with disruptionsAllowed 0 and one consumer left"]
        if refusals < 2:
            checks.append(f"the drain of {other} was refused {refusals} times, not at each retry")
        capacity = time.time()
        cluster("uncordon", first.node)
        self.cordoned.discard(first.node)
        code = proc.wait(timeout=first.ready_bound + DRAIN_RETRY_SECONDS + grace + 2 * RESTART_SLACK_SECONDS)
        done = time.time()
        if code != 0:
            checks.append(f"the drain of {other} exited {code} after capacity returned: {out.read_text()[-300:]}")
        return checks, [
            f"drain of {other} with {first.node} cordoned: refused from {refused_at - started:.0f} s, still waiting "
            f"after {capacity - refused_at:.0f} s ({refusals} refusals), done {done - capacity:.0f} s after "
            f"{first.node} was uncordoned"
        ]

    def undo(self, env: Env, fault: Fault) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
        self.procs.clear()
        for node in sorted(self.cordoned):
            Kube(env.lab.kube.manager)("uncordon", node)
        self.cordoned.clear()
