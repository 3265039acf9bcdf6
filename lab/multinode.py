"""A cluster of one control plane and two workers for the node faults, and what those faults do to its nodes.

Why a module of its own: the e2e suite's session cluster has one node, and a node fault needs a node to lose while
another takes over. Only kind makes such a cluster here (each node a Docker container on the lab's offline node
image), so `MULTINODE` maps the provider class `lab.cluster.choose` picked to the class that builds and breaks a
multi-node cluster of that kind; a provider missing from it cannot run the node faults. The cluster is a
`lab.cluster.LabCluster`, so images are built and loaded, and the cluster deleted, by the suite's own code.
Every node action is a method here (`KindNodes`): the faults never ask which provider they run on.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from lab.cluster import Choice, LabCluster
from lab.offline import Say, prepend_path, run, tool_env
from lab.providers import READY_TIMEOUT, LabKindManager, _create, api_version

WORKERS = 2
DOCKER_TIMEOUT = 60  # seconds for one docker command on a node container (a kill, a start, an exec, a copy)


def kind_config(name: str, version: str | None, workers: int = WORKERS) -> dict[str, Any]:
    """kind's cluster config: one control plane and ``workers`` workers, each on the node image the e2e suite's
    one-node kind cluster uses (``kindest/node:v<version>``, the tag the offline build gives its image). The
    node-monitor grace period is left at Kubernetes' default (the faults read it back from the live controller):
    a shorter one would make a 2-core machine's late heartbeat look like a lost node."""
    image = f"kindest/node:v{api_version(version)}"
    nodes = [{"role": "control-plane", "image": image}] + [{"role": "worker", "image": image} for _ in range(workers)]
    return {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "name": name, "nodes": nodes}


class KindNodes:
    """The node faults' actions on a kind cluster: each node is a Docker container named like the node."""

    @classmethod
    def start_cluster(cls, choice: Choice, name: str, version: str | None, say: Say) -> LabCluster:
        """Create kind cluster ``name`` with ``1 + WORKERS`` nodes, or reuse one of that name (never deleted then)."""
        prepend_path(tool_env().get("PATH_PREFIX", []))  # the kind and kubectl the offline build made, as start does
        config = Path(tempfile.mkdtemp(prefix="lab-kind-")) / "nodes.yaml"
        config.write_text(yaml.safe_dump(kind_config(name, version)))
        if name in run(["kind", "get", "clusters"], say, DOCKER_TIMEOUT).split():
            kubeconfig = config.with_suffix(".kubeconfig")
            run(["kind", "export", "kubeconfig", "--name", name, "--kubeconfig", str(kubeconfig)], say, DOCKER_TIMEOUT)
            say(f"reusing kind cluster {name}")
            manager = LabKindManager(None, str(config), kubeconfig)
            manager.create(timeout=READY_TIMEOUT)
            return LabCluster(choice, manager, False, say)
        say(f"creating kind cluster {name}: 1 control plane + {WORKERS} workers")
        manager = _create(LabKindManager(None, str(config)), version, LabKindManager.create_options)
        # kind's --wait covers the control plane; a worker still NotReady (tainted) would leave the spread constraint
        # one worker, and both consumers would start there. Bound: the lab's for a node to come up.
        run(["kubectl", "--kubeconfig", str(manager.kubeconfig), "wait", "--for=condition=Ready", "nodes", "--all",
             f"--timeout={READY_TIMEOUT}s"], say, READY_TIMEOUT + DOCKER_TIMEOUT)  # fmt: skip
        return LabCluster(choice, manager, True, say)

    def _docker(self, *argv: str) -> str:
        done = subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=DOCKER_TIMEOUT)
        if done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
        return done.stdout

    def lose_node(self, node: str) -> None:
        """The node lost: its container killed (SIGKILL to its init: the kernel ends every process in it at once, as
        a power cut does). Not ``docker stop``: that is an orderly shutdown, in which systemd SIGTERMs the pods and the
        runtime's log copiers together, and a draining consumer was seen deleting a message whose log line no longer
        reached any log (docs/nodes.md, "Finding")."""
        self._docker("kill", node)

    def start_node(self, node: str) -> None:
        """The node back: its container started again (a no-op when it runs)."""
        self._docker("start", node)

    def stop_kubelet(self, node: str) -> None:
        """Only the kubelet stopped: containerd and every container on the node keep running."""
        self._docker("exec", node, "systemctl", "stop", "kubelet")

    def start_kubelet(self, node: str) -> None:
        self._docker("exec", node, "systemctl", "start", "kubelet")

    def running_containers(self, node: str, pod: str) -> list[str]:
        """Names of the containers of ``pod`` the node's runtime has running, asked of containerd (no kubelet)."""
        listed = self._docker("exec", node, "crictl", "ps", "--state", "running", "--label",
                              f"io.kubernetes.pod.name={pod}", "-o", "yaml")  # fmt: skip
        return [c["metadata"]["name"] for c in (yaml.safe_load(listed) or {}).get("containers") or []]

    @staticmethod
    def log_folder(namespace: str, pod: str, uid: str, container: str) -> str:
        """Where the node's runtime writes the container's log, one ``<restart>.log`` per container generation."""
        return f"/var/log/pods/{namespace}_{pod}_{uid}/{container}"

    def pod_logs(self, node: str, folder: str) -> dict[int, str]:
        """The container's log files in ``folder`` on the node (CRI format), by container generation, copied with
        ``docker cp``, which also reads a stopped node. They outlive the kubelet and the API's view of the pod, until
        the kubelet removes the dead container (then its log goes too)."""
        with tempfile.TemporaryDirectory(prefix="lab-podlogs-") as tmp:
            self._docker("cp", f"{node}:{folder}/.", tmp)
            files = [f for f in Path(tmp).glob("*.log") if f.name.split(".")[0].isdigit()]
            return {int(f.name.split(".")[0]): f.read_text(errors="replace") for f in files}

    @contextlib.contextmanager
    def tail(self, node: str, path: str, seconds: float) -> Iterator[Path]:
        """A file on the node followed from its first line (``tail -F``, ended on the node after ``seconds``) into a
        local file: it keeps what was written even if the kubelet deletes the file right after the container exits."""
        local = Path(tempfile.mkstemp(prefix="lab-tail-", suffix=".log")[1])
        with local.open("wb") as out:
            argv = ["docker", "exec", node, "timeout", str(int(seconds)), "tail", "-n", "+1", "-F", path]
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        try:
            yield local
        finally:
            proc.terminate()  # the docker client; the tail on the node ends by its own timeout
            proc.wait(timeout=DOCKER_TIMEOUT)


MULTINODE: dict[Any, type[KindNodes]] = {LabKindManager: KindNodes}
