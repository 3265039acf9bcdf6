"""`lab.multinode.KindNodes` issues the node actions as Docker commands on the node's container and reads their
answers: a stand-in ``docker`` script on PATH records each call and plays the node, so no container is involved."""

import os
import stat
from pathlib import Path

import pytest

from lab.multinode import KindNodes

FAKE_DOCKER = """#!/bin/sh
echo "$@" >> "$FAKE_CALLS"
case "$1" in
  cp) cp "$FAKE_NODE"/* "$3" ;;
  exec) case "$*" in *crictl*) cat "$FAKE_NODE/crictl.yaml" ;; *systemctl*fail*) exit 3 ;; esac ;;
esac
"""
CRICTL = """containers:
- id: abc
  metadata: {name: consumer, attempt: 0}
  state: CONTAINER_RUNNING
"""


@pytest.fixture
def docker(tmp_path: Path, monkeypatch) -> Path:
    """The fake docker first on PATH; returns the file its calls are written to."""
    bin_dir, node = tmp_path / "bin", tmp_path / "node"
    bin_dir.mkdir()
    node.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (node / "0.log").write_text("2026-12-04T19:00:00Z stdout F first\n")
    (node / "1.log").write_text("2026-12-04T19:01:00Z stdout F second\n")
    (node / "crictl.yaml").write_text(CRICTL)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NODE", str(node))
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls"))
    return tmp_path / "calls"


def test_node_and_kubelet_actions_are_docker_commands_on_the_node_container(docker: Path):
    nodes = KindNodes()
    nodes.lose_node("w1")
    nodes.start_node("w1")
    nodes.stop_kubelet("w2")
    nodes.start_kubelet("w2")
    assert docker.read_text().splitlines() == [
        "kill w1",
        "start w1",
        "exec w2 systemctl stop kubelet",
        "exec w2 systemctl start kubelet",
    ]


def test_running_containers_are_asked_of_the_runtime_by_pod_name(docker: Path):
    assert KindNodes().running_containers("w1", "consumer-x") == ["consumer"]
    assert "--label io.kubernetes.pod.name=consumer-x" in docker.read_text()


def test_pod_logs_are_copied_from_the_node_by_generation(docker: Path):
    folder = KindNodes.log_folder("ns", "consumer-x", "uid-1", "consumer")
    assert folder == "/var/log/pods/ns_consumer-x_uid-1/consumer"
    logs = KindNodes().pod_logs("w1", folder)
    assert logs == {0: "2026-12-04T19:00:00Z stdout F first\n", 1: "2026-12-04T19:01:00Z stdout F second\n"}
    assert f"cp w1:{folder}/." in docker.read_text()


def test_a_failing_docker_command_raises_with_its_exit_code(docker: Path):
    with pytest.raises(RuntimeError, match="exited 3"):
        KindNodes()._docker("exec", "w1", "systemctl", "fail")
