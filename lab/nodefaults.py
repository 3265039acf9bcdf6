"""What the node faults' bounds are made of, read from the live cluster, and the reads they repeat.

Why: a node fault is decided by the control plane, not by a probe. The node lifecycle controller marks a node whose
kubelet stopped heartbeating NotReady once ``--node-monitor-grace-period`` has passed since the last heartbeat it saw
(it looks every ``--node-monitor-period``), taints it ``node.kubernetes.io/unreachable:NoExecute`` in the same pass,
and the taint eviction controller deletes each pod ``tolerationSeconds`` later (deploy/nodes sets 10 s for the
consumer). The kubelet heartbeats by renewing its Lease every ``nodeLeaseDurationSeconds`` × 0.25. `NodeSettings`
reads each of these from the live objects (the controller-manager's static pod flags, the kubelet's configz, the
consumer's pod spec) and states the windows the faults are held to; nothing here is guessed from the YAML.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass

from lab.deploy import Lab
from lab.eks import render
from lab.fault import Env
from lab.kube import Kube, container_status, wait_for
from lab.multinode import KindNodes
from lab.nodes import NODE_TAINTS, OVERLAY_DIR, eviction_delay
from lab.timeline import ready_since
from lab.times import parse_time
from lab.verdict import DETECTION_TOLERANCE_SECONDS

# Kubernetes 1.34's defaults when the controller-manager's command line sets no value (cmd/kube-controller-manager:
# --node-monitor-grace-period 50s since 1.32, --node-monitor-period 5s) and the kubelet's (nodeLeaseDurationSeconds).
DEFAULT_GRACE_PERIOD = 50.0
DEFAULT_MONITOR_PERIOD = 5.0
DEFAULT_LEASE_SECONDS = 40.0
LEASE_RENEW_FRACTION = 0.25  # pkg/kubelet: the lease is renewed every quarter of its duration
UNREACHABLE = NODE_TAINTS[1]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


@dataclass(frozen=True)
class NodesLab(Lab):
    """The lab deployed from deploy/nodes on a multi-node cluster, with the actions its node faults take."""

    nodes: KindNodes = KindNodes()

    def apply(self) -> str:
        """The overlay rendered by the lab's kubectl (`lab.nodes`), applied into the namespace."""

        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="lab-nodes-") as rendered:
            rendered.write(render(OVERLAY_DIR))
            rendered.flush()
            return self.kube("apply", "-f", rendered.name, timeout=120)


def go_duration(text: str) -> float:
    """A Go duration flag value (``50s``, ``1m0s``, ``500ms``) in seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def flag(command: list[str], name: str) -> str | None:
    """The value of ``--name=value`` (or ``--name value``) in a static pod's command line."""
    for i, arg in enumerate(command):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
        if arg == f"--{name}" and i + 1 < len(command):
            return command[i + 1]
    return None


@dataclass(frozen=True)
class NodeSettings:
    """The live numbers of node failure handling, in seconds."""

    grace: float  # kube-controller-manager --node-monitor-grace-period
    monitor_period: float  # kube-controller-manager --node-monitor-period
    heartbeat: float  # the kubelet's lease renewal interval
    toleration: float  # the consumer's tolerationSeconds for the unreachable taint

    @classmethod
    def read(cls, lab: Lab, worker: str) -> NodeSettings:
        cluster = Kube(lab.kube.manager)
        pods = cluster.json("get", "pods", "-n", "kube-system", "-l", "component=kube-controller-manager")["items"]
        command = [
            *pods[0]["spec"]["containers"][0].get("command", []),
            *pods[0]["spec"]["containers"][0].get("args", []),
        ]
        grace, period = flag(command, "node-monitor-grace-period"), flag(command, "node-monitor-period")
        configz = json.loads(cluster("get", "--raw", f"/api/v1/nodes/{worker}/proxy/configz"))["kubeletconfig"]
        lease = float(configz.get("nodeLeaseDurationSeconds", DEFAULT_LEASE_SECONDS))
        toleration = eviction_delay(lab.kube.deployment("consumer")["spec"]["template"]["spec"], UNREACHABLE)
        if toleration is None:
            raise AssertionError("the consumer sets no unreachable toleration: deploy/nodes was not applied")
        return cls(
            grace=DEFAULT_GRACE_PERIOD if grace is None else go_duration(grace),
            monitor_period=DEFAULT_MONITOR_PERIOD if period is None else go_duration(period),
            heartbeat=lease * LEASE_RENEW_FRACTION,
            toleration=toleration,
        )

    def notready_window(self, stop_took: float) -> tuple[float, float]:
        """Seconds from the fault to NotReady: at the earliest the grace period after a heartbeat just before it, at
        the latest after the stop (``stop_took``), one period to see the last heartbeat, the grace, one more period."""
        return self.grace - self.heartbeat, stop_took + self.grace + 2 * self.monitor_period

    def eviction_window(self) -> tuple[float, float]:
        """Seconds from NotReady to the pod's eviction: the taint is set in the same pass, the pod deleted
        tolerationSeconds after it; ± the API's whole-second stamps (the verdict's tolerance covers both)."""
        return self.toleration, self.toleration

    def eviction_bounds(self, stop_took: float) -> tuple[float, float]:
        """Earliest and latest eviction, seconds after the fault: the two windows above added (`Bound.NODE`). The
        eviction is the node fault's restart decision, so these are the ``Recovery.earliest``/``bound`` the verdict
        holds ``detection`` to, with its one tolerance for the sum (each window keeps its own check too)."""
        (notready_low, notready_high), (evict_low, evict_high) = self.notready_window(stop_took), self.eviction_window()
        return notready_low + evict_low, notready_high + evict_high

    def summary(self) -> str:
        return (
            f"node-monitor-grace-period {self.grace:g} s, node-monitor-period {self.monitor_period:g} s, "
            f"lease renewal {self.heartbeat:g} s, tolerationSeconds {self.toleration:g} s"
        )


def outside(name: str, measured: float | None, window: tuple[float, float]) -> list[str]:
    """A problem when ``measured`` is missing or outside ``window`` ± `DETECTION_TOLERANCE_SECONDS`."""
    low, high = window
    if measured is None:
        return [f"{name}: not observed"]
    if measured < low - DETECTION_TOLERANCE_SECONDS or measured > high + DETECTION_TOLERANCE_SECONDS:
        return [f"{name}: {measured:.1f} s, outside [{low:g}, {high:g}] s ± {DETECTION_TOLERANCE_SECONDS:g} s"]
    return []


def node_ready(kube: Kube, node: str) -> tuple[bool, float | None]:
    """Whether the node's Ready condition is True, and since when (the controller's transition time)."""
    obj = Kube(kube.manager).json("get", "node", node)
    for cond in obj["status"].get("conditions", []):
        if cond["type"] == "Ready":
            return cond["status"] == "True", parse_time(cond.get("lastTransitionTime"))
    return False, None


def evicted_at(pod: dict) -> float | None:
    """When the pod was deleted: its deletionTimestamp is that moment plus the grace period it was given."""
    meta = pod["metadata"]
    when = parse_time(meta.get("deletionTimestamp"))
    return None if when is None else when - float(meta.get("deletionGracePeriodSeconds") or 0)


def consumers_by_node(lab: Lab) -> dict[str, list[dict]]:
    """The consumer pods not being deleted, by the node they run on."""
    found: dict[str, list[dict]] = {}
    for pod in lab.kube.pods("consumer"):
        found.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
    return found


def workers(kube: Kube) -> list[str]:
    items = Kube(kube.manager).json("get", "nodes", "-l", "!node-role.kubernetes.io/control-plane")["items"]
    return sorted(n["metadata"]["name"] for n in items)


@dataclass
class Target:
    """The worker to cut off, the consumer on it, the other consumers, and the live settings."""

    node: str
    pod: dict
    others: list[str]
    settings: NodeSettings
    ready_bound: float  # readiness bound of a replacement (its probe's initial delay + ready deadline)

    @property
    def name(self) -> str:
        return str(self.pod["metadata"]["name"])

    def log_folder(self, lab: NodesLab) -> str:
        return lab.nodes.log_folder(lab.namespace, self.name, self.pod["metadata"]["uid"], "consumer")

    @property
    def generation(self) -> int:
        """The consumer container's restart count: its current log file on the node is ``<generation>.log``."""
        return int(container_status(self.pod, "consumer").get("restartCount", 0))


def target(env: Env) -> Target:
    """The first worker and its consumer; one consumer per worker is the precondition (`lab.nodedrain.spread`)."""
    by_node = consumers_by_node(env.lab)
    nodes = workers(env.lab.kube)
    assert all(len(by_node.get(n, [])) == 1 for n in nodes), f"not one consumer per worker: {by_node.keys()}"
    readiness = env.lab.probe("consumer", "readinessProbe")
    pod = by_node[nodes[0]][0]
    others = [p["metadata"]["name"] for n, pods in by_node.items() for p in pods if p is not pod]
    ready_bound = readiness.initial_delay + readiness.ready_deadline()
    return Target(nodes[0], pod, others, NodeSettings.read(env.lab, nodes[0]), ready_bound)


def nodes_of(env: Env) -> NodesLab:
    assert isinstance(env.lab, NodesLab), "node faults run on the lab deployed from deploy/nodes (NodesLab)"
    return env.lab


def replacement(env: Env, old: Target, deadline: float) -> dict:
    """The new consumer, Ready on another node than the cut-off one."""

    def ready_new() -> dict | None:
        pods = [p for p in env.lab.kube.pods("consumer") if p["metadata"]["name"] not in (old.name, *old.others)]
        return next((p for p in pods if ready_since(p) is not None and p["spec"]["nodeName"] != old.node), None)

    return wait_for(ready_new, deadline, what=f"a Ready replacement of {old.name} on another node")
