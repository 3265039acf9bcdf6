"""The node and the API server: Ready, the pinned version, TLS that verifies against the cluster CA."""

from __future__ import annotations

import base64
from pathlib import Path

import requests
import yaml


def test_node_is_ready_and_reports_the_pinned_version(kube, k8s_version):
    nodes = kube.json("get", "nodes")["items"]
    assert len(nodes) == 1, (
        f"expected the one node of the cluster under test, got {[n['metadata']['name'] for n in nodes]}"
    )
    status = nodes[0]["status"]
    ready = {c["type"]: c["status"] for c in status["conditions"]}["Ready"]
    assert ready == "True"
    assert status["nodeInfo"]["kubeletVersion"] == k8s_version
    assert status["nodeInfo"]["kubeProxyVersion"] in ("", k8s_version)  # deprecated field, may be empty
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")


def test_api_server_reports_the_pinned_version(kube, k8s_version):
    assert kube.json("version")["serverVersion"]["gitVersion"] == k8s_version


def test_api_server_certificate_verifies_against_the_cluster_ca(kubeconfig, tmp_path: Path):
    """A client that trusts only the kubeconfig's CA reaches /readyz: the serving cert has the right SANs."""
    config = yaml.safe_load(Path(kubeconfig).read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    files = {}
    for name, data in (
        ("ca.crt", cluster["certificate-authority-data"]),
        ("client.crt", user["client-certificate-data"]),
        ("client.key", user["client-key-data"]),
    ):
        files[name] = tmp_path / name
        files[name].write_bytes(base64.b64decode(data))
    answer = requests.get(
        f"{cluster['server']}/readyz",
        verify=files["ca.crt"],
        cert=(files["client.crt"], files["client.key"]),
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.text == "ok"


def test_cluster_dns_and_default_service_account_exist(kube):
    service = kube.json("-n", "kube-system", "get", "service", "kube-dns")
    assert service["spec"]["clusterIP"] == "10.96.0.10"
    kube("-n", "default", "get", "serviceaccount", "default")
