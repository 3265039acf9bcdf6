"""A locally built image runs, its Service answers by DNS name from another pod, exec and logs work."""

from __future__ import annotations

import uuid

import pytest

from lab.kube import wait_for

ROLLOUT_TIMEOUT = "90s"  # image is local (no pull); the time is container start on a busy 2-core machine


def workload(name: str, image: str, replicas: int = 1) -> dict:
    labels = {"app": name}
    container = {
        "name": name,
        "image": image,
        "imagePullPolicy": "Never",
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 2},
            },
        },
    }


def service(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


@pytest.fixture(scope="module")
def web(ns_kube, test_image) -> str:
    """Deployment + Service `web` from the locally built image, rolled out."""
    ns_kube.apply(workload("web", test_image))
    ns_kube.apply(service("web"))
    ns_kube("rollout", "status", "deployment/web", f"--timeout={ROLLOUT_TIMEOUT}", timeout=120)
    return ns_kube.json("get", "pods", "-l", "app=web")["items"][0]["metadata"]["name"]


@pytest.fixture(scope="module")
def client(ns_kube, test_image, web) -> str:
    """A second pod (same image) to call the Service from."""
    ns_kube.apply(workload("client", test_image))
    ns_kube("rollout", "status", "deployment/client", f"--timeout={ROLLOUT_TIMEOUT}", timeout=120)
    return ns_kube.json("get", "pods", "-l", "app=client")["items"][0]["metadata"]["name"]


def test_deployment_of_a_locally_built_image_runs(ns_kube, web, test_image):
    pod = ns_kube.json("get", "pod", web)
    assert pod["status"]["phase"] == "Running"
    assert pod["spec"]["containers"][0]["image"] == test_image
    assert pod["status"]["containerStatuses"][0]["ready"] is True


def http_get_from(ns_kube, pod: str, url: str) -> str:
    code = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode(), end='')"
    return ns_kube("exec", pod, "--", "python", "-c", code, timeout=30)


# Endpoints and kube-proxy rules follow readiness within a sync (minSyncPeriod 1 s); 30 s covers a busy machine.
FETCH_DEADLINE = 30


def fetch(ns_kube, pod: str, url: str) -> str:
    """``url``'s body as ``pod`` gets it, retried while the exec fails; at the deadline an AssertionError that ends
    with the last failure (kubectl's stderr: the client's traceback, e.g. ``timed out``)."""
    return wait_for(lambda: http_get_from(ns_kube, pod, url), FETCH_DEADLINE, what=f"{url} answering {pod}")


def test_service_is_reachable_by_dns_name_from_another_pod(ns_kube, web, client):
    short = fetch(ns_kube, client, "http://web/short")
    fqdn = fetch(ns_kube, client, f"http://web.{ns_kube.namespace}.svc.cluster.local/fqdn")
    assert short == f"{web} /short\n"
    assert fqdn == f"{web} /fqdn\n"


def test_pod_reaches_itself_through_its_own_service(ns_kube, web):
    """Hairpin traffic (pod -> Service IP -> same pod) needs hairpin mode on the bridge port."""
    assert fetch(ns_kube, web, "http://web/hairpin") == f"{web} /hairpin\n"


def test_exec_and_logs(ns_kube, web):
    assert ns_kube("exec", web, "--", "cat", "/etc/hostname").strip() == web
    marker = f"/marker-{uuid.uuid4().hex}"
    http_get_from(ns_kube, web, f"http://127.0.0.1:8080{marker}")
    logs = ns_kube("logs", web)
    assert f"listening on 8080 as {web}" in logs
    assert f'"GET {marker} HTTP/1.1" 200' in logs
