"""The lab's cluster providers: pytest-kubernetes `AClusterManager` subclasses, one class per kind of cluster.

Each has one class method, ``lab_start(name, version, say) -> (manager, created)``: create or reuse the cluster and
say whether this run created it (only then may the run delete it). `PROVIDERS` maps ``--k8s-provider`` names to the
classes; nothing else in the suite asks which provider it has. Images go in through each manager's own
``load_image`` (``kind load docker-image``, ``minikube image load``, ``offline-cluster load-image``). No private field
of the plugin is written: a cluster that exists already is reused by constructing its manager with its kubeconfig.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pytest_kubernetes.options import ClusterOptions
from pytest_kubernetes.providers.external import ExternalManagerBase
from pytest_kubernetes.providers.kind import KindManagerBase
from pytest_kubernetes.providers.minikube import MinikubeDockerManagerBase

from lab.offline import REPO, OfflineClusterManager, Say, offline_kubeconfig, prepend_path, run, tool_env

VERSIONS = REPO / "hack" / "offline-cluster" / "versions.env"
CLUSTER_TIMEOUT = 900  # seconds pytest-kubernetes allows `kind create` / `minikube start` / an image load
READY_TIMEOUT = 120  # seconds for the API's readyz and the default ServiceAccount after creation


def pinned(name: str) -> str:
    """A pin from hack/offline-cluster/versions.env (the one owner of the lab's versions)."""
    for line in VERSIONS.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip()
    raise KeyError(f"{name} is not pinned in {VERSIONS}")


def kubectl_binary() -> Path:
    """The kubectl the lab builds (the cluster's own version, so its built-in kustomize is pinned too), else PATH's."""
    cache = Path(os.environ.get("LAB_CACHE", "/var/cache/resiliency-lab"))
    built = cache / f"k8s-{pinned('K8S_VERSION')}" / "bin" / "kubectl"
    return built if built.exists() else Path(shutil.which("kubectl") or "kubectl")


def api_version(version: str | None) -> str:
    """pytest-kubernetes writes ``v{api_version}``: accept ``v1.34.12`` and ``1.34.12`` alike (default: the pin)."""
    return (version or pinned("K8S_VERSION")).removeprefix("v")


def _create(manager: Any, version: str | None, options: tuple[str, ...] = ()) -> Any:
    """pytest-kubernetes' create (``options`` go to the provider's command line); a half-created cluster is still
    this run's, so it is deleted on failure."""
    try:
        manager.create(
            ClusterOptions(api_version=api_version(version), cluster_timeout=CLUSTER_TIMEOUT),
            timeout=READY_TIMEOUT,
            options=list(options),
        )
    except subprocess.CalledProcessError as exc:  # pytest-kubernetes captured the tool's output: show its end
        manager.delete()
        tail = "\n".join((exc.stderr or b"").decode(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{exc.cmd} exited {exc.returncode}:\n{tail}") from None
    except Exception:
        manager.delete()
        raise
    return manager


class LabKindManager(KindManagerBase):
    """kind through pytest-kubernetes; an existing cluster of that name is reused (and never deleted)."""

    # `kind create` returns once the control-plane nodes are Ready (kind's own wait), bounded like the API wait.
    create_options = (f"--wait={READY_TIMEOUT}s",)

    @classmethod
    def lab_start(cls, name: str, version: str | None, say: Say) -> tuple[LabKindManager, bool]:
        probe = cls(name)
        if probe.cluster_name not in run(["kind", "get", "clusters"], say, 60).split():
            say(f"creating kind cluster {probe.cluster_name} (image kindest/node:v{api_version(version)})")
            return _create(probe, version, cls.create_options), True
        kubeconfig = tempfile.mkstemp(prefix="lab-kind-", suffix=".kubeconfig")[1]
        run(["kind", "export", "kubeconfig", "--name", probe.cluster_name, "--kubeconfig", kubeconfig], say, 60)
        say(f"reusing kind cluster {probe.cluster_name}")
        manager = cls(name, None, Path(kubeconfig))
        manager.create(timeout=READY_TIMEOUT)
        return manager, False


def minikube_profiles() -> set[str]:
    """Names of minikube profiles, valid or not, running or stopped (`minikube profile list -o json`)."""
    done = subprocess.run(["minikube", "profile", "list", "-o", "json"], capture_output=True, text=True)
    try:
        profiles = json.loads(done.stdout or "{}")
    except ValueError:
        return set()
    return {str(p.get("Name")) for key in ("valid", "invalid") for p in profiles.get(key) or []}


class LabMinikubeManager(MinikubeDockerManagerBase):
    """minikube (docker driver) through pytest-kubernetes; a profile that exists (even stopped) is never deleted."""

    @classmethod
    def lab_start(cls, name: str, version: str | None, say: Say) -> tuple[LabMinikubeManager, bool]:
        manager = cls(name)
        if manager.cluster_name not in minikube_profiles():
            say(f"creating minikube profile {manager.cluster_name}")
            return _create(manager, version), True
        # A running profile is only pointed at: `minikube start` on it restarts its control plane (seen 2026-12-07:
        # etcd down ~3 min, the API server in CrashLoopBackOff after a few reuses). pytest-kubernetes' create starts
        # the profile only when the kubeconfig `minikube update-context` wrote does not reach a ready API.
        kubeconfig = tempfile.mkstemp(prefix="lab-minikube-", suffix=".kubeconfig")[1]
        try:
            run(
                ["minikube", "update-context", "-p", manager.cluster_name],
                say,
                60,
                {**os.environ, "KUBECONFIG": kubeconfig},
            )
        except RuntimeError as exc:  # a stopped profile may have no endpoint to write: `minikube start` finds it
            say(f"minikube update-context failed, starting the profile: {str(exc).splitlines()[-1]}")
        say(f"reusing minikube profile {manager.cluster_name}")
        manager = cls(name, None, Path(kubeconfig))
        options = ClusterOptions(api_version=api_version(version), cluster_timeout=CLUSTER_TIMEOUT)
        manager.create(options, timeout=READY_TIMEOUT)
        return manager, False

    def load_image(self, image: str) -> None:
        """``minikube image load`` of an explicitly tagged reference, then a check that the node holds it.

        Why: minikube loads its argument as a tarball when a file or folder of that name exists in the working
        directory, and exits 0 when that fails: ``faultproxy`` (the repository's faultproxy/ folder) was never
        loaded and its pod waited in ErrImageNeverPull (whole suite on minikube, 2026-12-07).
        """
        reference = tagged(image)
        super().load_image(reference)
        listed = self._exec(["image", "ls", "-p", self.cluster_name]).stdout.decode()
        if short_name(reference) not in {short_name(line) for line in listed.split()}:
            raise RuntimeError(f"minikube image load {reference} left the node without it: {listed.split()}")


def tagged(image: str) -> str:
    """``NAME`` as ``NAME:latest`` (what Docker means by it), so it cannot be read as a path; tags and digests kept."""
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in last else f"{image}:latest"


def short_name(reference: str) -> str:
    """A reference without the registry and namespace minikube's ``image ls`` adds (docker.io/library/NAME:TAG)."""
    return reference.strip().removeprefix("docker.io/").removeprefix("library/")


class ExistingOffline(OfflineClusterManager):
    """The offline cluster's own kubeconfig given as an external cluster: images go in with its tool."""

    @classmethod
    def lab_adopt(cls, name: str, kubeconfig: str, say: Say) -> OfflineClusterManager | None:
        offline = offline_kubeconfig()
        if not offline or Path(offline).resolve() != Path(kubeconfig).resolve():
            return None
        prepend_path(tool_env("offline").get("PATH_PREFIX", []))
        manager = cls(name, None, kubeconfig)
        manager.lab_say = say
        return manager


class ExistingKind(LabKindManager):
    """A kind cluster's kubeconfig given as an external cluster (context ``kind-NAME``): ``kind load`` into NAME."""

    kind_name = ""

    @classmethod
    def lab_adopt(cls, name: str, kubeconfig: str, say: Say) -> LabKindManager | None:
        kubectl = shutil.which("kubectl") or "kubectl"
        context = run([kubectl, "--kubeconfig", kubeconfig, "config", "current-context"], say, 60).strip()
        if not context.startswith("kind-") or not shutil.which("kind"):
            return None
        manager = cls(name, None, Path(kubeconfig))
        manager.kind_name = context.removeprefix("kind-")
        return manager

    def load_image(self, image: str) -> None:
        self._exec(["load", "docker-image", image, "--name", self.kind_name])


class LabExternalManager(ExternalManagerBase):
    """A cluster someone else started (``--k8s-kubeconfig-override``): never created or deleted by the run."""

    lab_say: Say = staticmethod(print)
    adopters: tuple[Any, ...] = (ExistingOffline, ExistingKind)  # clusters whose own image loading is known

    @classmethod
    def lab_start(cls, name: str, version: str | None, say: Say, kubeconfig: str = "") -> tuple[Any, bool]:
        for adopter in cls.adopters:
            manager = adopter.lab_adopt(name, kubeconfig, say)
            if manager is not None:
                manager.create(timeout=READY_TIMEOUT)
                return manager, False
        manager = cls(name, None, kubeconfig)
        manager.lab_say = say
        manager.create(timeout=READY_TIMEOUT)
        return manager, False

    def load_image(self, *images: str) -> None:
        self.lab_say(f"cluster of unknown kind: not loading {', '.join(images)}; they must be on its nodes")


def attach_manager(cls: Any, name: str, kubeconfig: str, say: Say, check: bool = True) -> Any:
    """A manager of ``cls`` for the running cluster another process of the run started and wrote ``kubeconfig`` for.

    A class that adopts kubeconfigs (``lab_adopt``: the kind or offline cluster given as external) does so again, so
    its image loading works as in the first process. With ``check`` the API's readiness is waited for through
    pytest-kubernetes' own ``create``, which finds the cluster ready and marks the manager as not having created it:
    its ``delete`` is a no-op. Without (the controller deleting the run's cluster), ``delete`` deletes it.
    """
    adopt = getattr(cls, "lab_adopt", None)
    manager = adopt(name, kubeconfig, say) if adopt is not None else None
    if manager is None:
        manager = cls(name, None, Path(kubeconfig))
    if hasattr(cls, "lab_say"):
        manager.lab_say = say
    if check:
        manager.create(timeout=READY_TIMEOUT)
    return manager


PROVIDERS: dict[str, Any] = {
    "kind": LabKindManager,
    "minikube": LabMinikubeManager,
    "minikube-docker": LabMinikubeManager,
    "offline": OfflineClusterManager,
}
