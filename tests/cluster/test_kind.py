"""kind itself on the lab's offline node image: a 3-node cluster (1 control plane, 2 workers) comes up Ready on the
pinned version within READY_TIMEOUT and under MEMORY_CEILING_MIB at rest, pods on different nodes reach each other
directly and through a Service by DNS name, `kind load docker-image` puts an image on every node, and `kind delete
cluster` leaves no node container behind.

Each cross-node check also runs once with its premise broken on purpose, on the same cluster (two pods on one node,
the route to the other node's pod made unreachable, the Service selecting no pod), and must fail then: a check never
seen failing proves nothing. The figures (create time, memory at rest) are printed; hack/offline-cluster/README.md
states the bounds asserted here, and test_docs_state_the_bounds_this_module_asserts keeps the two equal.

The single-node checks (node Ready and version, DNS, Services, a loaded image, a liveness restart) are the tier's
other modules, run against a kind cluster with ``--k8s-provider=kind``. The cluster here is created through
pytest-kubernetes' kind provider with a kind config file (the node image named per node, as kind documents it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.offline import tool_env
from lab.providers import LabKindManager, _create, pinned
from tests.cluster.kind_nodes import answers, by_dns, by_ip, node_memory_mib, on_different_nodes, run_pinned, words

kind = pytest.mark.kind  # per test, not the module: the docs check runs whichever cluster the tier tests

NAME = "lab-three-nodes"
WORKERS = 2
READY_TIMEOUT = 180  # kubelets join after `kind create` returns; the pod network then marks them Ready
# The three node containers at rest, as `docker stats` counts memory: 824 MiB measured 2026-12-03 on the 2-core VM
# (control plane 527, each worker ~150: its kubelet, containerd, kube-proxy and podnet). Ceiling: 1.5 x that, rounded
# up to 128 MiB: room for caches growing and a busier machine, while a control plane twice its size fails it.
MEMORY_CEILING_MIB = 1280
README = Path(__file__).resolve().parents[2] / "hack" / "offline-cluster" / "README.md"


@pytest.fixture(scope="module")
def clock() -> dict[str, float]:
    """Seconds since `kind create` started: ``created`` (it returned), ``ready`` (all nodes Ready)."""
    return {}


@pytest.fixture(scope="module")
def three_nodes(tmp_path_factory, built_test_image, clock) -> Iterator[LabKindManager]:
    """The 3-node cluster, created for this module through pytest-kubernetes and deleted by the last test."""
    image = tool_env("kind")["LAB_KIND_NODE_IMAGE"]
    nodes = [{"role": "control-plane", "image": image}] + [{"role": "worker", "image": image}] * WORKERS
    config = tmp_path_factory.mktemp("kind") / "three-nodes.yaml"
    config.write_text(
        yaml.safe_dump({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "name": NAME, "nodes": nodes})
    )
    clock["start"] = time.monotonic()
    manager = _create(LabKindManager(None, str(config)), None, LabKindManager.create_options)
    clock["created"] = time.monotonic() - clock["start"]
    manager.load_image(built_test_image)
    yield manager
    manager.delete()  # idempotent for kind: the last test already deleted it


@pytest.fixture(scope="module")
def kube3(three_nodes, kube_for):
    return kube_for(three_nodes)


@pytest.fixture(scope="module")
def ready(kube3, clock) -> list[dict]:
    """All nodes Ready within READY_TIMEOUT of `kind create` returning (image load included): the nodes."""
    kube3("wait", "--for=condition=Ready", "nodes", "--all", f"--timeout={READY_TIMEOUT}s", timeout=READY_TIMEOUT + 10)
    clock["ready"] = time.monotonic() - clock["start"]
    return kube3.json("get", "nodes")["items"]


@pytest.fixture(scope="module")
def ns3(kube3) -> str:
    kube3("create", "namespace", "cross-node")
    return "cross-node"


@kind
def test_all_nodes_are_ready_on_the_pinned_version(ready, clock, capsys):
    with capsys.disabled():
        created, all_ready = clock["created"], clock["ready"]
        print(f"\nkind create ({1 + WORKERS} nodes): returned at {created:.0f} s, all Ready at {all_ready:.0f} s")
    assert clock["ready"] - clock["created"] <= READY_TIMEOUT  # the wait began later still: after the image load
    roles = sorted(
        "control-plane" if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"] else "worker"
        for n in ready
    )
    assert roles == ["control-plane"] + ["worker"] * WORKERS
    assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in ready} == {pinned("K8S_VERSION")}


@kind
def test_three_nodes_at_rest_stay_under_the_memory_ceiling(ready, kube3, capsys):
    """At rest: every node Ready and every kube-system pod Ready (CoreDNS, kube-proxy, podnet), no workload yet."""
    kube3("wait", "--for=condition=Ready", "pods", "--all", "-n", "kube-system", "--timeout=120s", timeout=130)
    used = node_memory_mib(NAME)
    with capsys.disabled():
        print(f"\nmemory at rest: {sum(used.values()):.0f} MiB ({', '.join(f'{n} {m:.0f}' for n, m in used.items())})")
    assert len(used) == 1 + WORKERS, used
    assert sum(used.values()) < MEMORY_CEILING_MIB, used


def test_docs_state_the_bounds_this_module_asserts():
    """The README's kind section gives the 3-node bounds as these constants: a changed bound changes both."""
    text = " ".join(README.read_text().split())  # table cells and wrapped lines alike
    ready = re.search(r"Ready ≤ \*\*(\d+) s\*\* after `kind create` returns \(`READY_TIMEOUT`", text)
    memory = re.search(r"memory at rest < \*\*(\d+) MiB\*\* \(`MEMORY_CEILING_MIB`", text)
    assert ready and memory, f"{README} no longer states the 3-node bounds of {Path(__file__).name}"
    assert (int(ready[1]), int(memory[1])) == (READY_TIMEOUT, MEMORY_CEILING_MIB)


@pytest.fixture(scope="module")
def kube_ns(three_nodes, kube_for, ns3):
    return kube_for(three_nodes, ns3)


@pytest.fixture(scope="module")
def two_pods(kube3, kube_ns, built_test_image) -> dict[str, dict]:
    """Deployments web-a and web-b on the two different workers, rolled out: their pods by name."""
    workers = [
        n["metadata"]["name"]
        for n in kube3.json("get", "nodes", "-l", "!node-role.kubernetes.io/control-plane")["items"]
    ]
    assert len(workers) == WORKERS, workers
    pairs = zip(("web-a", "web-b"), workers, strict=True)
    return {name: run_pinned(kube_ns, name, built_test_image, node) for name, node in pairs}


@kind
def test_pods_on_different_nodes_reach_each_other_by_pod_ip(kube_ns, two_pods):
    a, b = two_pods["web-a"], two_pods["web-b"]
    on_different_nodes(a, b)
    answers(kube_ns, a, by_ip(b), b)
    answers(kube_ns, b, by_ip(a), a)


@kind
def test_service_on_another_node_answers_by_dns_name(kube_ns, ns3, two_pods):
    on_different_nodes(two_pods["web-a"], two_pods["web-b"])
    answers(kube_ns, two_pods["web-a"], by_dns("web-b", ns3), two_pods["web-b"])


@kind
def test_bad_case_two_pods_on_one_node_fail_the_different_nodes_check(kube_ns, two_pods, built_test_image):
    """Pod IP traffic on one node proves nothing about routing between nodes: the node check must catch it."""
    a = two_pods["web-a"]
    c = run_pinned(kube_ns, "web-c", built_test_image, a["spec"]["nodeName"])
    answers(kube_ns, c, by_ip(a), a)
    with pytest.raises(AssertionError, match="both pods are on"):
        on_different_nodes(a, c)


@kind
def test_bad_case_an_unreachable_route_to_the_other_node_fails_the_pod_ip_check(kube_ns, two_pods):
    """A /32 `unreachable` route on web-a's node, for web-b's IP (more specific than podnet's route to the other
    node's pod CIDR, which podnet keeps replacing), drops that one path (the pod sees a timeout: the ICMP error did
    not reach it here, 2026-12-03); removed, the check passes again."""
    a, b = two_pods["web-a"], two_pods["web-b"]
    route = ["ip", "route", "add", "unreachable", f"{b['status']['podIP']}/32"]
    words("docker", "exec", a["spec"]["nodeName"], *route)
    try:
        with pytest.raises(AssertionError, match="timed out|No route to host"):
            answers(kube_ns, a, by_ip(b), b)
    finally:
        route[2] = "del"
        words("docker", "exec", a["spec"]["nodeName"], *route)
    answers(kube_ns, a, by_ip(b), b)


@kind
def test_bad_case_a_service_selecting_no_pod_fails_the_service_check(kube_ns, ns3, two_pods):
    """web-b's selector changed to match nothing leaves it no endpoint; restored, the check passes again."""
    a, b = two_pods["web-a"], two_pods["web-b"]
    kube_ns("patch", "service", "web-b", "-p", '{"spec": {"selector": {"app": "nowhere"}}}')
    try:
        with pytest.raises(AssertionError, match="Connection refused|timed out"):
            answers(kube_ns, a, by_dns("web-b", ns3), b)
    finally:
        kube_ns("patch", "service", "web-b", "-p", '{"spec": {"selector": {"app": "web-b"}}}')
    answers(kube_ns, a, by_dns("web-b", ns3), b)


@kind
def test_kind_load_put_the_image_on_every_node(three_nodes, built_test_image):
    names = words("kind", "get", "nodes", "--name", NAME)
    assert len(names) == 1 + WORKERS
    for node in names:
        listed = words("docker", "exec", node, "ctr", "--namespace=k8s.io", "images", "ls", "-q")
        assert f"docker.io/library/{built_test_image}" in listed, f"{built_test_image} is not on node {node}"


@kind
def test_kind_delete_cluster_leaves_no_node_behind(three_nodes):
    three_nodes.delete()
    assert NAME not in words("kind", "get", "clusters")
    left = words("docker", "ps", "-a", "-q", "--filter", f"label=io.x-k8s.kind.cluster={NAME}")
    assert left == [], f"node containers left after kind delete: {left}"
