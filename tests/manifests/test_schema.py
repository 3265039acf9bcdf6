"""Every object validates against the Kubernetes API schema of the version the lab's clusters run.

kubernetes-validate ships the OpenAPI-derived JSON schemas per minor version; strict mode rejects unknown fields,
which is how a typo such as `periodSecond` (silently ignored by a lenient parser, so the probe would run with the
default period) is caught before a cluster sees it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest

VERSIONS_ENV = Path(__file__).resolve().parents[2] / "hack" / "offline-cluster" / "versions.env"
# The offline cluster's Kubernetes (hack/offline-cluster/versions.env); used when that file is not there yet.
DEFAULT_K8S_VERSION = "1.34.12"


def cluster_version() -> str:
    """The Kubernetes version CI's cluster runs, without the leading v."""
    if VERSIONS_ENV.exists():
        for line in VERSIONS_ENV.read_text().splitlines():
            if line.startswith("K8S_VERSION="):
                return line.split("=", 1)[1].strip().strip("\"'").lstrip("v")
    return DEFAULT_K8S_VERSION


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def test_schema_for_the_cluster_version_is_shipped():
    """kubernetes-validate falls back to an older schema silently; make sure the 1.34 one exists."""
    shipped = {minor(v) for v in kubernetes_validate.utils.all_versions()}
    assert minor(cluster_version()) in shipped


def test_every_object_is_valid_for_the_cluster_version(parsed_objects):
    version = cluster_version()
    for path, doc in parsed_objects:
        used = kubernetes_validate.validate(doc, version, strict=True)
        assert used == minor(version), f"{path.name}: validated against {used}, not {minor(version)}"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c["livenessProbe"].update(periodSecond=5),  # misspelt field
        lambda c: c["livenessProbe"].update(failureThreshold="3"),  # wrong type
        lambda c: c.pop("name"),  # required field missing
    ],
    ids=["unknown-field", "wrong-type", "missing-name"],
)
def test_schema_validation_rejects_broken_objects(service_deployment, mutate):
    broken = copy.deepcopy(service_deployment)
    mutate(broken["spec"]["template"]["spec"]["containers"][0])
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, cluster_version(), strict=True)
