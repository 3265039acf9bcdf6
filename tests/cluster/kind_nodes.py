"""What test_kind.py checks on a kind cluster's nodes, as plain functions: the memory of the node containers, pods
pinned to a node, and the cross-node assertions (which the bad-case tests also run with their premise broken).

Why memory from the cgroup files and not `docker stats`: exact bytes instead of a rounded "574.2MiB" string, with
the definition the docker CLI uses on cgroup v1 (usage_in_bytes minus total_inactive_file, the page cache the kernel
drops first), so the figures compare with the 1-node figure the README took from `docker stats`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cluster.test_workloads import fetch, service, workload

CGROUP_V1_DOCKER = Path("/sys/fs/cgroup/memory/docker")  # Docker's cgroupfs driver on a cgroup v1 host (this one)


def words(*cmd: str) -> list[str]:
    """stdout of ``cmd``, split on whitespace; a failing command raises with its exit code."""
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout.split()


def container_memory_mib(container_id: str, root: Path = CGROUP_V1_DOCKER) -> float:
    """One container's memory as `docker stats` counts it on cgroup v1, in MiB."""
    group = root / container_id
    assert group.is_dir(), f"no cgroup v1 memory group {group} (cgroupfs driver on cgroup v1 expected)"
    stat = dict(line.split() for line in (group / "memory.stat").read_text().splitlines())
    return (int((group / "memory.usage_in_bytes").read_text()) - int(stat["total_inactive_file"])) / 2**20


def node_memory_mib(cluster: str) -> dict[str, float]:
    """Each running node container of kind cluster ``cluster``: its memory in MiB, by node name."""
    listed = words("docker", "ps", "--no-trunc", "--filter", f"label=io.x-k8s.kind.cluster={cluster}", "--format",
                   "{{.ID}} {{.Names}}")  # fmt: skip
    return {name: container_memory_mib(cid) for cid, name in zip(listed[::2], listed[1::2], strict=True)}


def run_pinned(kube, name: str, image: str, node: str) -> dict:
    """The tier's web workload (Deployment, one replica, + Service) ``name`` on ``node``, rolled out: its pod."""
    deployment = workload(name, image)
    deployment["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node}
    kube.apply(deployment)
    kube.apply(service(name))
    kube("rollout", "status", f"deployment/{name}", "--timeout=120s", timeout=130)
    return kube.json("get", "pods", "-l", f"app={name}")["items"][0]


def on_different_nodes(a: dict, b: dict) -> None:
    assert a["spec"]["nodeName"] != b["spec"]["nodeName"], f"both pods are on {a['spec']['nodeName']}"


def answers(kube, source: dict, url: str, dest: dict) -> None:
    """From ``source``'s container, ``url`` is answered by ``dest`` (the test server replies with hostname and path)."""
    path = "/" + url.split("/", 3)[3]
    assert fetch(kube, source["metadata"]["name"], url) == f"{dest['metadata']['name']} {path}\n"


def by_ip(pod: dict) -> str:
    return f"http://{pod['status']['podIP']}:8080/direct"


def by_dns(service_name: str, ns: str) -> str:
    return f"http://{service_name}.{ns}.svc.cluster.local/svc"
