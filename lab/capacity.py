"""How many e2e modules run at once: as many namespaces as the node's free CPU requests schedule without a Pending pod.

Why CPU requests and not the host's CPU count: every module deploys the lab into a namespace of its own, and a pod
the scheduler cannot place stays Pending until an earlier namespace is gone, so its Deployment would run into its
progress deadline rather than test anything. The namespace's figure is read from the manifests (the lab's and the
largest proxy overlay of tests/e2e/manifests), at the peak of a rollout, so the count follows the manifests.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

# CPU the control plane of a one-node kind (kubeadm) cluster requests before the lab deploys anything: kube-apiserver
# 250m, kube-controller-manager 200m, kube-scheduler 100m, etcd 100m, CoreDNS 2 × 100m, kindnet 100m. Checked
# against the live cluster by tests/e2e/test_parallel_capacity.py.
CONTROL_PLANE_MILLICORES = 950


def cpu_millicores(quantity: str | int | float) -> int:
    """A Kubernetes CPU quantity (``200m``, ``1``, ``0.5``) in millicores, rounded up as the scheduler counts it."""
    text = str(quantity).strip()
    if text.endswith("m"):
        return math.ceil(float(text[:-1]))
    return math.ceil(float(text) * 1000)


def pod_millicores(pod_spec: dict[str, Any]) -> int:
    """What the scheduler reserves for one pod: its containers' CPU requests, or its largest init container's."""

    def requested(containers: Iterable[dict[str, Any]]) -> list[int]:
        return [cpu_millicores(c.get("resources", {}).get("requests", {}).get("cpu", 0)) for c in containers]

    return max(sum(requested(pod_spec.get("containers", []))), *requested(pod_spec.get("initContainers", [])), 0)


def deployment_millicores(doc: dict[str, Any]) -> int:
    """A Deployment's CPU requests at the peak of a rollout: ``replicas`` pods plus one surge pod when it rolls
    (RollingUpdate's default maxSurge 25 % rounds up to one pod); Recreate stops the old pods first."""
    spec = doc.get("spec", {})
    replicas = int(spec.get("replicas", 1))
    surge = 0 if spec.get("strategy", {}).get("type") == "Recreate" else 1
    return (replicas + surge) * pod_millicores(spec.get("template", {}).get("spec", {}))


def manifest_millicores(files: Iterable[Path]) -> int:
    """The CPU requests of every Deployment in ``files`` at the peak of a rollout."""
    total = 0
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Deployment":
                total += deployment_millicores(doc)
    return total


def namespace_millicores(lab_manifests: Path, overlays: Path) -> int:
    """One e2e module's namespace: the lab's manifests plus the largest proxy overlay a fault module adds."""
    extra = [manifest_millicores([path]) for path in sorted(overlays.glob("*.yaml"))]
    return manifest_millicores(sorted(lab_manifests.glob("*.yaml"))) + max(extra, default=0)


def worker_count(cpus: int, per_namespace: int, control_plane: int = CONTROL_PLANE_MILLICORES) -> int:
    """Workers that run at once without a Pending pod: the node's allocatable CPU (a kind node has the host's CPUs)
    less the control plane's requests, divided by one namespace's; at least one."""
    free = cpus * 1000 - control_plane
    return max(1, free // per_namespace) if per_namespace > 0 else max(1, cpus)


REPO = Path(__file__).resolve().parents[1]


def e2e_workers(cpus: int | None = None) -> tuple[int, str]:
    """``(workers, why)`` for ``-n auto`` of the e2e tier on this machine (``cpus``: the host's, a kind node's)."""
    cpus = cpus or os.cpu_count() or 1
    per_namespace = namespace_millicores(
        REPO / "candidate-project" / "kubernetes", REPO / "tests" / "e2e" / "manifests"
    )
    workers = worker_count(cpus, per_namespace)
    why = (
        f"{cpus} CPUs = {cpus * 1000}m allocatable, less {CONTROL_PLANE_MILLICORES}m for the control plane, "
        f"/ {per_namespace}m per namespace = {workers} at once"
    )
    return workers, why
