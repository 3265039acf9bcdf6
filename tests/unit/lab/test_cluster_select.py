"""Which cluster the e2e suite picks (lab/cluster.py `choose`), and the helpers of lab/kube.py and lab/artifacts.py."""

import json
import subprocess

from lab import cluster
from lab.artifacts import safe_name
from lab.cluster import choose
from lab.kube import holds, wait_for


def installed(*names):
    return lambda name: f"/usr/bin/{name}" if name in names else None


def test_existing_cluster_override_wins_over_everything():
    choice = choose({"kubeconfig_override": "/k/config", "provider": None}, installed("minikube", "kind"))
    assert (choice.provider, choice.kubeconfig) == ("external", "/k/config")
    assert "--k8s-kubeconfig-override" in choice.reason


def test_plain_kubeconfig_option_also_means_external():
    choice = choose({"kubeconfig": "/k/config"}, installed())
    assert choice.provider == "external" and "--k8s-kubeconfig " in choice.reason + " "


def test_explicit_provider_is_used():
    assert choose({"provider": "Kind"}, installed("minikube")).provider == "kind"


def test_minikube_first_when_nothing_is_given():
    assert choose({}, installed("minikube", "kind")).provider == "minikube"


def test_kind_when_minikube_is_missing():
    assert choose({}, installed("kind")).provider == "kind"


def test_offline_cluster_when_neither_is_installed():
    choice = choose({}, installed())
    assert choice.provider == "offline"
    assert "offline-cluster" in choice.reason


def test_wait_for_returns_the_first_truthy_value():
    values = iter([None, 0, "ready"])
    assert wait_for(lambda: next(values), deadline=5, interval=0) == "ready"


def test_wait_for_names_what_timed_out():
    try:
        wait_for(lambda: False, deadline=0.2, interval=0.05, what="pods ready")
    except AssertionError as exc:
        assert "pods ready not reached within" in str(exc)
    else:
        raise AssertionError("wait_for did not time out")


def test_holds_stops_at_the_first_lapse():
    values = iter([True, True, False, True])
    assert holds(lambda: next(values), window=5, interval=0) is False


def test_holds_true_for_the_whole_window():
    calls = []
    assert holds(lambda: calls.append(1) or True, window=0.2, interval=0.05) is True
    assert len(calls) >= 2


def test_artifact_folder_names_are_file_system_safe():
    name = safe_name("tests/e2e/test_x.py::test_y[producer-probe path]")
    assert name == "tests_e2e_test_x.py_test_y_producer-probe_path"


def fake_run(stdout):
    return lambda *args, **kwargs: subprocess.CompletedProcess(args, 0, stdout=stdout, stderr="")


def test_a_stopped_minikube_profile_counts_as_existing_so_the_run_never_deletes_it(monkeypatch):
    profiles = {"valid": [{"Name": "pytest-resiliency-lab", "Status": "Stopped"}], "invalid": []}
    monkeypatch.setattr(cluster.subprocess, "run", fake_run(json.dumps(profiles)))
    assert cluster._exists("minikube", "pytest-resiliency-lab", manager=None)
    assert not cluster._exists("minikube", "other", manager=None)


def test_kind_cluster_absent_means_the_run_creates_it(monkeypatch):
    monkeypatch.setattr(cluster.subprocess, "run", fake_run("kind\nsomething-else\n"))
    assert not cluster._exists("kind", "pytest-resiliency-lab", manager=None)


def test_k8s_version_with_a_leading_v_reaches_the_provider_without_it(monkeypatch):
    """pytest-kubernetes prepends "v" itself: --k8s-version=v1.34.12 must not become minikube's "vv1.34.12"."""
    created = []

    class Manager:
        cluster_name = "pytest-resiliency-lab"

        def __init__(self, name):
            pass

        def create(self, options, timeout):
            created.append(options.api_version)

    monkeypatch.setattr(cluster, "_exists", lambda *args: False)
    for version in ("v1.34.12", "1.34.12"):
        cluster.start(cluster.Choice("minikube", "test"), lambda provider: Manager, "lab", version, lambda text: None)
    assert created == ["1.34.12", "1.34.12"]
