"""The EKS overlay (deploy/eks) as the tests see it: where it is, how kubectl renders it, what it names.

Why in lab/: the manifests tier checks the rendered objects and the cluster tier dry-runs them on an API server; one
owner for the render command and the overlay's names keeps the two tiers from importing each other.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lab.providers import kubectl_binary

REPO = Path(__file__).resolve().parents[1]
OVERLAY_DIR = REPO / "deploy" / "eks"
PARAMS = OVERLAY_DIR / "params.env"
# kubectl's built-in kustomize, allowed to read the base outside deploy/eks (kustomization.yaml says why).
RENDER_ARGS = ("kustomize", "--load-restrictor=LoadRestrictionsNone")
SERVICE_ACCOUNT = "resiliency-lab"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def render(directory: Path = OVERLAY_DIR) -> str:
    """The overlay as YAML, rendered by the lab's kubectl (AssertionError naming the cause when it cannot)."""
    kubectl = kubectl_binary()
    assert shutil.which(str(kubectl)), f"no kubectl ({kubectl}): run hack/offline-cluster/offline-cluster build"
    done = subprocess.run([str(kubectl), *RENDER_ARGS, str(directory)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def read_params(path: Path = PARAMS) -> dict[str, str]:
    """params.env as kustomize's env file reader sees it: KEY=VALUE lines, # comments and blank lines skipped."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
