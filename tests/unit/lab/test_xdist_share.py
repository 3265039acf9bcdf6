"""One cluster, one artifacts folder and one JUnit file per run under pytest-xdist (lab.xdist_share, lab.artifacts,
lab.report.junit, lab.cluster's attach/delete), checked with real processes and file locks, no cluster."""

from __future__ import annotations

import json
import multiprocessing
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab import cluster, providers
from lab.artifacts import RunArtifacts
from lab.report.junit import JUNIT_NAME, write_junit
from lab.report.model import FaultRecord
from lab.timeline import Recovery
from lab.xdist_share import RunShare, SetupFailed, is_worker, once, share_of, worker_name

PROCESSES = 4


def _set_up_in_child(folder: str, marks: str, barrier) -> None:
    """One "worker": wait for the others, then ask for the shared set-up; leave what it got in ``marks``."""
    share = RunShare(Path(folder), "e2e-x")
    barrier.wait()

    def make() -> dict:
        (Path(marks) / f"made-{os.getpid()}").touch()
        return {"kubeconfig": f"/tmp/kubeconfig-{os.getpid()}"}

    state, made = once(share, "cluster", make)
    (Path(marks) / f"got-{os.getpid()}.json").write_text(json.dumps({**state, "made": made}))


def test_once_sets_up_in_exactly_one_of_several_processes_and_all_get_its_state(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    children = [
        context.Process(target=_set_up_in_child, args=(str(tmp_path / "share"), str(marks), barrier))
        for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert len(list(marks.glob("made-*"))) == 1
    got = [json.loads(path.read_text()) for path in marks.glob("got-*.json")]
    assert len(got) == PROCESSES
    assert len({g["kubeconfig"] for g in got}) == 1  # everyone attaches to the one cluster
    assert sorted(g["made"] for g in got) == [False] * (PROCESSES - 1) + [True]


def test_a_failed_set_up_is_not_retried_and_names_its_error(tmp_path):
    share = RunShare(tmp_path, "e2e-x")

    def broken() -> dict:
        raise RuntimeError("kind create exited 1")

    with pytest.raises(RuntimeError, match="kind create"):
        once(share, "cluster", broken)
    with pytest.raises(SetupFailed, match="kind create exited 1"):
        once(share, "cluster", lambda: pytest.fail("a second set-up was tried"))
    assert "error" in share.state("cluster")


def test_controller_share_reaches_the_workers_and_is_removed(tmp_path):
    controller = SimpleNamespace(stash=pytest.Stash())
    share = share_of(controller)
    assert share_of(controller) is share and not is_worker(controller) and worker_name(controller) == "main"
    worker = SimpleNamespace(stash=pytest.Stash(), workerinput={"workerid": "gw1", "lab_share": share.to_input()})
    assert share_of(worker) == share and is_worker(worker) and worker_name(worker) == "gw1"
    once(share, "thing", lambda: {"a": 1})
    assert share.state("thing") == {"a": 1} and share.state("other") is None
    share.remove()
    assert not share.folder.exists()


def _record_in_child(root: str, index: int) -> None:
    artifacts = RunArtifacts.new(root, "e2e-shared")
    for line in range(50):
        artifacts.record("fault", worker=index, line=line, text="x" * 500)


def test_workers_measurements_go_to_one_run_folder_line_by_line(tmp_path):
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_record_in_child, args=(str(tmp_path), i)) for i in range(PROCESSES)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
    assert [p.name for p in tmp_path.iterdir()] == ["e2e-shared"]
    lines = (tmp_path / "e2e-shared" / "measurements.jsonl").read_text().splitlines()
    assert len(lines) == PROCESSES * 50
    assert {(json.loads(line)["worker"]) for line in lines} == set(range(PROCESSES))


def fault(name: str, test: str, failed: bool = False) -> FaultRecord:
    record = FaultRecord(name, "recovers", Recovery(name, injected=100.0), test_failed=failed, notes="n")
    record.test = test
    return record


def test_junit_of_parallel_workers_holds_every_workers_records(tmp_path, monkeypatch):
    path = tmp_path / JUNIT_NAME
    write_junit([fault("pod deleted", "tests/e2e/faults/test_pod_faults.py::t")], path, part="gw0")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")  # the default part: xdist's worker id
    write_junit([fault("cpu", "tests/e2e/faults/test_cpu_faults.py::t", failed=True), fault("b", "x::y")], path)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    assert [case.get("name") for case in suite.iter("testcase")] == ["pod deleted", "cpu", "b"]


def test_junit_of_a_serial_run_is_one_file_without_parts(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    write_junit([fault("pod deleted", "t.py::t")], tmp_path / JUNIT_NAME)
    assert [p.name for p in tmp_path.iterdir()] == [JUNIT_NAME]


class FakeManager:
    """Stands in for a pytest-kubernetes manager: records what attach and delete do to it."""

    calls: list[str] = []

    def __init__(self, name, provider_config, kubeconfig):
        self.name, self.kubeconfig = name, kubeconfig

    def create(self, timeout=0):
        FakeManager.calls.append(f"create {self.kubeconfig}")

    def delete(self):
        FakeManager.calls.append(f"delete {self.name}")


@pytest.fixture
def fake_provider(monkeypatch):
    FakeManager.calls = []
    monkeypatch.setattr(cluster, "tool_env", lambda *sections: {"PATH_PREFIX": []})
    return {"provider": f"{__name__}:FakeManager", "name": "resiliency-lab", "kubeconfig": "/tmp/k", "created": True}


def test_state_names_the_manager_class_attach_reuses_it(fake_provider):
    lab = cluster.LabCluster(cluster.Choice(FakeManager, "test"), FakeManager("n", None, Path("/tmp/k")), True, print)
    state = lab.state("resiliency-lab")
    assert cluster.provider_class(state) is FakeManager and state["kubeconfig"] == "/tmp/k" and state["created"]
    attached = cluster.attach(lab.choice, state, print)
    assert not attached.created and FakeManager.calls == ["create /tmp/k"]  # readiness checked, nothing created


def test_the_run_deletes_only_a_cluster_it_created_and_not_with_keep(fake_provider):
    cluster.delete_created({**fake_provider, "created": False}, keep=False, say=print)
    cluster.delete_created(fake_provider, keep=True, say=print)
    assert FakeManager.calls == []
    cluster.delete_created(fake_provider, keep=False, say=print)
    assert FakeManager.calls == ["delete resiliency-lab"]


def test_kind_provider_attaches_by_its_own_class():
    assert cluster.provider_class({"provider": "lab.providers:LabKindManager"}) is providers.LabKindManager
