"""Fixtures of the node faults: a cluster of 1 control plane + 2 workers instead of the session's one node.

Why here, under tests/e2e/faults: the node faults are catalogue faults, so they use that folder's ``logs``,
``settings`` and ``record_fault`` and land in its report and JUnit file like every other fault. Only these are
overridden, for this folder alone:

- ``cluster``      module (not "package": without an ``__init__.py`` pytest makes that the session, and the 3-node
                   cluster would outlive the folder beside the one-node one). A multi-node cluster of the chosen
                   provider's kind (`lab.multinode.MULTINODE`: kind only), named ``lab-nodes``, with the same images
                   built and loaded as the session's one-node cluster (`lab.cluster.LabCluster`), deleted at the end
                   unless it existed or ``--keep-cluster``. A provider that cannot make one skips the folder with one
                   line; CI runs it on kind.
- ``kubectl``      module. kubectl against that cluster (``namespace`` and everything after it follow).
- ``deployed_lab`` module. `lab.nodefaults.NodesLab`: deploy/nodes (two consumers spread over the workers, the
                   PodDisruptionBudget, the 10 s eviction delay, LocalStack and the producer on the control plane)
                   rolled out, with the node actions of the cluster's kind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from lab import cluster as lab_cluster
from lab.deploy import registry_images
from lab.kube import Kube
from lab.multinode import MULTINODE
from lab.nodefaults import NodesLab
from tests.e2e.conftest import cluster_options, deploy, sayer

NAME = "lab-nodes"


@pytest.fixture(scope="module")
def cluster(pytestconfig) -> Iterator[lab_cluster.LabCluster]:
    """The node faults' own cluster, started for the folder's one module and deleted after its last test."""
    say = sayer(pytestconfig)
    choice = lab_cluster.choose(cluster_options(pytestconfig))
    nodes = MULTINODE.get(choice.provider)
    if nodes is None:
        pytest.skip(
            f"node faults need 1 control plane + 2 workers, which the lab makes with kind only ({choice.reason} chose "
            f"{choice.provider.__name__}): run them with --k8s-provider=kind, as CI does"
        )
    started = time.monotonic()
    lab = nodes.start_cluster(choice, NAME, pytestconfig.getoption("k8s_version"), say)
    say(f"3-node cluster ready in {time.monotonic() - started:.0f} s: kubeconfig {lab.manager.kubeconfig}")
    try:
        lab.build_images()
        lab.load_images(extra=registry_images())
        say(f"3-node cluster with images in {time.monotonic() - started:.0f} s")
        yield lab
    finally:
        lab.teardown(keep=pytestconfig.getoption("keep_cluster"))


@pytest.fixture(scope="module")
def kubectl(cluster) -> Kube:
    return Kube(cluster.manager)


@pytest.fixture(scope="module")
def deployed_lab(cluster, namespace, kubectl, artifacts) -> NodesLab:
    """deploy/nodes in ``namespace``, rolled out: one consumer on each worker, LocalStack and producer on the
    control plane."""
    lab = NodesLab(kubectl.in_namespace(namespace), MULTINODE[cluster.choice.provider]())
    deploy(lab, artifacts)
    return lab
