"""Fixtures for the manifests tier: the objects in candidate-project/kubernetes, parsed once, handed out as copies.

Why copies: several tests break a manifest on purpose (to prove that the check they rely on can fail); a deep copy
per test keeps one test's mutation out of the next test's input.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

# The lab's own services (built locally, probed on /health and /ready, hardened): lab.deploy owns the names.
from lab.deploy import SERVICES

MANIFEST_DIR = Path(__file__).resolve().parents[2] / "candidate-project" / "kubernetes"

# `kubectl apply -f DIR` reads exactly these suffixes (k8s.io/cli-runtime's FileExtensions) and skips other files.
KUBECTL_SUFFIXES = (".json", ".yaml", ".yml")


Manifest = dict[str, Any]


def kubectl_reads(directory: Path) -> list[Path]:
    """The files `kubectl apply -f DIRECTORY` reads: top level only, manifest suffixes only, sorted like kubectl."""
    return [path for path in sorted(directory.iterdir()) if path.is_file() and path.suffix in KUBECTL_SUFFIXES]


def load_objects(directory: Path = MANIFEST_DIR) -> list[tuple[Path, Manifest]]:
    """Every object kubectl would read from the directory, with the file it came from (empty documents dropped)."""
    objects = []
    for path in kubectl_reads(directory):
        with path.open(encoding="utf-8") as stream:
            objects.extend((path, doc) for doc in yaml.safe_load_all(stream) if doc is not None)
    return objects


@pytest.fixture(scope="session")
def manifest_dir() -> Path:
    return MANIFEST_DIR


@pytest.fixture(scope="session")
def directory_loader():
    """`kubectl_reads` and `load_objects` for tests that check a directory other than the real one."""
    return kubectl_reads, load_objects


@pytest.fixture(scope="session")
def parsed_objects() -> list[tuple[Path, Manifest]]:
    """Parsed once per session; tests get copies through the fixtures below."""
    return load_objects()


@pytest.fixture
def objects(parsed_objects: list[tuple[Path, Manifest]]) -> list[Manifest]:
    return [copy.deepcopy(doc) for _, doc in parsed_objects]


def find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    """The one object of that kind and name; a missing or duplicated object fails the test that asked for it."""
    matches = [doc for doc in objects if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name]
    assert len(matches) == 1, f"expected exactly one {kind}/{name} in {MANIFEST_DIR}, found {len(matches)}"
    return matches[0]


def container_of(deployment: Manifest) -> Manifest:
    """The container named like its Deployment (the interface e2e relies on: `kubectl logs deploy/X -c X`)."""
    name = deployment["metadata"]["name"]
    containers = deployment["spec"]["template"]["spec"]["containers"]
    matches = [c for c in containers if c.get("name") == name]
    assert len(matches) == 1, f"Deployment {name}: expected one container named {name}, got {containers!r}"
    return matches[0]


@pytest.fixture(params=SERVICES)
def service_deployment(request: pytest.FixtureRequest, objects: list[Manifest]) -> Manifest:
    """The producer's and the consumer's Deployment, one test run for each."""
    return find(objects, "Deployment", request.param)


@pytest.fixture
def service_container(service_deployment: Manifest) -> Manifest:
    """The container of `service_deployment` (same object, so mutating one mutates the other)."""
    return container_of(service_deployment)


@pytest.fixture
def localstack_deployment(objects: list[Manifest]) -> Manifest:
    return find(objects, "Deployment", "localstack")


@pytest.fixture
def localstack_container(localstack_deployment: Manifest) -> Manifest:
    return container_of(localstack_deployment)


@pytest.fixture
def init_configmap(objects: list[Manifest]) -> Manifest:
    return find(objects, "ConfigMap", "localstack-init")


@pytest.fixture
def init_script(init_configmap: Manifest) -> str:
    """The ready.d hook's text, as LocalStack will execute it."""
    scripts = {key: text for key, text in init_configmap["data"].items() if key.endswith(".sh")}
    assert len(scripts) == 1, f"ConfigMap localstack-init: expected one .sh script, got {sorted(scripts)}"
    return next(iter(scripts.values()))
