"""Injectors (`lab.fault.Injector`) of the two node failures: a node lost, and a node whose kubelet stopped.

Both cut a worker running one of the two consumers off from the control plane and hold Kubernetes to the bounds of
`lab.nodefaults.NodeSettings`: NotReady within the node-monitor grace period of the last heartbeat, the consumer
evicted tolerationSeconds later, its replacement Ready on the other worker within the readiness bound; the eviction
is the restart decision they report against `lab.fault.Bound.NODE` (`eviction_recovery`). They differ in
what still runs on the cut-off node. A killed node container takes its pods along. A stopped kubelet leaves them
running: Kubernetes marks the pod Terminating but nobody is there to stop it, so the old consumer keeps taking
messages until the kubelet returns and kills it; the ledger must still show nothing lost (duplicates counted).
The old pod's log is read from the node's files (`lab.nodelogs`): no ``kubectl logs`` reaches a cut-off kubelet.
"""

from __future__ import annotations

import time

from lab.catalogue import burst
from lab.fault import Env, Fault, Reaction
from lab.kube import wait_for
from lab.ledger import parse_events
from lab.nodefaults import (
    NodeSettings,
    NodesLab,
    Target,
    evicted_at,
    node_ready,
    nodes_of,
    outside,
    replacement,
    target,
)
from lab.nodelogs import cri_lines, rescue
from lab.probes import RESTART_SLACK_SECONDS
from lab.providers import READY_TIMEOUT
from lab.timeline import Recovery, ready_since, started_at

CUT_BURST = 40  # messages published while the kubelet is away: several receives' worth for three consumers


def eviction_recovery(
    name: str, settings: NodeSettings, injected: float, took: float, evicted: float | None, new: dict
) -> Recovery:
    """The node fault's timeline up to the replacement's Ready, held to `lab.fault.Bound.NODE`: the eviction is the
    restart decision (``killed``), its bound the live windows' sum (`NodeSettings.eviction_bounds`)."""
    earliest, bound = settings.eviction_bounds(took)
    return Recovery(
        name, injected=injected, killed=evicted, restarted=started_at(new, "consumer"), ready=ready_since(new),
        bound=bound, earliest=earliest,
    )  # fmt: skip


def node_events(files: dict[int, str]) -> list[dict]:
    """The app's events in a container's CRI log files (`lab.multinode.KindNodes.pod_logs`)."""
    return [e for _, text in sorted(files.items()) for e in parse_events("\n".join(cri_lines(text)))]


def stopped(events: list[dict]) -> dict | None:
    """The app's last ``stopped`` line (exit code, drain seconds), if it logged one."""
    return next((e for e in reversed(events) if e.get("event") == "stopped"), None)


class CutOffNode:
    """The shared sequence; subclasses say how the node is cut off, what runs meanwhile, and how it comes back."""

    verb = "cut off"

    def __init__(self) -> None:
        self.cut_nodes: set[str] = set()

    def cut(self, lab: NodesLab, node: str) -> None:
        raise NotImplementedError

    def while_cut(self, env: Env, old: Target, evicted: float) -> tuple[list[str], list[str]]:
        """Checks and notes while the node is cut off, after the replacement is Ready."""
        return [], []

    def restore(self, env: Env, old: Target) -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def prepare(self, env: Env, fault: Fault) -> Target:
        return target(env)

    def inject(self, env: Env, fault: Fault, old: Target) -> tuple[Target, float, float]:
        injected = time.time()
        self.cut_nodes.add(old.node)
        self.cut(nodes_of(env), old.node)
        return old, injected, time.time() - injected

    def await_reaction(self, env: Env, fault: Fault, state: tuple[Target, float, float]) -> dict[str, Reaction]:
        old, injected, took = state
        lab, settings = env.lab, old.settings
        low, high = settings.notready_window(took)

        def not_ready() -> float | None:
            ready, since = node_ready(lab.kube, old.node)
            return None if ready else since

        notready = wait_for(not_ready, high + RESTART_SLACK_SECONDS, what=f"node {old.node} NotReady")
        evicted = wait_for(
            lambda: evicted_at(lab.kube.json("get", "pod", old.name)),
            settings.toleration + RESTART_SLACK_SECONDS,
            what=f"{old.name} evicted",
        )
        new = replacement(env, old, old.ready_bound)
        ready = ready_since(new)
        checks = outside("NotReady after the fault", notready - injected, (low, high))
        checks += outside("eviction after NotReady", evicted - notready, settings.eviction_window())
        checks += outside("replacement Ready after the eviction", None if ready is None else ready - evicted,
                          (0, old.ready_bound))  # fmt: skip
        notes = [
            settings.summary(),
            f"{old.node} {self.verb} in {took:.1f} s; NotReady after {notready - injected:.0f} s "
            f"(window {low:g}–{high:g} s), {old.name} evicted {evicted - notready:.0f} s later, replacement "
            f"{new['metadata']['name']} Ready on {new['spec']['nodeName']} {(ready or evicted) - evicted:.0f} s later",
        ]
        more_checks, more_notes = self.while_cut(env, old, evicted)
        back_checks, back_notes = self.restore(env, old)
        recovery = eviction_recovery(fault.record_name("consumer"), settings, injected, took, evicted, new)
        checks += more_checks + back_checks
        return {"consumer": Reaction(recovery, new["metadata"]["name"], checks, notes + more_notes + back_notes)}

    def gone(self, env: Env, old: Target, deadline: float) -> float:
        """Wait until the old pod object is deleted (its node's kubelet finished it); return when."""
        wait_for(lambda: f"pod/{old.name}" not in env.lab.kube("get", "pods", "-o", "name").split(),
                 deadline, what=f"{old.name} deleted once its node is back")  # fmt: skip
        return time.time()

    def node_back(self, env: Env, old: Target) -> float:
        """Wait (the lab's bound for a node to come up) until the node is Ready again; return when."""
        wait_for(lambda: node_ready(env.lab.kube, old.node)[0], READY_TIMEOUT, what=f"node {old.node} Ready again")
        return time.time()


class LoseNode(CutOffNode):
    """The worker's kind container killed; its pods die with it. Started again after the replacement is Ready."""

    verb = "killed"

    def cut(self, lab: NodesLab, node: str) -> None:
        lab.nodes.lose_node(node)

    def restore(self, env: Env, old: Target) -> tuple[list[str], list[str]]:
        lab = nodes_of(env)
        # While the node is down: once its kubelet runs again it may garbage-collect the evicted pod's log.
        rescued = rescue(env.logs, old.name, lab.nodes.pod_logs(old.node, old.log_folder(lab)))
        started = time.time()
        lab.nodes.start_node(old.node)
        ready = self.node_back(env, old)
        deleted = self.gone(env, old, READY_TIMEOUT + env.settings.grace["consumer"])
        self.cut_nodes.discard(old.node)
        return [], [f"{rescued} log lines of {old.name} read from the node; node Ready {ready - started:.0f} s after "
                    f"its start, old pod deleted {deleted - started:.0f} s after it"]  # fmt: skip

    def undo(self, env: Env, fault: Fault) -> None:
        for node in sorted(self.cut_nodes):
            nodes_of(env).nodes.start_node(node)
        self.cut_nodes.clear()


class StopKubelet(CutOffNode):
    """``systemctl stop kubelet`` on the worker: containers keep running; started again after the replacement."""

    verb = "lost its kubelet"

    def cut(self, lab: NodesLab, node: str) -> None:
        lab.nodes.stop_kubelet(node)

    def consumed_after(self, env: Env, old: Target, since: float) -> list[dict]:
        lab = nodes_of(env)
        files = lab.nodes.pod_logs(old.node, old.log_folder(lab))
        return [e for e in node_events(files) if e.get("event") == "consumed" and (e.get("_t") or 0) >= since]

    def while_cut(self, env: Env, old: Target, evicted: float) -> tuple[list[str], list[str]]:
        lab = nodes_of(env)
        running = lab.nodes.running_containers(old.node, old.name)
        checks = [] if "consumer" in running else [f"{old.name}'s container is not running after its eviction"]
        burst(env.aws, CUT_BURST, "cut-off", env.logs)
        try:
            taken = wait_for(lambda: self.consumed_after(env, old, evicted), env.settings.redelivery(),
                             what=f"{old.name} consuming after its eviction")  # fmt: skip
        except AssertionError as exc:
            checks.append(str(exc))
            taken = []
        notes = [f"{old.name} Terminating, its container running on {old.node} ({running}); it handled "
                 f"{len(taken)} messages after its eviction"]  # fmt: skip
        return checks, notes

    def restore(self, env: Env, old: Target) -> tuple[list[str], list[str]]:
        lab, grace = nodes_of(env), env.settings.grace["consumer"]
        back = READY_TIMEOUT + grace  # the kubelet up (the lab's bound for a node), then the pod's grace period
        folder, checks = old.log_folder(lab), []
        files = lab.nodes.pod_logs(old.node, folder)  # every generation so far: nothing collects them yet
        # The current generation is followed through the kill: the kubelet removes a dead container's log with it.
        with lab.nodes.tail(old.node, f"{folder}/{old.generation}.log", back + RESTART_SLACK_SECONDS) as copy:
            started = time.time()
            lab.nodes.start_kubelet(old.node)
            wait_for(lambda: not lab.nodes.running_containers(old.node, old.name), back,
                     what=f"{old.name}'s container stopped once the kubelet is back")  # fmt: skip
            killed = time.time()
            try:
                stop = wait_for(lambda: stopped(node_events({0: copy.read_text()})), RESTART_SLACK_SECONDS,
                                what=f"{old.name}'s 'stopped' line in its node log")  # fmt: skip
            except AssertionError as exc:
                stop, checks = {}, [str(exc)]
            files[old.generation] = copy.read_text()
        rescued = rescue(env.logs, old.name, files)
        self.cut_nodes.discard(old.node)
        if stop and (stop.get("exit_code") != 0 or float(stop.get("drain_seconds") or 0) >= grace):
            checks.append(f"{old.name} did not stop cleanly within its grace {grace:g} s: {stop}")
        deleted = self.gone(env, old, back)
        ready = self.node_back(env, old)
        return checks, [f"kubelet back: old container stopped {killed - started:.0f} s later (drained in "
                        f"{stop.get('drain_seconds')} s), pod deleted {deleted - started:.0f} s, node Ready "
                        f"{ready - started:.0f} s later; {rescued} log lines read from the node"]  # fmt: skip

    def undo(self, env: Env, fault: Fault) -> None:
        for node in sorted(self.cut_nodes):
            nodes_of(env).nodes.start_kubelet(node)
        self.cut_nodes.clear()
