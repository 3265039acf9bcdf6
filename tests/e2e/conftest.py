"""Fixtures of the e2e tier: a real cluster, the lab's images in it, the lab deployed per test module.

Reusable pieces (the fault catalogue in tests/e2e/faults builds on them — do not rewrite them there):

- ``cluster``        session. `lab.cluster.LabCluster`: pytest-kubernetes manager of the chosen cluster
                     (``--k8s-kubeconfig-override`` / ``--k8s-provider`` / in tox or CI else minikube, kind, offline
                     cluster), the services' images built and loaded, LocalStack's image loaded (nothing is pulled).
                     Once per run: under pytest-xdist (``tox -e e2e`` runs modules in parallel) the first worker
                     starts it, the others attach. Deleted at the end of the run (after every worker) only if the
                     run created it and no ``--keep-cluster``.
- ``kubectl``        session. `lab.kube.Kube` without a namespace: ``kubectl("get", "nodes")``; ``.in_namespace(ns)``.
- ``artifacts``      session. `lab.artifacts.RunArtifacts` (``--lab-artifacts``/<run>/): ``dump_namespace``, ``record``.
- ``namespace``      module. A fresh namespace ``lab-<module>-<hex>``; on any failure in the module its events,
                     describe and logs are saved before it is deleted.
- ``deployed_lab``   module. `lab.deploy.Lab`: ``kubectl apply -n NS -f candidate-project/kubernetes``, rolled out.
- ``liveness_probe`` ``liveness_probe("producer")`` → `lab.probes.Probe` read from the live Deployment.
- ``aws``            boto3 SNS/SQS (`lab.aws.Aws`) against the module's LocalStack through a 127.0.0.1 port-forward.
- In lab/: ``lab.liveness.break_liveness(lab, app, fault)`` for the four liveness faults, ``await_restart``,
  ``liveness_events``, ``healthy_again``, ``restore``; ``lab.crashloop`` (persistent failure, observed back-off);
  ``lab.probes`` (every deadline from the live probe); ``lab.kube.wait_for`` / ``holds`` (tenacity-based waits).

A failed test (setup or call) also dumps its namespace immediately, while the broken state is still there.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest

from lab import cluster as lab_cluster
from lab.artifacts import RunArtifacts
from lab.aws import Aws, localstack
from lab.deploy import Lab, registry_images
from lab.kube import Kube
from lab.offline import stderr_say
from lab.xdist_share import CLUSTER_STATE, is_worker, once, share_of, state_owner, worker_name

_STARTED = time.monotonic()
ARTIFACTS_KEY = pytest.StashKey[RunArtifacts]()
FAILED_KEY = pytest.StashKey[set]()


def run_artifacts(config: pytest.Config) -> RunArtifacts:
    """The run's artifact folder: one for every xdist worker of the run (the controller's run id)."""
    if ARTIFACTS_KEY not in config.stash:
        config.stash[ARTIFACTS_KEY] = RunArtifacts.new(config.getoption("lab_artifacts"), share_of(config).run_id)
    return config.stash[ARTIFACTS_KEY]


def sayer(config: pytest.Config):
    """Progress lines straight to the terminal (fixtures' own output is captured by pytest)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    worker = worker_name(config) if is_worker(config) else ""  # a worker's terminal is not shown: its stderr is

    def say(text: str) -> None:
        if capture is not None and (worker or reporter is None):
            with capture.global_and_fixture_disabled():
                stderr_say(f"{worker}: {text}" if worker else text)
            return
        if reporter is None:
            stderr_say(text)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"[lab] {text}")

    return say


@pytest.fixture(scope="session")
def artifacts(pytestconfig) -> RunArtifacts:
    """Where this run's evidence and measurements go (``--lab-artifacts``/e2e-<UTC time>/)."""
    return run_artifacts(pytestconfig)


def cluster_options(config: pytest.Config) -> dict:
    """pytest-kubernetes' cluster options as `lab.cluster.choose` reads them."""
    return {
        "provider": config.getoption("k8s_provider"),
        "kubeconfig_override": config.getoption("k8s_kubeconfig_override"),
        "kubeconfig": config.getoption("k8s_kubeconfig"),
    }


@pytest.fixture(scope="session")
def cluster(pytestconfig) -> lab_cluster.LabCluster:
    """The run's cluster, chosen and started once, with the services' and LocalStack's images in it.

    Once per run, not per process: under pytest-xdist the first worker to get here starts the cluster and loads the
    images while the others wait on the run's lock, then they attach to its kubeconfig (`lab.xdist_share.once`). The
    cluster is deleted by the root conftest's ``pytest_sessionfinish`` once every worker has ended (serially: the same
    hook of the one process), if the run created it and no ``--keep-cluster``.
    """
    say = sayer(pytestconfig)
    name = pytestconfig.getoption("k8s_cluster_name")
    name = "resiliency-lab" if name == "pytest" else name  # pytest-kubernetes' default would give "pytest-pytest"
    choice = lab_cluster.choose(cluster_options(pytestconfig))
    share = share_of(pytestconfig)
    made: list[lab_cluster.LabCluster] = []

    def set_up() -> dict:
        started = time.monotonic()
        lab = lab_cluster.start(choice, name, pytestconfig.getoption("k8s_version"), say)
        say(f"cluster ready in {time.monotonic() - started:.0f} s: kubeconfig {lab.manager.kubeconfig}")
        try:
            lab.build_images()
            lab.load_images(extra=registry_images())
        except BaseException:
            lab.teardown(keep=pytestconfig.getoption("keep_cluster"))
            raise
        made.append(lab)
        return {**lab.state(name), "by": state_owner()}

    state, _ = once(share, CLUSTER_STATE, set_up)
    lab = made[0] if made else lab_cluster.attach(choice, state, say)
    lab.share = share
    return lab


@pytest.fixture(scope="session")
def kubectl(cluster) -> Kube:
    """kubectl against the run's cluster, no namespace bound."""
    return Kube(cluster.manager)


@pytest.fixture(scope="module")
def namespace(request, kubectl, artifacts) -> Iterator[str]:
    """A namespace of the module's own; evidence saved on failure, then deleted (without waiting for pods)."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")[:30]
    name = f"lab-{module}-{secrets.token_hex(3)}"
    kubectl("create", "namespace", name)
    yield name
    if name in request.config.stash.get(FAILED_KEY, set()):
        artifacts.dump_namespace(kubectl.in_namespace(name), f"{name}-teardown")
    kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


@pytest.fixture(scope="module")
def deployed_lab(namespace, kubectl, artifacts) -> Lab:
    """The exercise deployed into ``namespace`` and rolled out (bounded by each progressDeadlineSeconds)."""
    return deploy(Lab(kubectl.in_namespace(namespace)), artifacts)


def deploy(lab: Lab, artifacts: RunArtifacts) -> Lab:
    """Apply and wait; on failure save the namespace's evidence before the error propagates."""
    try:
        lab.apply()
        lab.wait_rolled_out()
    except Exception:
        artifacts.dump_namespace(lab.kube, f"{lab.namespace}-deploy-failed")
        raise
    return lab


@pytest.fixture
def liveness_probe(deployed_lab):
    """``liveness_probe(app)``: the app's liveness probe as the live Deployment defines it."""
    return deployed_lab.probe


@pytest.fixture
def aws(deployed_lab) -> Iterator[Aws]:
    """boto3 SNS/SQS clients for the module's LocalStack, via a loopback port-forward open during the test."""
    with localstack(deployed_lab) as clients:
        yield clients


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """On a failed setup or call, save the evidence of every namespace the test used, right away."""
    report = yield
    if report.failed and report.when in ("setup", "call"):
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Lab):
                item.config.stash.setdefault(FAILED_KEY, set()).add(value.namespace)
                folder = run_artifacts(item.config).dump_namespace(value.kube, item.nodeid)
                report.sections.append(("lab artifacts", f"saved to {folder}"))
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say how long the suite took and where its measurements are."""
    if not terminalreporter.stats.get("passed") and not terminalreporter.stats.get("failed"):
        return
    terminalreporter.write_sep("-", f"e2e suite took {time.monotonic() - _STARTED:.0f} s")
    measurements = run_artifacts(config).path / "measurements.jsonl"  # this process's or the xdist workers'
    if measurements.exists():
        terminalreporter.write_line(f"measurements: {measurements}")
        for line in measurements.read_text().splitlines():
            terminalreporter.write_line("  " + line)
