"""The parallel e2e run's worker count holds on the live cluster: its namespaces fit the node's free CPU requests.

`lab.capacity` chooses ``-n auto`` before any cluster exists, from the host's CPUs, the control plane's requests
(`CONTROL_PLANE_MILLICORES`) and one namespace's requests read from the manifests. This checks both assumptions on the
cluster the run uses: the system pods request no more than the constant, and the node's allocatable CPU less what the
system pods request leaves room for as many namespaces as this run has workers, so no module's pod waits Pending.
"""

from __future__ import annotations

import os

from lab.capacity import CONTROL_PLANE_MILLICORES, REPO, cpu_millicores, namespace_millicores, pod_millicores


def lab_namespace(name: str) -> bool:
    """A module's namespace: ``lab-<module>-<hex>``, or ``default``, where test_exercise.py applies the manifests as
    the exercise writes them. Counted as the system's, the exercise's 250m made minikube's 750m (kubeadm's static
    pods and one CoreDNS) read as 1000m of system pods (2026-12-04 21:21 UTC)."""
    return name.startswith("lab-") or name == "default"


def test_the_runs_workers_namespaces_fit_the_nodes_free_cpu_requests(kubectl):
    nodes = kubectl.json("get", "nodes")["items"]
    allocatable = sum(cpu_millicores(node["status"]["allocatable"]["cpu"]) for node in nodes)
    pods = kubectl.json("get", "pods", "--all-namespaces", "--field-selector=status.phase!=Succeeded")["items"]
    system = sum(pod_millicores(pod["spec"]) for pod in pods if not lab_namespace(pod["metadata"]["namespace"]))
    per_namespace = namespace_millicores(
        REPO / "candidate-project" / "kubernetes", REPO / "tests" / "e2e" / "manifests"
    )
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))  # set by xdist in every worker
    assert system <= CONTROL_PLANE_MILLICORES, (
        f"system pods request {system}m, lab.capacity assumes at most {CONTROL_PLANE_MILLICORES}m"
    )
    assert allocatable - system >= workers * per_namespace, (
        f"{workers} workers × {per_namespace}m per namespace do not fit {allocatable}m allocatable less {system}m "
        "requested by the system pods: pods would wait Pending (choose fewer workers, -n N)"
    )
