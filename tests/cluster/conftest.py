"""Fixtures for tests/cluster: the cluster under test is the offline cluster (`offline-cluster up` started it), or
with ``--k8s-provider=kind`` a kind cluster this session creates from the lab's node image and deletes at the end.

The same checks (node Ready and version, API TLS, DNS, Services, a locally built image, exec/logs, a liveness
restart) run against either. Tests marked ``offline`` or ``kind`` concern that cluster alone (down/up; kind's
multi-node networking and its CLI) and are deselected, with a line saying so, when another cluster is under test.
Why these tests fail (not skip) when the cluster is down: they exist to prove the cluster works; a skip would turn
that proof off silently. Why kubectl through subprocess: it is the tool users and the e2e suite drive the cluster
with, so the tests exercise the same path (auth, exec/logs via the kubelet).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.providers import kubectl_binary, pinned

REPO = Path(__file__).resolve().parents[2]
OFFLINE_CLUSTER = REPO / "hack" / "offline-cluster" / "offline-cluster"
IMAGE_DIR = Path(__file__).parent / "image"
TEST_IMAGE = "lab-cluster-test:latest"


def pinned_k8s_version() -> str:
    """The Kubernetes version the cluster must report: the build's pin (`lab.providers.pinned`, its one owner)."""
    return pinned("K8S_VERSION")


def offline_cluster(*args: str, timeout: float = 60) -> str:
    """Run the offline-cluster tool; its stderr is part of the failure message."""
    done = subprocess.run([str(OFFLINE_CLUSTER), *args], capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"offline-cluster {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass
class Kube:
    """kubectl against the cluster under test (its admin kubeconfig), optionally in one namespace."""

    kubeconfig: str
    namespace: str | None = None

    def __call__(self, *args: str, timeout: float = 60, check: bool = True, stdin: str | None = None) -> str:
        cmd = [str(kubectl_binary()), "--kubeconfig", self.kubeconfig]
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


def under_test(config: pytest.Config) -> str:
    """Which cluster the tier tests: the --k8s-provider given, else the offline cluster."""
    return (config.getoption("k8s_provider") or "offline").lower()


@dataclass
class Target:
    """The cluster under test: its kubeconfig and how a local image gets into it."""

    kubeconfig: str
    load_image: Callable[[str], object]


@pytest.fixture(scope="session")
def target(pytestconfig) -> Iterator[Target]:
    """The cluster under test; a kind cluster is created for the session (and deleted) through lab.cluster."""
    provider = under_test(pytestconfig)
    if provider == "offline":
        try:
            path = offline_cluster("kubeconfig").strip()
            offline_cluster("kubectl", "get", "--raw", "/readyz", timeout=20)
        except (AssertionError, subprocess.TimeoutExpired) as err:
            pytest.fail(f"the offline cluster is not up (run: {OFFLINE_CLUSTER} up): {err}", pytrace=False)
        yield Target(path, lambda image: offline_cluster("load-image", image, timeout=300))
        return
    from lab.cluster import PROVIDERS, Choice, start

    lab = start(Choice(PROVIDERS[provider], f"--k8s-provider {provider}"), "cluster-tier", None, say)
    try:
        yield Target(str(lab.manager.kubeconfig), lab.manager.load_image)
    finally:
        lab.teardown(keep=pytestconfig.getoption("keep_cluster"))


def say(text: str) -> None:
    print(f"[cluster tier] {text}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def kubeconfig(target: Target) -> str:
    """Path of the cluster under test's kubeconfig."""
    return target.kubeconfig


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


@pytest.fixture(scope="session")
def kube_for():
    """``kube_for(kubeconfig, namespace=None)``: kubectl for a cluster a test creates itself (test_kind.py)."""
    return Kube


@pytest.fixture(scope="module")
def ns_kube(kubeconfig: str) -> Iterator[Kube]:
    """kubectl bound to a fresh namespace per test module, deleted afterwards (no waiting for it)."""
    name = f"cluster-test-{uuid.uuid4().hex[:8]}"
    Kube(kubeconfig)("create", "namespace", name)
    yield Kube(kubeconfig, name)
    Kube(kubeconfig)("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def built_test_image() -> str:
    """A tiny image built here with docker, as a user's own image would be (not yet in any cluster)."""
    build = subprocess.run(
        ["docker", "build", "-q", "-t", TEST_IMAGE, str(IMAGE_DIR)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},  # the host docker 20.10 has no buildx
    )
    assert build.returncode == 0, f"docker build of the test image failed: {build.stderr.strip()}"
    return TEST_IMAGE


@pytest.fixture(scope="session")
def test_image(target: Target, built_test_image: str) -> str:
    """The test image loaded into the cluster under test, the provider's way."""
    target.load_image(built_test_image)
    return built_test_image


CLUSTER_MARKERS = ("offline", "kind", "minikube")  # registered in the root conftest.py


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect tests of another cluster than the one under test; run test_down_up.py last (it restarts it)."""
    target_name = under_test(config)
    other = [i for i in items if any(i.get_closest_marker(m) for m in CLUSTER_MARKERS if m != target_name)]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [i for i in items if i not in other]
        say(f"{len(other)} tests of another cluster than '{target_name}' deselected")
    items.sort(key=lambda item: item.path.name == "test_down_up.py")
