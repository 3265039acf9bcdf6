"""Which cluster the e2e suite runs on, and how the lab's images get into it.

Why this exists next to pytest-kubernetes: the plugin creates and deletes minikube/kind clusters and wraps an
existing one (``--k8s-kubeconfig-override``), but its external provider loads no images and it knows nothing about
the lab's offline cluster. This module picks the provider (minikube if installed, else kind, else the offline
cluster, so ``tox -e e2e`` works on a fresh CI machine too), remembers whether the run created the cluster (only
then may the run delete it), builds the two images exactly as the exercise does and loads them the provider's way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.offline import OFFLINE_CLI, REPO, Say, offline_kubeconfig, offline_running, run, use_offline_kubectl

IMAGES = ("producer", "consumer")
# kind v0.33.0's pre-built node image for the 1.34 line (the offline cluster runs 1.34.12); kind's release notes ask
# for the digest. pytest-kubernetes turns --k8s-version X into ``--image kindest/node:vX``.
KIND_NODE_VERSION = "1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d"
MINIKUBE_K8S_VERSION = "1.34.11"
CLUSTER_TIMEOUT = 900  # seconds pytest-kubernetes allows `kind create` / `minikube start` (a cold start pulls images)


@dataclass(frozen=True)
class Choice:
    """The provider the run will use and why (printed at the start of the run)."""

    provider: str  # a pytest-kubernetes provider name, or "offline" for hack/offline-cluster
    reason: str
    kubeconfig: str | None = None


def choose(options: dict[str, Any], which: Callable[[str], str | None] = shutil.which) -> Choice:
    """Pick the provider from pytest-kubernetes' options (``provider``, ``kubeconfig_override``, ``kubeconfig``)."""
    kubeconfig = options.get("kubeconfig_override") or options.get("kubeconfig")
    provider = options.get("provider")
    if kubeconfig:
        flag = "--k8s-kubeconfig-override" if options.get("kubeconfig_override") else "--k8s-kubeconfig"
        return Choice(provider or "external", f"{flag} {kubeconfig}", str(kubeconfig))
    if provider:
        return Choice(provider.lower(), f"--k8s-provider {provider}")
    for name in ("minikube", "kind"):
        if which(name):
            return Choice(name, f"no cluster option given and `{name}` is installed")
    return Choice("offline", f"no cluster option given and neither minikube nor kind is installed: {OFFLINE_CLI}")


@dataclass
class LabCluster:
    """The cluster of this run: a pytest-kubernetes manager plus what the project adds (creation record, images)."""

    choice: Choice
    manager: Any
    created: bool
    say: Say
    context_loader: list[str] = field(default_factory=list)  # how images reach an external cluster

    def build_images(self) -> None:
        """``docker build -t NAME candidate-project/NAME`` as the exercise writes it (no BuildKit on these hosts)."""
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        for name in IMAGES:
            started = time.monotonic()
            run(["docker", "build", "-t", name, str(REPO / "candidate-project" / name)], self.say, 1800, env)
            self.say(f"built image {name} in {time.monotonic() - started:.0f} s")

    def load_images(self) -> None:
        """Make the images runnable with imagePullPolicy: Never — the provider's own way."""
        started = time.monotonic()
        if self.choice.provider == "offline" or self.context_loader == ["offline"]:
            run([str(OFFLINE_CLI), "load-image", *IMAGES], self.say, 600)
        elif self.context_loader[:1] == ["kind"]:
            for name in IMAGES:
                run(["kind", "load", "docker-image", name, "--name", self.context_loader[1]], self.say, 600)
        elif self.context_loader[:1] == ["minikube"]:
            for name in IMAGES:
                run(["minikube", "image", "load", name, "-p", self.context_loader[1]], self.say, 600)
        elif self.choice.provider == "external":
            self.say("external cluster of unknown kind: not loading images; they must already be on its nodes")
            return
        else:
            for name in IMAGES:
                self.say(f"loading {name} with pytest-kubernetes ({self.choice.provider})")
                self.manager.load_image(name)
        self.say(f"loaded images {', '.join(IMAGES)} in {time.monotonic() - started:.0f} s")

    def teardown(self, keep: bool) -> None:
        """Delete the cluster only if this run created it and --keep-cluster was not given."""
        if not self.created or keep:
            why = "--keep-cluster given" if keep else "it existed before the run"
            self.say(f"leaving the {self.choice.provider} cluster up ({why})")
            return
        if self.choice.provider == "offline":
            run([str(OFFLINE_CLI), "down"], self.say, 600, stream=True)
        else:
            self.manager.delete()
        self.say(f"deleted the {self.choice.provider} cluster this run created")


def external_loader(kubeconfig: str, say: Say) -> list[str]:
    """How to load images into an existing cluster: the offline cluster's CLI, kind or minikube by context name."""
    offline = offline_kubeconfig(say)
    if offline and Path(offline).resolve() == Path(kubeconfig).resolve():
        use_offline_kubectl(say)
        return ["offline"]
    kubectl = shutil.which("kubectl") or "kubectl"
    context = run([kubectl, "--kubeconfig", kubeconfig, "config", "current-context"], say, 60).strip()
    if context.startswith("kind-") and shutil.which("kind"):
        return ["kind", context.removeprefix("kind-")]
    if (
        shutil.which("minikube")
        and subprocess.run(["minikube", "status", "-p", context], capture_output=True).returncode == 0
    ):
        return ["minikube", context]
    return []


def start(choice: Choice, factory: Callable[[str | None], Any], name: str, version: str | None, say: Say) -> LabCluster:
    """Create or reuse the chosen cluster and return it with a record of whether this run created it."""
    from pytest_kubernetes.options import ClusterOptions

    say(f"cluster: {choice.provider} ({choice.reason})")
    if choice.provider == "offline":
        created = not offline_running(say)
        if created:
            try:
                run([str(OFFLINE_CLI), "up"], say, 1800, stream=True)
            except RuntimeError as exc:  # `up` saved its logs (it says where); take down what this run started
                if "partially running" not in str(exc):  # ...but not a cluster someone else left half up
                    run([str(OFFLINE_CLI), "down"], say, 600, stream=True)
                raise
        kubeconfig = use_offline_kubectl(say) or offline_kubeconfig(say)
        manager = factory("external")(name, None, kubeconfig)
        manager.create()
        return LabCluster(Choice("offline", choice.reason, kubeconfig), manager, created, say)
    if choice.kubeconfig:
        manager = factory(choice.provider)(name, None, choice.kubeconfig)
        manager.create()
        return LabCluster(choice, manager, False, say, external_loader(choice.kubeconfig, say))
    manager = factory(choice.provider)(name)
    existed = _exists(choice.provider, manager.cluster_name, manager)
    if not version:
        version = KIND_NODE_VERSION if choice.provider == "kind" else MINIKUBE_K8S_VERSION
    verb = "reusing" if existed else "creating"
    say(f"{verb} {choice.provider} cluster {manager.cluster_name} (Kubernetes {version})")
    try:
        # pytest-kubernetes writes "v{api_version}" itself (kind image tag, minikube --kubernetes-version), so
        # --k8s-version=v1.34.12 and =1.34.12 both mean 1.34.12 (minikube rejects "vv1.34.12").
        api_version = version.removeprefix("v")
        manager.create(ClusterOptions(api_version=api_version, cluster_timeout=CLUSTER_TIMEOUT), timeout=120)
    except Exception:
        if not existed:  # a half-created cluster is still this run's: delete it
            manager.delete()
        raise
    return LabCluster(choice, manager, not existed, say)


def _exists(provider: str, cluster_name: str, manager: Any) -> bool:
    """Whether the named kind/minikube cluster exists already (then the run reuses it and never deletes it)."""
    if provider == "kind":
        names = subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True).stdout.split()
        if cluster_name in names:
            # pytest-kubernetes would otherwise try `kind create` on it; give it the existing cluster's kubeconfig.
            path = Path(tempfile.mkstemp(prefix="lab-kind-", suffix=".kubeconfig")[1])
            subprocess.run(
                ["kind", "export", "kubeconfig", "--name", cluster_name, "--kubeconfig", str(path)], check=True
            )
            manager._cluster_options.kubeconfig_path = path
            return True
        return False
    if provider.startswith("minikube"):
        # A stopped profile exists too: the run starts it again but must not delete it afterwards.
        done = subprocess.run(["minikube", "profile", "list", "-o", "json"], capture_output=True, text=True)
        try:
            profiles = json.loads(done.stdout or "{}")
        except ValueError:
            return False
        names = {p.get("Name") for key in ("valid", "invalid") for p in profiles.get(key) or []}
        return cluster_name in names
    return False
