"""Which cluster the e2e suite picks (lab/cluster.py `choose`), and the helpers of lab/kube.py and lab/artifacts.py."""

import json
import os
import shlex
import subprocess
import sys

import pytest
import yaml

from lab import cluster, providers
from lab.artifacts import safe_name
from lab.cluster import choose
from lab.deploy import registry_images
from lab.kube import holds, wait_for


def installed(*names):
    return lambda name: f"/usr/bin/{name}" if name in names else None


TOX = {"TOX_ENV_NAME": "e2e"}
NOTHING = installed()


def pick(options, which=NOTHING, env=TOX, offline_up=False):
    return choose(options, which, env, lambda: offline_up)


def test_existing_cluster_override_wins_over_everything():
    choice = pick({"kubeconfig_override": "/k/config", "provider": None}, installed("minikube", "kind"))
    assert (choice.provider, choice.kubeconfig) == (cluster.LabExternalManager, "/k/config")
    assert "--k8s-kubeconfig-override" in choice.reason


def test_plain_kubeconfig_option_also_means_external():
    choice = pick({"kubeconfig": "/k/config"})
    assert choice.provider is cluster.LabExternalManager and "--k8s-kubeconfig " in choice.reason + " "


def test_explicit_provider_is_used_even_outside_tox():
    assert pick({"provider": "Kind"}, installed("minikube"), env={}).provider is providers.LabKindManager


def test_unknown_provider_is_refused():
    with pytest.raises(ValueError, match="the lab runs on"):
        pick({"provider": "k3d"})


def test_minikube_first_when_nothing_is_given():
    assert pick({}, installed("minikube", "kind")).provider is providers.LabMinikubeManager


def test_kind_when_minikube_is_missing():
    assert pick({}, installed("kind")).provider is providers.LabKindManager


def test_offline_cluster_when_neither_is_installed():
    choice = pick({}, env={"CI": "true"})
    assert choice.provider is cluster.OfflineClusterManager


def test_bare_pytest_without_a_cluster_names_what_to_run_instead_of_starting_one():
    with pytest.raises(ValueError) as err:
        pick({}, installed("minikube", "kind"), env={})
    assert str(err.value) == cluster.NO_CLUSTER and "\n" not in str(err.value)
    assert "tox -e e2e" in str(err.value)


def test_bare_pytest_uses_an_offline_cluster_that_is_already_up():
    assert pick({}, env={}, offline_up=True).provider is cluster.OfflineClusterManager


def test_kind_and_minikube_versions_are_given_without_the_v_pytest_kubernetes_adds():
    assert providers.api_version("v1.34.12") == providers.api_version("1.34.12") == "1.34.12"
    assert providers.api_version(None) == providers.pinned("K8S_VERSION").removeprefix("v")


def test_the_only_image_the_manifests_would_pull_is_localstack():
    assert registry_images() == (providers.pinned("LOCALSTACK_IMAGE"),)


def test_bare_pytest_of_cluster_tests_stops_with_one_line(tmp_path):
    """No provider, no kubeconfig, not tox or CI, no offline cluster up: exit 4 and one line, nothing started."""
    env = {k: v for k, v in os.environ.items() if k not in ("TOX_ENV_NAME", "CI")}
    env["LAB_STATE"] = str(tmp_path / "state")  # an offline cluster that is certainly not up
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-k", "liveness", "-p", "no:cacheprovider"],
        cwd=cluster.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "no cluster given" in line]
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:] + done.stderr[-2000:]
    assert errors == [f"ERROR: {cluster.NO_CLUSTER}"]


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
    monkeypatch.setattr(providers.subprocess, "run", fake_run(json.dumps(profiles)))
    assert providers.minikube_profiles() == {"pytest-resiliency-lab"}


def reuse_minikube(monkeypatch, answers: bool):
    """lab_start on an existing profile; the API reached through the written kubeconfig answers or not."""
    commands, started = [], []
    monkeypatch.setattr(providers, "minikube_profiles", lambda: {"pytest-resiliency-lab"})
    monkeypatch.setattr(providers, "run", lambda argv, say, timeout, env=None: commands.append((argv, env)) or "")
    monkeypatch.setattr(providers.LabMinikubeManager, "_ensure_executable", lambda self: None)
    monkeypatch.setattr(providers.LabMinikubeManager, "ready", lambda self, timeout=20: answers or bool(started))
    monkeypatch.setattr(providers.LabMinikubeManager, "_on_create", lambda self, options, **kw: started.append(options))
    manager, created = providers.LabMinikubeManager.lab_start("resiliency-lab", None, lambda _: None)
    return manager, created, commands, started


def test_a_running_minikube_profile_is_reused_without_minikube_start(monkeypatch):
    """`minikube start` on a running profile restarts its control plane: reuse only writes a kubeconfig."""
    manager, created, commands, started = reuse_minikube(monkeypatch, answers=True)
    [(argv, env)] = commands
    assert argv == ["minikube", "update-context", "-p", "pytest-resiliency-lab"]
    assert env["KUBECONFIG"] == str(manager.kubeconfig) and not created and started == []


def test_a_stopped_minikube_profile_is_started_on_the_written_kubeconfig(monkeypatch):
    manager, created, _, started = reuse_minikube(monkeypatch, answers=False)
    [options] = started
    assert options.kubeconfig_path == manager.kubeconfig and not created
    assert options.api_version == providers.pinned("K8S_VERSION").removeprefix("v")


def minikube_loading(monkeypatch, listed: str):
    """A LabMinikubeManager whose minikube calls are recorded; ``image ls`` answers ``listed``."""
    calls = []

    def exec_(self, arguments, additional_env=None, timeout=None):
        calls.append(arguments)
        out = listed if arguments[:2] == ["image", "ls"] else ""
        return subprocess.CompletedProcess(arguments, 0, stdout=out.encode(), stderr=b"")

    monkeypatch.setattr(providers.LabMinikubeManager, "_ensure_executable", lambda self: None)
    monkeypatch.setattr(providers.LabMinikubeManager, "_exec", exec_)
    return providers.LabMinikubeManager("resiliency-lab"), calls


def test_minikube_loads_an_untagged_image_by_a_reference_that_cannot_be_a_path(monkeypatch):
    """minikube reads ``faultproxy`` as the repository's faultproxy/ folder; ``faultproxy:latest`` is an image."""
    manager, calls = minikube_loading(
        monkeypatch, "docker.io/library/faultproxy:latest\ndocker.io/lab/toxiproxy:v2.5.0\n"
    )
    manager.load_image("faultproxy")
    manager.load_image("lab/toxiproxy:v2.5.0")
    loads = [c for c in calls if c[:2] == ["image", "load"]]
    assert loads == [["image", "load", f"{image}", "-p", "pytest-resiliency-lab"] for image in
                     ("faultproxy:latest", "lab/toxiproxy:v2.5.0")]  # fmt: skip


def test_minikube_load_fails_when_the_node_does_not_hold_the_image_after_it(monkeypatch):
    """minikube exits 0 when it could not load: the node's image list decides."""
    manager, _ = minikube_loading(monkeypatch, "docker.io/library/producer:latest\n")
    with pytest.raises(RuntimeError, match="left the node without it"):
        manager.load_image("faultproxy")


def e2e_arguments(line: str, variables: dict[str, str]) -> list[str]:
    """The pytest arguments of a `tox -e e2e -- ARGS` command line, variables expanded."""
    for name, value in variables.items():
        line = line.replace(f'"${{{name}}}"', value).replace(f"${{{name}}}", value)
    return shlex.split(line.split(" -- ", 1)[1])


def test_ci_runs_the_same_kind_e2e_line_as_the_github_workflow():
    """.ci/run and .github/workflows/e2e.yml: same tox arguments, same pinned Kubernetes version."""
    workflow = yaml.safe_load((cluster.REPO / ".github" / "workflows" / "e2e.yml").read_text())
    job = workflow["jobs"]["e2e-kind"]
    (step,) = [s for s in job["steps"] if s.get("name") == "e2e suite on kind"]
    assert job["env"]["K8S_VERSION"] == providers.pinned("K8S_VERSION")
    ci = (cluster.REPO / ".ci" / "run").read_text()
    (line,) = [ln for ln in ci.splitlines() if "phase e2e-kind " in ln]
    variables = {"K8S_VERSION": providers.pinned("K8S_VERSION")}
    assert e2e_arguments(line, variables) == e2e_arguments(step["run"], variables)
    assert e2e_arguments(line, variables) == ["--k8s-provider=kind", f"--k8s-version={variables['K8S_VERSION']}"]
