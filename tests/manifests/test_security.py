"""Pod Security "restricted", resources and image settings of the lab's services.

The restricted rules are checked field by field (Kubernetes' Pod Security Standards, v1.34), so a failure names the
field; each check is shown to fail on a copy with that field broken.
"""

from __future__ import annotations

from typing import Any

import pytest

# Volume types the "restricted" profile allows.
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip


def restricted_problems(deployment: dict[str, Any]) -> list[str]:
    """Violations of the Pod Security "restricted" profile in a Deployment's pod template."""
    pod = deployment["spec"]["template"]["spec"]
    pod_sc = pod.get("securityContext") or {}
    problems = [f"pod {field} must not be set" for field in ("hostNetwork", "hostPID", "hostIPC") if pod.get(field)]
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} of type {sorted(kinds)} is not allowed")
    for container in pod["containers"] + pod.get("initContainers", []):
        sc = container.get("securityContext") or {}
        name = container["name"]
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation must be false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{name}: capabilities must drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps['add']}")
        if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot must be true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{name}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile must be RuntimeDefault or Localhost, got {seccomp!r}")
    return problems


def hardening_problems(deployment: dict[str, Any]) -> list[str]:
    """What the lab asks beyond "restricted": the image's uid, a read-only root with a writable /tmp."""
    pod = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == deployment["metadata"]["name"])
    sc = container.get("securityContext") or {}
    problems = []
    if sc.get("runAsUser", pod.get("securityContext", {}).get("runAsUser")) != 10001:
        problems.append("must run as uid 10001 (the image's user)")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem must be true")
    tmp_mounts = [m["name"] for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    if not tmp_mounts or tmp_mounts[0] not in empty_dirs:
        problems.append("/tmp must be an emptyDir (the only writable path)")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken must be false (no Kubernetes API access needed)")
    return problems


def test_services_meet_pod_security_restricted(service_deployment):
    assert restricted_problems(service_deployment) == []


def test_services_are_hardened_beyond_restricted(service_deployment):
    assert hardening_problems(service_deployment) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("securityContext", "allowPrivilegeEscalation"), True, "allowPrivilegeEscalation"),
        (("securityContext", "capabilities", "drop"), [], "drop ALL"),
        (("securityContext", "capabilities", "add"), ["NET_ADMIN"], "adds capabilities"),
        (("securityContext", "privileged"), True, "privileged"),
        (("securityContext", "runAsNonRoot"), False, "runAsNonRoot"),
        (("securityContext", "seccompProfile"), {"type": "Unconfined"}, "seccompProfile"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else None,
)
def test_restricted_check_flags_broken_container(service_deployment, service_container, path, value, expected):
    target = service_container
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    assert any(expected in problem for problem in restricted_problems(service_deployment))


def test_restricted_check_flags_host_path_volume(service_deployment):
    service_deployment["spec"]["template"]["spec"]["volumes"].append({"name": "x", "hostPath": {"path": "/"}})
    assert any("hostPath" in problem for problem in restricted_problems(service_deployment))


def test_hardening_check_flags_writable_root(service_container, service_deployment):
    service_container["securityContext"]["readOnlyRootFilesystem"] = False
    assert hardening_problems(service_deployment) == ["readOnlyRootFilesystem must be true"]


@pytest.mark.parametrize("kind", ["requests", "limits"])
def test_services_set_cpu_and_memory(service_container, kind):
    resources = service_container["resources"][kind]
    assert set(resources) == {"cpu", "memory"}


def test_memory_limit_covers_request(service_container):
    def mebibytes(quantity: str) -> int:
        number, unit = quantity[:-2], quantity[-2:]
        assert unit in ("Mi", "Gi"), quantity
        return int(number) * (1024 if unit == "Gi" else 1)

    resources = service_container["resources"]
    assert mebibytes(resources["limits"]["memory"]) >= mebibytes(resources["requests"]["memory"])


def test_services_use_locally_built_images(service_deployment, service_container):
    """`imagePullPolicy: Never`: images are built into the cluster's runtime; there is no registry to pull from."""
    assert service_container["image"] == service_deployment["metadata"]["name"]
    assert service_container["imagePullPolicy"] == "Never"


def test_localstack_image_is_pinned(localstack_container):
    """Tags after 4.14.0 need an auth token; `latest` would silently move. The offline cluster preloads this tag."""
    assert localstack_container["image"] == "localstack/localstack:4.14.0"
    assert localstack_container["imagePullPolicy"] == "IfNotPresent"


def test_localstack_has_resources_and_memory_limit(localstack_container):
    resources = localstack_container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    assert resources["limits"]["memory"] == "1Gi"


def test_localstack_is_replaced_not_rolled(localstack_deployment):
    """Two LocalStacks behind one Service would split the in-memory queues between them."""
    assert localstack_deployment["spec"]["strategy"]["type"] == "Recreate"
    assert localstack_deployment["spec"]["replicas"] == 1
