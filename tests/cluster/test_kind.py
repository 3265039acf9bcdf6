"""kind itself on the lab's offline node image: a 3-node cluster (1 control plane, 2 workers) comes up Ready on the
pinned version, pods on different nodes reach each other directly and through a Service by DNS name, `kind load
docker-image` puts an image on every node, and `kind delete cluster` leaves no node container behind.

The single-node checks (node Ready and version, DNS, Services, a loaded image, a liveness restart) are the tier's
other modules, run against a kind cluster with ``--k8s-provider=kind``. The cluster here is created through
pytest-kubernetes' kind provider with a kind config file (the node image named per node, as kind documents it).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
import yaml

from lab.offline import tool_env
from lab.providers import LabKindManager, _create, pinned
from tests.cluster.test_workloads import fetch, service, workload

pytestmark = pytest.mark.kind

NAME = "lab-three-nodes"
WORKERS = 2
READY_TIMEOUT = 180  # kubelets join after `kind create` returns; the pod network then marks them Ready


@pytest.fixture(scope="module")
def three_nodes(tmp_path_factory, built_test_image) -> Iterator[LabKindManager]:
    """The 3-node cluster, created for this module through pytest-kubernetes and deleted by the last test."""
    image = tool_env("kind")["LAB_KIND_NODE_IMAGE"]
    nodes = [{"role": "control-plane", "image": image}] + [{"role": "worker", "image": image}] * WORKERS
    config = tmp_path_factory.mktemp("kind") / "three-nodes.yaml"
    config.write_text(
        yaml.safe_dump({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "name": NAME, "nodes": nodes})
    )
    started = time.monotonic()
    manager = _create(LabKindManager(None, str(config)), None, LabKindManager.create_options)
    print(f"kind create ({1 + WORKERS} nodes) returned after {time.monotonic() - started:.0f} s")
    manager.load_image(built_test_image)
    yield manager
    manager.delete()  # idempotent for kind: the last test already deleted it


@pytest.fixture(scope="module")
def kube3(three_nodes, kube_for):
    return kube_for(str(three_nodes.kubeconfig))


@pytest.fixture(scope="module")
def ns3(kube3) -> str:
    kube3("create", "namespace", "cross-node")
    return "cross-node"


def test_all_nodes_are_ready_on_the_pinned_version(kube3):
    kube3("wait", "--for=condition=Ready", "nodes", "--all", f"--timeout={READY_TIMEOUT}s", timeout=READY_TIMEOUT + 10)
    nodes = kube3.json("get", "nodes")["items"]
    roles = sorted(
        "control-plane" if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"] else "worker"
        for n in nodes
    )
    assert roles == ["control-plane"] + ["worker"] * WORKERS
    assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes} == {pinned("K8S_VERSION")}


def pinned_pod(name: str, image: str, node: str) -> dict:
    """The tier's web workload, one replica, pinned to ``node``."""
    deployment = workload(name, image)
    deployment["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node}
    return deployment


@pytest.fixture(scope="module")
def two_pods(kube3, kube_for, three_nodes, built_test_image, ns3) -> dict[str, dict]:
    """Deployments web-a and web-b on the two different workers, rolled out: their pods by name."""
    kube = kube_for(str(three_nodes.kubeconfig), ns3)
    workers = [
        n["metadata"]["name"]
        for n in kube3.json("get", "nodes", "-l", "!node-role.kubernetes.io/control-plane")["items"]
    ]
    assert len(workers) == WORKERS, workers
    pods = {}
    for name, node in zip(("web-a", "web-b"), workers, strict=True):
        kube.apply(pinned_pod(name, built_test_image, node))
        kube.apply(service(name))
        kube("rollout", "status", f"deployment/{name}", "--timeout=120s", timeout=130)
        pods[name] = kube.json("get", "pods", "-l", f"app={name}")["items"][0]
    return pods


def test_pods_on_different_nodes_reach_each_other_by_pod_ip(kube_for, three_nodes, ns3, two_pods):
    kube = kube_for(str(three_nodes.kubeconfig), ns3)
    a, b = two_pods["web-a"], two_pods["web-b"]
    assert a["spec"]["nodeName"] != b["spec"]["nodeName"]
    for source, dest in ((a, b), (b, a)):
        answer = fetch(kube, source["metadata"]["name"], f"http://{dest['status']['podIP']}:8080/direct")
        assert answer == f"{dest['metadata']['name']} /direct\n"


def test_service_on_another_node_answers_by_dns_name(kube_for, three_nodes, ns3, two_pods):
    kube = kube_for(str(three_nodes.kubeconfig), ns3)
    a, b = two_pods["web-a"], two_pods["web-b"]
    answer = fetch(kube, a["metadata"]["name"], f"http://web-b.{ns3}.svc.cluster.local/svc")
    assert answer == f"{b['metadata']['name']} /svc\n"


def test_kind_load_put_the_image_on_every_node(three_nodes, built_test_image):
    nodes = subprocess.run(["kind", "get", "nodes", "--name", NAME], capture_output=True, text=True, check=True)
    names = nodes.stdout.split()
    assert len(names) == 1 + WORKERS
    for node in names:
        listed = subprocess.run(
            ["docker", "exec", node, "ctr", "--namespace=k8s.io", "images", "ls", "-q"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert f"docker.io/library/{built_test_image}" in listed, f"{built_test_image} is not on node {node}"


def test_kind_delete_cluster_leaves_no_node_behind(three_nodes):
    three_nodes.delete()
    clusters = subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True, check=True).stdout.split()
    assert NAME not in clusters
    left = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label=io.x-k8s.kind.cluster={NAME}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert left == [], f"node containers left after kind delete: {left}"
