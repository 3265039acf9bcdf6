"""Which cluster the e2e suite runs on, and how the lab's images get into it.

`choose` turns pytest-kubernetes' options into a provider class from `lab.providers` (``--k8s-kubeconfig-override``
/ ``--k8s-provider`` / in tox or CI: minikube if installed, else kind, else the offline cluster), `start` creates or
reuses the cluster, and `LabCluster` builds the two services as the exercise does and loads them and LocalStack
(nothing can be pulled on the lab's machines) through the manager's own ``load_image``.

Under pytest-xdist one process of the run starts the cluster (`lab.xdist_share.once`); its `LabCluster.state` tells
the other workers the kubeconfig they `attach` to (never creating or deleting it), and the controller, once every
worker has ended, deletes the cluster the run created (`delete_created`).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.offline import REPO, OfflineClusterManager, Say, offline_running, prepend_path, run, tool_env
from lab.providers import PROVIDERS, LabExternalManager, attach_manager
from lab.xdist_share import RunShare, once, state_owner

IMAGES = ("producer", "consumer")
NO_CLUSTER = (
    "no cluster given: run `tox -e e2e` (it picks minikube, kind or the offline cluster), "
    "or pass --k8s-provider=kind|minikube or --k8s-kubeconfig-override=PATH"
)


@dataclass(frozen=True)
class Choice:
    """The provider class the run will use and why (printed at the start of the run)."""

    provider: Any
    reason: str
    kubeconfig: str = ""


def choose(
    options: dict[str, Any],
    which: Callable[[str], str | None] = shutil.which,
    env: dict[str, str] | None = None,
    offline_up: Callable[[], bool] = offline_running,
) -> Choice:
    """The provider for pytest-kubernetes' options (``provider``, ``kubeconfig_override``, ``kubeconfig``).

    With none given, tox and CI pick minikube, kind or the offline cluster; anywhere else (a bare ``pytest``) only an
    offline cluster that is already up is used, else it is a `ValueError` naming what to run: starting a cluster may
    install packages or compile Kubernetes, which nobody should get unasked.
    """
    env = dict(os.environ) if env is None else env
    kubeconfig = options.get("kubeconfig_override") or options.get("kubeconfig")
    provider = (options.get("provider") or "").lower()
    if kubeconfig:
        flag = "--k8s-kubeconfig-override" if options.get("kubeconfig_override") else "--k8s-kubeconfig"
        return Choice(LabExternalManager, f"{flag} {kubeconfig}", str(kubeconfig))
    if provider:
        if provider not in PROVIDERS:
            raise ValueError(f"--k8s-provider {provider}: the lab runs on {', '.join(sorted(PROVIDERS))}")
        return Choice(PROVIDERS[provider], f"--k8s-provider {provider}")
    if not (env.get("TOX_ENV_NAME") or env.get("CI")):
        if offline_up():
            return Choice(OfflineClusterManager, "no cluster option given outside tox/CI; the offline cluster is up")
        raise ValueError(NO_CLUSTER)
    for name in ("minikube", "kind"):
        if which(name):
            return Choice(PROVIDERS[name], f"no cluster option given and `{name}` is installed")
    return Choice(OfflineClusterManager, "no cluster option given and neither minikube nor kind is installed")


@dataclass
class LabCluster:
    """The cluster of this run: a pytest-kubernetes manager plus whether the run created it."""

    choice: Choice
    manager: Any
    created: bool
    say: Say
    overlay_loaded: bool = False
    share: RunShare | None = None  # the run's shared folder: images loaded once per run, not once per worker

    def state(self, name: str) -> dict[str, Any]:
        """What another process needs to attach to this cluster, or to delete it (JSON: paths as strings)."""
        provider = type(self.manager)
        return {
            "provider": f"{provider.__module__}:{provider.__qualname__}",
            "name": name,
            "kubeconfig": str(self.manager.kubeconfig),
            "created": self.created,
        }

    def build_images(self, contexts: dict[str, Path] | None = None) -> None:
        """``docker build -t NAME candidate-project/NAME`` as the exercise writes it (no BuildKit on these hosts), or
        ``docker build -t NAME DIR`` for each of ``contexts``."""
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        chosen = {name: REPO / "candidate-project" / name for name in IMAGES} if contexts is None else contexts
        for name, context in chosen.items():
            started = time.monotonic()
            run(["docker", "build", "-t", name, str(context)], self.say, 1800, env)
            self.say(f"built image {name} in {time.monotonic() - started:.0f} s")

    def load_overlay_images(self) -> None:
        """The fault suite's proxies (tests/e2e/manifests, imagePullPolicy Never): faultproxy built here like the
        services, Toxiproxy's image made by `offline-cluster build`; loaded once per run, by the first module that
        routes through a proxy, so runs without such a module pay nothing."""
        from lab.proxyroute import BUILT_HERE, overlay_images

        if self.overlay_loaded:
            return

        def load() -> dict[str, Any]:
            names = overlay_images()
            self.build_images({name: BUILT_HERE[name] for name in names if name in BUILT_HERE})
            self.load_images(extra=names, services=False)
            return {"images": list(names), "by": state_owner()}

        if self.share is None:
            load()
        else:
            once(self.share, "overlay-images", load)
        self.overlay_loaded = True

    def load_images(self, extra: tuple[str, ...] = (), services: bool = True) -> None:
        """Make the services (imagePullPolicy Never) and ``extra`` (LocalStack) runnable without a registry.

        An ``extra`` image missing from Docker is pulled first (a workstation with a registry); on the lab's machines
        `offline-cluster build` made it, and a failing pull names that step.
        """
        for name in extra:
            if subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode != 0:
                try:
                    run(["docker", "pull", name], self.say, 1800)
                except RuntimeError as exc:
                    hint = "without a registry, build it: hack/offline-cluster/offline-cluster build"
                    raise RuntimeError(f"{exc}\n{hint}") from None
        for name in (*(IMAGES if services else ()), *extra):
            started = time.monotonic()
            self.manager.load_image(name)
            self.say(f"loaded image {name} in {time.monotonic() - started:.0f} s")

    def teardown(self, keep: bool) -> None:
        """Delete the cluster only if this run created it and --keep-cluster was not given."""
        if not self.created or keep:
            why = "--keep-cluster given" if keep else "it existed before the run"
            self.say(f"leaving the cluster up ({why})")
            return
        self.manager.delete()
        self.say("deleted the cluster this run created")


def start(choice: Choice, name: str, version: str | None, say: Say) -> LabCluster:
    """Create or reuse the chosen cluster; the kind/kubectl binaries the offline build made go first on PATH."""
    say(f"cluster: {choice.provider.__name__} ({choice.reason})")
    prepend_path(tool_env().get("PATH_PREFIX", []))
    if choice.kubeconfig:
        manager, created = choice.provider.lab_start(name, version, say, choice.kubeconfig)
    else:
        manager, created = choice.provider.lab_start(name, version, say)
    return LabCluster(choice, manager, created, say)


def provider_class(state: dict[str, Any]) -> Any:
    """The manager class `LabCluster.state` named (``module:qualname``)."""
    module, _, qualname = state["provider"].partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def attach(choice: Choice, state: dict[str, Any], say: Say) -> LabCluster:
    """The cluster another process of the run started (its `LabCluster.state`): its own manager class on its
    kubeconfig, reused (``created`` False: this process never deletes it)."""
    prepend_path(tool_env().get("PATH_PREFIX", []))
    manager = attach_manager(provider_class(state), state["name"], state["kubeconfig"], say)
    say(f"attached to the run's cluster: kubeconfig {state['kubeconfig']}")
    return LabCluster(choice, manager, False, say)


def delete_created(state: dict[str, Any], keep: bool, say: Say) -> None:
    """At the end of the run (after every worker): delete the cluster if the run created it, unless ``keep``."""
    if not state.get("created") or keep:
        say(f"leaving the cluster up ({'--keep-cluster given' if keep else 'it existed before the run'})")
        return
    prepend_path(tool_env().get("PATH_PREFIX", []))
    manager = attach_manager(provider_class(state), state["name"], state["kubeconfig"], say, check=False)
    manager.delete()
    say("deleted the cluster this run created")
