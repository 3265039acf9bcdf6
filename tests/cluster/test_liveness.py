"""The kubelet restarts a container whose liveness probe fails, and says why in events."""

from __future__ import annotations

import pytest

from lab.kube import wait_for

PROBE = {"initialDelaySeconds": 1, "periodSeconds": 2, "timeoutSeconds": 1, "failureThreshold": 2}
GRACE_SECONDS = 2
CONTAINER = "unhealthy"  # the pod's one container (test_minikube.py renames the pod, not the container)
# Restart deadline, counted from the container's start: the first probe runs after initialDelaySeconds, the
# container is killed when failureThreshold probes in a row have failed (one periodSeconds apart, each allowed
# timeoutSeconds), it gets terminationGracePeriodSeconds to exit (it exits on SIGTERM at once), and the first
# restart is not backed off. Slack covers starting the new container on a busy 2-core CI machine.
SLACK_SECONDS = 20
RESTART_DEADLINE = (
    PROBE["initialDelaySeconds"]
    + PROBE["periodSeconds"] * PROBE["failureThreshold"]
    + PROBE["timeoutSeconds"]
    + GRACE_SECONDS
    + SLACK_SECONDS
)


def unhealthy_pod(image: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "unhealthy", "labels": {"app": "unhealthy"}},
        "spec": {
            "terminationGracePeriodSeconds": GRACE_SECONDS,
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image,
                    "imagePullPolicy": "Never",
                    "env": [{"name": "HEALTH_STATUS", "value": "500"}],  # /health always answers 500
                    "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, **PROBE},
                }
            ],
        },
    }


def restart_count(ns_kube) -> int:
    return ns_kube.restart_count("unhealthy", CONTAINER)


@pytest.fixture
def started_unhealthy_pod(ns_kube, test_image) -> None:
    ns_kube.apply(unhealthy_pod(test_image))
    # The clock for RESTART_DEADLINE starts once the container runs; scheduling is not what is measured.
    ns_kube("wait", "pod/unhealthy", "--for=jsonpath={.status.phase}=Running", "--timeout=90s", timeout=100)


def test_liveness_failure_restarts_the_container(ns_kube, started_unhealthy_pod):
    before = restart_count(ns_kube)
    assert wait_for(lambda: restart_count(ns_kube) > before, RESTART_DEADLINE, what="a liveness restart")

    events = ns_kube.json("get", "events", "--field-selector", "involvedObject.name=unhealthy")["items"]
    messages = [(e["reason"], e["message"]) for e in events]
    assert any(r == "Unhealthy" and "Liveness probe failed" in m for r, m in messages), messages
    assert any(r == "Killing" and "failed liveness probe" in m for r, m in messages), messages
