"""minikube, started air-gapped through pytest-kubernetes' own minikube provider, gives a working cluster.

What it proves (issue 8): with the settings `eval "$(hack/offline-cluster/offline-cluster env)"` exports
(MINIKUBE_*), the real minikube binary starts a node from the locally built image, and that node is Ready on the
pinned Kubernetes version with the docker runtime, resolves cluster DNS, routes a Service, runs an image loaded
with `minikube image load` (the provider's `load_image`) and one built through `minikube docker-env`, already holds
the LocalStack image, and restarts a container whose liveness probe fails. The profile is this module's own
(pytest-lab-minikube-tier) and is deleted afterwards. Select these tests with `-k minikube`.

Every check is a function returning its problems, and the `test_check_*` tests feed each one a broken case, so a
check that cannot fail is itself a failing test.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from pytest_kubernetes.options import ClusterOptions

from lab.kube import Kube, holds, wait_for
from lab.providers import LabMinikubeManager, short_name
from tests.cluster.conftest import IMAGE_DIR, TEST_IMAGE, pinned_k8s_version
from tests.cluster.test_liveness import CONTAINER, RESTART_DEADLINE, unhealthy_pod
from tests.cluster.test_workloads import fetch

pytestmark = pytest.mark.minikube  # selected by --k8s-provider=minikube (tests/cluster/conftest.py)

PROFILE = "lab-minikube-tier"  # pytest-kubernetes names the minikube profile pytest-<name>
START_TIMEOUT = 900  # seconds for `minikube start`; measured ~2-4 min on the loaded 2-core machine
REQUIRED_ENV = ("MINIKUBE_BASE_IMAGE", "MINIKUBE_KUBERNETES_VERSION", "MINIKUBE_CONTAINER_RUNTIME")
LOCALSTACK_IMAGE = "docker.io/localstack/localstack:4.14.0"
POD_TIMEOUT = 120  # seconds for a pod of a local image to finish: container start on a busy 2-core machine


def node_problems(node: dict, version: str) -> list[str]:
    """What is wrong with a node for the lab: not Ready, another kubelet version, not the docker runtime."""
    info, problems = node["status"]["nodeInfo"], []
    ready = [c for c in node["status"].get("conditions", []) if c["type"] == "Ready"]
    if not ready or ready[0]["status"] != "True":
        problems.append(f"node not Ready: {ready}")
    if info["kubeletVersion"] != version:
        problems.append(f"kubelet {info['kubeletVersion']}, expected {version}")
    if not info["containerRuntimeVersion"].startswith("docker://"):
        problems.append(f"runtime {info['containerRuntimeVersion']}, expected docker (cri-dockerd)")
    return problems


def image_problems(listed: str, image: str) -> list[str]:
    """`minikube image ls` output must name IMAGE (it writes docker.io/library/NAME for a plain NAME)."""
    names = {short_name(line) for line in listed.splitlines()}
    return [] if short_name(image) in names else [f"{image} not in the node: {sorted(names)}"]


def minikube(*args: str, timeout: float = 300, env: dict | None = None) -> str:
    done = subprocess.run(["minikube", *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)
    assert done.returncode == 0, f"minikube {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def cluster(k8s_manager) -> Iterator:
    """A minikube cluster of this module's own, started with pytest-kubernetes' minikube provider."""
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail(f'{missing} not set: run eval "$(hack/offline-cluster/offline-cluster env)" first', pytrace=False)
    manager = k8s_manager("minikube")(PROFILE)
    try:
        version = pinned_k8s_version().removeprefix("v")  # the provider adds the "v" itself
        manager.create(ClusterOptions(api_version=version, cluster_timeout=START_TIMEOUT), timeout=120)
    except BaseException:
        subprocess.run(["minikube", "logs", "-p", manager.cluster_name, "--file", "artifacts/minikube-tier.log"])
        manager.delete()
        raise
    yield manager
    manager.delete()


@pytest.fixture(scope="module")
def kube(cluster) -> Iterator[Kube]:
    """kubectl bound to a fresh namespace of the minikube cluster."""
    namespace = f"minikube-test-{uuid.uuid4().hex[:6]}"
    Kube(cluster)("create", "namespace", namespace)
    yield Kube(cluster, namespace)


def run_to_completion(kube: Kube, name: str, image: str, command: list[str]) -> tuple[str, str]:
    """Run a one-shot pod; return its phase (Succeeded/Failed) and its log."""
    kube("run", name, "--image", image, "--image-pull-policy=Never", "--restart=Never", "--command", "--", *command)
    phase = wait_for(lambda: finished(kube.json("get", "pod", name)), POD_TIMEOUT, what=f"pod {name} to finish")
    return phase, kube("logs", name)


def finished(pod: dict) -> str | None:
    phase = pod["status"].get("phase")
    return phase if phase in ("Succeeded", "Failed") else None


def waiting_reason(pod: dict) -> str | None:
    """The kubelet's verdict on a waiting container; None while it is still being created."""
    statuses = pod["status"].get("containerStatuses") or [{}]
    reason = statuses[0].get("state", {}).get("waiting", {}).get("reason")
    return None if reason in (None, "ContainerCreating", "PodInitializing") else reason


def restarts(kube: Kube, pod: str) -> int:
    return kube.restart_count(pod, CONTAINER)


def test_minikube_node_ready_on_pinned_version_with_docker_runtime(kube):
    nodes = kube.json("get", "nodes")["items"]
    assert len(nodes) == 1
    assert node_problems(nodes[0], pinned_k8s_version()) == []


def test_minikube_cluster_dns_resolves_the_api_service(kube):
    api_ip = Kube(kube.manager, "default").json("get", "service", "kubernetes")["spec"]["clusterIP"]
    script = "import socket; print(socket.gethostbyname('kubernetes.default.svc.cluster.local'))"
    phase, log = run_to_completion(kube, "dns", "python:3.11-slim", ["python", "-c", script])
    assert (phase, log.strip()) == ("Succeeded", api_ip)


def test_minikube_image_load_and_service_by_dns_name(cluster, kube):
    subprocess.run(["docker", "build", "-q", "-t", TEST_IMAGE, str(IMAGE_DIR)], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_BUILDKIT": "0"})  # fmt: skip
    cluster.load_image(TEST_IMAGE)  # pytest-kubernetes: `minikube image load IMAGE -p PROFILE`
    assert image_problems(minikube("image", "ls", "-p", cluster.cluster_name), TEST_IMAGE) == []
    kube("create", "deployment", "web", "--image", TEST_IMAGE, "--port", "8080")
    # Ready only once it listens (as the other tiers' `workload`): without a readiness probe `rollout status` returned
    # before the server answered and the client met "connection refused" (CI phase run here, 2026-12-03).
    kube("patch", "deployment", "web", "--type=json", "-p",
         '[{"op": "add", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Never"},'
         ' {"op": "add", "path": "/spec/template/spec/containers/0/readinessProbe",'
         ' "value": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 1}}]')  # fmt: skip
    kube("expose", "deployment", "web", "--port", "80", "--target-port", "8080")
    kube("rollout", "status", "deployment/web", f"--timeout={POD_TIMEOUT}s", timeout=POD_TIMEOUT + 10)
    # Ready is not yet routable: kube-proxy writes the new Service's rules within a sync after the endpoint turns
    # ready, and until then the Service IP refuses (CI stop 15, 2026-12-04 22:03 UTC: "connection refused" right
    # after `rollout status`). So the client is a long-lived pod and the fetch is retried to the workloads tier's
    # FETCH_DEADLINE, which is derived from kube-proxy's minSyncPeriod.
    kube("run", "client", "--image", TEST_IMAGE, "--image-pull-policy=Never", "--command", "--", "sleep", "3600")
    kube("wait", "--for=condition=Ready", "pod/client", f"--timeout={POD_TIMEOUT}s", timeout=POD_TIMEOUT + 10)
    answer = fetch(kube, "client", f"http://web.{kube.namespace}.svc.cluster.local/hello")
    assert answer.strip().endswith(" /hello"), answer


def test_minikube_node_never_pulls_an_image_it_does_not_hold(kube):
    kube("run", "absent", "--image", "lab-never-loaded:1", "--image-pull-policy=Never", "--restart=Never")
    reason = wait_for(lambda: waiting_reason(kube.json("get", "pod", "absent")), POD_TIMEOUT, what="a verdict")
    assert reason == "ErrImageNeverPull"


def test_minikube_node_holds_localstack_without_pulling(cluster):
    assert image_problems(minikube("image", "ls", "-p", cluster.cluster_name), LOCALSTACK_IMAGE) == []


def test_minikube_docker_env_builds_into_the_node(cluster, kube):
    exports = minikube("-p", cluster.cluster_name, "docker-env", "--shell", "bash")
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    for line in exports.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip('"')
    assert env.get("DOCKER_HOST", "").startswith("tcp://"), exports  # the node's dockerd, not the host's socket
    assert env.get("MINIKUBE_ACTIVE_DOCKERD") == cluster.cluster_name, exports
    subprocess.run(["docker", "build", "-q", "-t", "lab-docker-env-test", str(IMAGE_DIR)], check=True, env=env)
    phase, log = run_to_completion(kube, "built-in-node", "lab-docker-env-test", ["python", "-c", "print('ran')"])
    assert (phase, log.strip()) == ("Succeeded", "ran")


def start_probed_pod(cluster, kube: Kube, name: str, healthy: bool) -> None:
    """tests/cluster/test_liveness.py's pod (same probe and deadline), answering /health 500 unless HEALTHY."""
    cluster.load_image(TEST_IMAGE)
    pod = unhealthy_pod(TEST_IMAGE)
    pod["metadata"].update(name=name, namespace=kube.namespace)
    if healthy:
        pod["spec"]["containers"][0]["env"] = []
    # Kube.apply, not pytest-kubernetes' apply(dict): that echoes YAML through a single-quoted shell string, which
    # turns the quoted env value '500' into a number the API rejects.
    kube.apply(pod)
    kube.wait("jsonpath={.status.phase}=Running", POD_TIMEOUT, f"pod/{name}")


def test_minikube_liveness_failure_restarts_the_container(cluster, kube):
    start_probed_pod(cluster, kube, "unhealthy", healthy=False)
    assert wait_for(lambda: restarts(kube, "unhealthy") > 0, RESTART_DEADLINE, what="a liveness restart")
    reasons = [(e["reason"], e["message"]) for e in kube.events("unhealthy")]
    assert any(r == "Killing" and "failed liveness probe" in m for r, m in reasons), reasons


def test_minikube_healthy_container_is_not_restarted_within_the_same_deadline(cluster, kube):
    """The bad case of the test above: the same wait on a healthy pod must not see a restart."""
    start_probed_pod(cluster, kube, "healthy", healthy=True)
    assert holds(lambda: restarts(kube, "healthy") == 0, RESTART_DEADLINE)


def test_check_node_problems_catches_each_fault():
    good = {
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.34.12", "containerRuntimeVersion": "docker://20.10.24"},
        }
    }
    assert node_problems(good, "v1.34.12") == []
    assert node_problems(good, "v1.34.11")  # another version
    not_ready = {**good, "status": {**good["status"], "conditions": [{"type": "Ready", "status": "False"}]}}
    assert node_problems(not_ready, "v1.34.12")
    containerd = {"status": {**good["status"], "nodeInfo": {**good["status"]["nodeInfo"]}}}
    containerd["status"]["nodeInfo"]["containerRuntimeVersion"] = "containerd://1.6.20"
    assert node_problems(containerd, "v1.34.12")


def test_check_image_problems_catches_a_missing_image():
    listed = "docker.io/localstack/localstack:4.14.0\nregistry.k8s.io/pause:3.10.1\ndocker.io/library/web:latest\n"
    assert image_problems(listed, LOCALSTACK_IMAGE) == []
    assert image_problems(listed, "web:latest") == []
    assert image_problems(listed, "web:other")
    assert image_problems(listed, "localstack/localstack:4.13.0")


def test_check_pod_state_readers_on_broken_cases():
    assert finished({"status": {"phase": "Running"}}) is None
    assert finished({"status": {"phase": "Failed"}}) == "Failed"
    assert waiting_reason({"status": {}}) is None
    creating = {"status": {"containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}]}}
    assert waiting_reason(creating) is None
    never = {"status": {"containerStatuses": [{"state": {"waiting": {"reason": "ErrImageNeverPull"}}}]}}
    assert waiting_reason(never) == "ErrImageNeverPull"


def control_plane_starts(kube: Kube) -> list[tuple[str, int, str | None]]:
    """(container, restarts, running since) of the profile's etcd and API server."""
    pods = Kube(kube.manager, "kube-system").json("get", "pods")["items"]
    return [
        (c["name"], c["restartCount"], c["state"].get("running", {}).get("startedAt"))
        for pod in pods
        if pod["metadata"]["name"].startswith(("etcd-", "kube-apiserver-"))
        for c in pod["status"]["containerStatuses"]
    ]


def test_minikube_reuse_leaves_the_running_control_plane_alone(kube):
    """The lab reuses a running profile (a second run, ``--keep-cluster``) without ``minikube start``, which restarts
    the control plane (seen 2026-12-07: etcd down ~3 min after a few reuses, the API server in CrashLoopBackOff)."""
    before = control_plane_starts(kube)
    assert len(before) == 2 and all(since for _, _, since in before), before
    manager, created = LabMinikubeManager.lab_start(PROFILE, None, print)
    assert not created and manager.cluster_name == kube.manager.cluster_name
    assert Kube(manager).json("get", "nodes")["items"], "the reused kubeconfig reaches the API"
    assert control_plane_starts(kube) == before
