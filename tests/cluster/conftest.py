"""Fixtures for tests/cluster: the offline cluster that `hack/offline-cluster/offline-cluster up` started.

Why these tests fail (not skip) when the cluster is down: they exist to prove the offline cluster works, in CI
right after `up`; a skip would turn that proof off silently. Why kubectl through subprocess: it is the tool users
and the e2e suite drive the cluster with, so the tests exercise the same path (auth, exec/logs via the kubelet).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OFFLINE_CLUSTER = REPO / "hack" / "offline-cluster" / "offline-cluster"
IMAGE_DIR = Path(__file__).parent / "image"
TEST_IMAGE = "lab-cluster-test:latest"


def pinned_k8s_version() -> str:
    """The Kubernetes version the cluster must report, read from the build's pinned versions."""
    for line in (REPO / "hack" / "offline-cluster" / "versions.env").read_text().splitlines():
        if line.startswith("K8S_VERSION="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("K8S_VERSION missing from hack/offline-cluster/versions.env")


def offline_cluster(*args: str, timeout: float = 60) -> str:
    """Run the offline-cluster tool; its stderr is part of the failure message."""
    done = subprocess.run([str(OFFLINE_CLUSTER), *args], capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"offline-cluster {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass
class Kube:
    """kubectl against the offline cluster's admin kubeconfig, optionally in one namespace."""

    kubeconfig: str
    namespace: str | None = None

    def __call__(self, *args: str, timeout: float = 60, check: bool = True, stdin: str | None = None) -> str:
        cmd = [str(OFFLINE_CLUSTER), "kubectl"]
        if self.namespace:
            cmd += ["-n", self.namespace]
        done = subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json"))

    def apply(self, manifest: dict) -> None:
        self("apply", "-f", "-", stdin=json.dumps(manifest))


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    """Path of the running cluster's kubeconfig; fails the session clearly when the cluster is not up."""
    try:
        path = offline_cluster("kubeconfig").strip()
        offline_cluster("kubectl", "get", "--raw", "/readyz", timeout=20)
    except (AssertionError, subprocess.TimeoutExpired) as err:
        pytest.fail(f"the offline cluster is not up (run: {OFFLINE_CLUSTER} up): {err}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def cli():
    """The offline-cluster command as a function: cli("status") -> stdout; raises with stderr on failure."""
    return offline_cluster


@pytest.fixture(scope="session")
def lab_state() -> Path:
    """The cluster's state directory (pids/, logs/, pki ...), as hack/offline-cluster/lib/common.sh sets it."""
    return Path(os.environ.get("LAB_STATE", "/var/lib/resiliency-lab/offline-cluster"))


@pytest.fixture(scope="session")
def k8s_version() -> str:
    """The pinned Kubernetes version (hack/offline-cluster/versions.env)."""
    return pinned_k8s_version()


@pytest.fixture(scope="session")
def kube(kubeconfig: str) -> Kube:
    """Cluster-wide kubectl."""
    return Kube(kubeconfig)


@pytest.fixture(scope="module")
def ns_kube(kubeconfig: str) -> Iterator[Kube]:
    """kubectl bound to a fresh namespace per test module, deleted afterwards (no waiting for it)."""
    name = f"cluster-test-{uuid.uuid4().hex[:8]}"
    Kube(kubeconfig)("create", "namespace", name)
    yield Kube(kubeconfig, name)
    Kube(kubeconfig)("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def test_image(kubeconfig: str) -> str:
    """A tiny image built here with docker and loaded into the cluster, as a user's own image would be."""
    build = subprocess.run(
        ["docker", "build", "-q", "-t", TEST_IMAGE, str(IMAGE_DIR)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},  # the host docker 20.10 has no buildx
    )
    assert build.returncode == 0, f"docker build of the test image failed: {build.stderr.strip()}"
    offline_cluster("load-image", TEST_IMAGE, timeout=300)
    return TEST_IMAGE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run test_down_up.py last: it stops and restarts the cluster the other tests use."""
    items.sort(key=lambda item: item.path.name == "test_down_up.py")
