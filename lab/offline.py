"""The lab's offline cluster (hack/offline-cluster) as the e2e suite drives it, and host commands with progress.

The offline cluster is the CI stand-in for minikube/kind on machines without a registry. pytest-kubernetes does not
know it, so the suite talks to its CLI: ``status`` (is it up?), ``up``/``down`` (only when the run owns it),
``kubeconfig``, ``env`` (its kubectl first on PATH) and ``load-image``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OFFLINE_CLI = REPO / "hack" / "offline-cluster" / "offline-cluster"

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


def offline_env(say: Say) -> dict[str, str]:
    """KUBECONFIG and PATH as printed by ``offline-cluster env`` (its kubectl first on PATH)."""
    text = run([str(OFFLINE_CLI), "env"], say, timeout=60)
    found = dict(re.findall(r"\b(KUBECONFIG|PATH)=[\"']?([^\"';\n]+)", text))
    env: dict[str, str] = {}
    if "KUBECONFIG" in found:
        env["KUBECONFIG"] = found["KUBECONFIG"]
    if "PATH" in found:
        head = [p for p in found["PATH"].split(":") if p and "$PATH" not in p and "${PATH}" not in p]
        env["PATH_PREFIX"] = ":".join(head)
    return env


def use_offline_kubectl(say: Say) -> str | None:
    """Put the offline cluster's kubectl first on PATH (pytest-kubernetes finds kubectl with `which`)."""
    env = offline_env(say)
    prefix = env.get("PATH_PREFIX")
    if prefix and not os.environ.get("PATH", "").startswith(prefix):
        os.environ["PATH"] = f"{prefix}:{os.environ.get('PATH', '')}"
    return env.get("KUBECONFIG")


def offline_running(say: Say) -> bool:
    """Up means: the API answers and the node is Ready, as ``offline-cluster status`` reports it."""
    done = subprocess.run([str(OFFLINE_CLI), "status"], capture_output=True, text=True, timeout=60)
    up = done.returncode == 0 and "Ready=True" in done.stdout
    say(f"offline cluster {'is up' if up else 'is not up'}")
    return up


def offline_kubeconfig(say: Say) -> str:
    """The kubeconfig ``up`` wrote, or "" when the CLI is absent or the cluster was never brought up."""
    if not OFFLINE_CLI.exists():
        return ""
    try:
        return run([str(OFFLINE_CLI), "kubeconfig"], say, 60).strip().splitlines()[-1]
    except (RuntimeError, IndexError):
        return ""


def stderr_say(text: str) -> None:
    print(f"[lab] {text}", file=sys.stderr, flush=True)
