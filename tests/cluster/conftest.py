"""Fixtures for tests/cluster: the cluster under test is the offline cluster (`offline-cluster up` started it), or
with ``--k8s-provider=kind`` a kind cluster this session creates from the lab's node image and deletes at the end.

The same checks (node Ready and version, API TLS, DNS, Services, a locally built image, exec/logs, a liveness
restart) run against either. Tests marked ``offline`` or ``kind`` concern that cluster alone (down/up; kind's
multi-node networking and its CLI) and are deselected, with a line saying so, when another cluster is under test.
Why these tests fail (not skip) when the cluster is down: they exist to prove the cluster works; a skip would turn
that proof off silently. Why kubectl (through `lab.kube.Kube` on the cluster's pytest-kubernetes manager): it is the
tool users drive the cluster with and the wrapper the e2e suite uses, so the tests exercise the same path (auth,
exec/logs via the kubelet) and a failure shows kubectl's stderr the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.kube import Kube, KubectlError
from lab.providers import ExistingOffline, pinned

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


def under_test(config: pytest.Config) -> str:
    """Which cluster the tier tests: the --k8s-provider given, else the offline cluster."""
    return (config.getoption("k8s_provider") or "offline").lower()


@pytest.fixture(scope="session")
def target(pytestconfig) -> Iterator[Any]:
    """The cluster under test as its pytest-kubernetes manager (kubeconfig, kubectl, ``load_image``): the offline
    cluster adopted as it runs, or a kind cluster created for the session (and deleted) through lab.cluster."""
    provider = under_test(pytestconfig)
    if provider == "offline":
        try:
            path = offline_cluster("kubeconfig").strip()
            offline_cluster("kubectl", "get", "--raw", "/readyz", timeout=20)
        except (AssertionError, subprocess.TimeoutExpired) as err:
            pytest.fail(f"the offline cluster is not up (run: {OFFLINE_CLUSTER} up): {err}", pytrace=False)
        manager = ExistingOffline.lab_adopt("cluster-tier", path, say)  # its kubectl first on PATH, its load-image
        assert manager is not None, f"{path} is not the offline cluster's kubeconfig"
        yield manager
        return
    from lab.cluster import PROVIDERS, Choice, start

    lab = start(Choice(PROVIDERS[provider], f"--k8s-provider {provider}"), "cluster-tier", None, say)
    try:
        yield lab.manager
    finally:
        lab.teardown(keep=pytestconfig.getoption("keep_cluster"))


def say(text: str) -> None:
    print(f"[cluster tier] {text}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def kubeconfig(target) -> str:
    """Path of the cluster under test's kubeconfig."""
    return str(target.kubeconfig)


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
def kube(target) -> Kube:
    """Cluster-wide kubectl (lab.kube.Kube: a failure raises KubectlError with kubectl's stderr)."""
    return Kube(target)


@pytest.fixture(scope="session")
def kube_for():
    """``kube_for(manager, namespace=None)``: kubectl for a cluster a test creates itself (test_kind.py)."""
    return Kube


@pytest.fixture(scope="module")
def ns_kube(kube: Kube) -> Iterator[Kube]:
    """kubectl bound to a fresh namespace per test module, deleted afterwards (no waiting for it)."""
    name = f"cluster-test-{uuid.uuid4().hex[:8]}"
    kube("create", "namespace", name)
    yield kube.in_namespace(name)
    try:
        kube("delete", "namespace", name, "--wait=false")
    except KubectlError as err:  # teardown: say why, the tests' verdict stands
        say(f"namespace {name} not deleted: {err}")


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
def test_image(target, built_test_image: str) -> str:
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
