"""The EKS overlay (deploy/eks) is accepted by a real API server: a server-side dry run in a namespace of its own.

The schema check (tests/manifests/test_eks_overlay.py) knows the OpenAPI shapes; the API server adds what only it
checks: strict field validation, defaulting, name rules and admission. The namespace asks Pod Security to warn about
"restricted" (for a Deployment, admission warns about its pod template and enforces nothing), so a warning fails
the test. A dry run persists nothing, which is checked too. What it cannot prove here: EKS's pod identity webhook,
IAM and the images in a registry (no AWS).
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from lab.deploy import SERVICES
from lab.eks import SERVICE_ACCOUNT, render
from lab.kube import Kube
from lab.providers import kubectl_binary

POD_SECURITY = ("pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/warn=restricted")


def dry_run(kube: Kube, manifest: str) -> subprocess.CompletedProcess[str]:
    """`kubectl apply --dry-run=server -f -` with stderr kept even on success (admission warnings go there, and
    `Kube` returns only stdout), against the cluster and namespace ``kube`` is bound to."""
    cmd = [str(kubectl_binary()), "--kubeconfig", str(kube.manager.kubeconfig), "-n", str(kube.namespace)]
    return subprocess.run(
        [*cmd, "apply", "--dry-run=server", "-f", "-"], input=manifest, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def eks_ns(ns_kube: Kube) -> Kube:
    ns_kube("label", "namespace", str(ns_kube.namespace), *POD_SECURITY)
    return ns_kube


def test_overlay_passes_a_server_side_dry_run(eks_ns):
    done = dry_run(eks_ns, render())
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", "no warnings (Pod Security, deprecated or unknown fields)"
    lines = done.stdout.splitlines()
    expected = {f"deployment.apps/{name}" for name in SERVICES} | {f"serviceaccount/{SERVICE_ACCOUNT}"}
    assert {line.split()[0] for line in lines} == expected, done.stdout
    assert all(line.endswith("(server dry run)") for line in lines), done.stdout
    left = eks_ns("get", "deployments,serviceaccounts", "-o", "name").split()
    assert [name for name in left if name.split("/")[-1] in (*SERVICES, SERVICE_ACCOUNT)] == [], left


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda pod: pod["containers"][0]["livenessProbe"].update(periodSecond=5), "periodSecond"),
        (lambda pod: pod["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True), "PodSecurity"),
    ],
    ids=["unknown-field", "pod-security"],
)
def test_dry_run_flags_a_broken_overlay(eks_ns, mutate, expected):
    """The server-side check can fail: a misspelt field is refused, a weaker pod template is warned about."""
    docs = [doc for doc in yaml.safe_load_all(render()) if doc]
    mutate(next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"])
    done = dry_run(eks_ns, yaml.safe_dump_all(docs))
    assert expected in done.stderr, (done.returncode, done.stdout, done.stderr)
