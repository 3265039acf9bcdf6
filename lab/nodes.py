"""The multi-node overlay (deploy/nodes) as the tests see it: where it is, how it renders, the settings it adds.

Why in lab/: the manifests tier checks the rendered objects statically and the node faults (issue 10) deploy them
and derive their bounds from the same fields; one owner for the folder and for reading those fields.
"""

from __future__ import annotations

from typing import Any

import yaml

from lab.eks import REPO, render

OVERLAY_DIR = REPO / "deploy" / "nodes"
# What the DefaultTolerationSeconds admission plugin gives a pod that sets no not-ready/unreachable toleration
# (kube-apiserver --default-not-ready-toleration-seconds / --default-unreachable-toleration-seconds, both 300).
DEFAULT_TOLERATION_SECONDS = 300
NODE_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def rendered() -> list[dict[str, Any]]:
    """The overlay's objects as kubectl's kustomize renders them."""
    return [doc for doc in yaml.safe_load_all(render(OVERLAY_DIR)) if doc]


def eviction_delay(pod_spec: dict[str, Any], taint: str) -> float | None:
    """tolerationSeconds of the pod's NoExecute toleration for ``taint``; None when the pod sets none (then the
    admission default applies) or tolerates it forever."""
    for toleration in pod_spec.get("tolerations", []):
        if toleration.get("key") == taint and toleration.get("effect") == "NoExecute":
            seconds = toleration.get("tolerationSeconds")
            return None if seconds is None else float(seconds)
    return None
