"""The lab's offline cluster (hack/offline-cluster) as a pytest-kubernetes provider, and host commands with progress.

The offline cluster runs Kubernetes as host processes for hosts where even kind's privileged node containers are
impossible. pytest-kubernetes does not know it, so `OfflineClusterManager` is an `ExternalManagerBase` whose create,
delete and image loading are the tool's ``up``, ``down`` and ``load-image``. Python reads only the tool's exit codes
and JSON: ``status`` exits 0 when the node is Ready, ``kubeconfig`` prints one path, ``env --json`` one object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_kubernetes.providers.external import ExternalManagerBase

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / "hack" / "offline-cluster" / "offline-cluster"
STATUS_UP = 0  # `offline-cluster status` exit code when the API answers and the node is Ready

Say = Callable[[str], None]


def run(argv: list[str], say: Say, timeout: float, env: dict[str, str] | None = None, stream: bool = False) -> str:
    """Run a host command; on failure raise with the tail of its output so the error names the cause."""
    say("$ " + " ".join(argv))
    if stream:  # long steps (cluster up, image build) show progress as they go
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            say("  " + line.rstrip())
        code = proc.wait(timeout=timeout)
        out = "\n".join(lines)
    else:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        code, out = done.returncode, done.stdout + done.stderr
    if code != 0:
        tail = "\n".join(out.splitlines()[-30:])
        raise RuntimeError(f"{' '.join(argv)} exited {code}:\n{tail}")
    return out


def tool_env(*sections: str) -> dict[str, Any]:
    """``offline-cluster env --json [SECTION...]``: KUBECONFIG (offline cluster up), PATH_PREFIX, LAB_* values."""
    done = subprocess.run([str(TOOL), "env", "--json", *sections], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"offline-cluster env --json exited {done.returncode}: {done.stderr.strip()}")
    return dict(json.loads(done.stdout))


def prepend_path(dirs: list[str]) -> None:
    """Put DIRS first on this process's PATH (pytest-kubernetes finds kubectl, kind and minikube with `which`)."""
    current = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([*dirs, *[p for p in current if p not in dirs]])


def offline_running() -> bool:
    """Up means what ``offline-cluster status`` says with its exit code: the API answers and the node is Ready."""
    done = subprocess.run([str(TOOL), "status"], capture_output=True, text=True, timeout=60)
    return done.returncode == STATUS_UP


def offline_kubeconfig() -> str:
    """The kubeconfig ``up`` wrote, or "" when the tool is absent or the cluster is not up."""
    if not TOOL.exists():
        return ""
    done = subprocess.run([str(TOOL), "kubeconfig"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else ""


class OfflineClusterManager(ExternalManagerBase):
    """pytest-kubernetes' external provider for the offline cluster: ``up`` to create, ``down`` to delete."""

    lab_say: Say = staticmethod(print)

    @classmethod
    def lab_start(cls, name: str, version: str | None, say: Say) -> tuple[OfflineClusterManager, bool]:
        """Bring the cluster up unless it runs already (the version is the build's); its kubectl first on PATH."""
        created = not offline_running()
        say(f"offline cluster {'is not up: starting it' if created else 'is up: reusing it'}")
        if created:
            try:
                run([str(TOOL), "up"], say, 1800, stream=True)
            except RuntimeError as exc:  # `up` saved its logs; take down what this run started...
                if "partially running" not in str(exc):  # ...but not a cluster someone else left half up
                    run([str(TOOL), "down"], say, 600, stream=True)
                raise
        prepend_path(tool_env("offline").get("PATH_PREFIX", []))
        manager = cls(name, None, offline_kubeconfig())
        manager.lab_say = say
        manager.create()
        return manager, created

    def load_image(self, *images: str) -> None:
        """``offline-cluster load-image`` (skips images containerd already holds)."""
        run([str(TOOL), "load-image", *images], self.lab_say, 600)

    def delete(self) -> None:
        run([str(TOOL), "down"], self.lab_say, 600, stream=True)


def stderr_say(text: str) -> None:
    print(f"[lab] {text}", file=sys.stderr, flush=True)
