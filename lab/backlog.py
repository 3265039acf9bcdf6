"""A backlog on the lab's queue and what the cluster spent draining it: the plumbing of the scale-out benchmark.

Why the queue is filled with SendMessageBatch and not by the producer: the producer publishes one message per
interval, so a 10,000-message backlog would take hours and would keep growing during the drain. Filled directly while
the consumers are scaled to 0, the drain starts from a known N. The bodies are `shared.contract.message` (the
producer's own shape, one owner), so the consumer handles them like produced ones and `lab.ledger` checks every id.

Why CPU is read from cgroups: the kind node has no metrics-server, and ``kubectl top`` would need one. A container's
cgroup counts its CPU time and how often its CPU limit throttled it, which tells "at its limit" from "idle".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.kube import Kube
from lab.ledger import Ledger
from shared import contract

SEND_BATCH = 10  # entries per SendMessageBatch: the SQS maximum
# cgroup v2 has one cpu.stat with usage; cgroup v1 (this lab's VM) splits it over the cpu and cpuacct controllers.
CGROUP_CPU = (
    "cat /sys/fs/cgroup/cpu.stat 2>/dev/null || "
    '{ cat /sys/fs/cgroup/cpu/cpu.stat; echo "usage_ns $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage)"; }'
)


def backlog_events(count: int, producer: str, clock: Callable[[], float] = time.time) -> list[dict[str, Any]]:
    """``count`` messages as the ledger's ``published`` events (id, seq from 1, producer, ``_t`` = the body's ts)."""
    now = clock()
    return [
        {"event": "published", "id": f"{producer}-{seq:05d}", "seq": seq, "producer": producer, "_t": now}
        for seq in range(1, count + 1)
    ]


def body(event: dict[str, Any]) -> str:
    return json.dumps(contract.message(event["id"], event["seq"], event["_t"], event["producer"]))


def fill(sqs: Any, queue_url: str, events: list[dict[str, Any]], workers: int = 4) -> None:
    """Send every event's body in batches of 10, ``workers`` batches at a time; any entry SQS refused is an error."""
    batches = [events[i : i + SEND_BATCH] for i in range(0, len(events), SEND_BATCH)]

    def send(batch: list[dict[str, Any]]) -> list[dict]:
        entries = [{"Id": str(i), "MessageBody": body(e)} for i, e in enumerate(batch)]
        return list(sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", []))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        failed = [f for result in pool.map(send, batches) for f in result]
    if failed:
        raise RuntimeError(f"SendMessageBatch refused {len(failed)} entries, first: {failed[0]}")


@dataclass(frozen=True)
class CpuStat:
    """A cgroup's CPU counters: CPU seconds used, CFS periods and how many of them the limit throttled."""

    usage: float
    periods: int = 0
    throttled_periods: int = 0
    throttled: float = 0.0

    def minus(self, earlier: CpuStat) -> CpuStat:
        return CpuStat(
            self.usage - earlier.usage,
            self.periods - earlier.periods,
            self.throttled_periods - earlier.throttled_periods,
            self.throttled - earlier.throttled,
        )

    @property
    def throttled_share(self) -> float | None:
        """Share of CFS periods in which the container hit its CPU limit (None: no limit or no periods)."""
        return round(self.throttled_periods / self.periods, 3) if self.periods else None


def parse_cpu_stat(text: str) -> CpuStat:
    """`CGROUP_CPU`'s output, cgroup v2 (``usage_usec``, ``throttled_usec``) or v1 (``throttled_time``, ns)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    if "usage_usec" in values:
        usage, throttled = values["usage_usec"] / 1e6, values.get("throttled_usec", 0) / 1e6
    elif "usage_ns" in values:
        usage, throttled = values["usage_ns"] / 1e9, values.get("throttled_time", 0) / 1e9
    else:
        raise ValueError(f"no CPU usage in cgroup output: {text[:200]!r}")
    return CpuStat(usage, values.get("nr_periods", 0), values.get("nr_throttled", 0), throttled)


def container_cpu(kube: Kube, pod: str, container: str) -> CpuStat:
    """The container's own cgroup, read from inside it (its cgroup namespace makes that the root)."""
    return parse_cpu_stat(kube.exec(pod, container, "sh", "-c", CGROUP_CPU))


def host_cpu(text: str | None = None) -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine from ``/proc/stat``: the kind node is a container on it."""
    line = (text if text is not None else Path("/proc/stat").read_text()).splitlines()[0]
    fields = [int(v) for v in line.split()[1:9]]  # user nice system idle iowait irq softirq steal
    total = sum(fields)
    busy = total - fields[3] - fields[4]
    tick = 100.0  # USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture the lab runs on
    return busy / tick, total / tick


def millicores(quantity: str | int | float | None) -> int:
    """A Kubernetes CPU quantity ("2", "1500m", "0.5") in millicores; None or "" is 0."""
    if quantity in (None, ""):
        return 0
    text = str(quantity)
    return int(text[:-1]) if text.endswith("m") else round(float(text) * 1000)


def cpu_limit(pod_spec: dict[str, Any], container: str) -> int:
    """The container's CPU limit in millicores (0: none)."""
    for item in pod_spec.get("containers", []):
        if item["name"] == container:
            return millicores((item.get("resources") or {}).get("limits", {}).get("cpu"))
    raise LookupError(f"no container {container!r}")


def node_fit(nodes: dict[str, Any], pods: dict[str, Any]) -> list[dict[str, Any]]:
    """Per node: allocatable CPU and the CPU requests of its running/pending pods (what the scheduler compares)."""
    requested: dict[str, int] = {}
    for pod in pods.get("items", []):
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        node = pod.get("spec", {}).get("nodeName") or "(unscheduled)"
        requests = [(c.get("resources") or {}).get("requests", {}).get("cpu") for c in pod["spec"]["containers"]]
        requested[node] = requested.get(node, 0) + sum(millicores(r) for r in requests)
    return [
        {
            "node": n["metadata"]["name"],
            "allocatable_m": millicores(n["status"]["allocatable"]["cpu"]),
            "requested_m": requested.get(n["metadata"]["name"], 0),
        }
        for n in nodes.get("items", [])
    ]


def ledger_of(published: Iterable[dict[str, Any]], logs: dict[str, str]) -> Ledger:
    """The backlog's ids as published, and every consumer pod's log (pod name → ``kubectl logs`` text)."""
    ledger = Ledger().add_events(published)
    for pod, text in logs.items():
        ledger.add_log(text, source=pod)
    return ledger
