"""The EKS overlay (deploy/eks) renders with the lab's kubectl into the base's services minus everything LocalStack.

What is checked against the base manifests (candidate-project/kubernetes), never against retyped values: every base
object is either carried over or is LocalStack's or the dummy keys'; each service's container equals the base's
container with only the documented changes (endpoint and keys removed, region, registry and tag from params.env,
pull policy), so images and probes are the same; the ServiceAccount carries params.env's role ARN; the objects pass
the cluster's schema, Pod Security "restricted" and the services' own config validation. Each check is also shown
to fail on a broken input.
"""

from __future__ import annotations

import copy
import shutil
from typing import Any

import kubernetes_validate
import pytest
import yaml

from lab.eks import OVERLAY_DIR, REPO, ROLE_ANNOTATION, SERVICE_ACCOUNT, read_params, render
from tests.manifests.conftest import MANIFEST_DIR, SERVICES, container_of, load_objects
from tests.manifests.test_contract import LOADERS, env_values
from tests.manifests.test_schema import cluster_version, minor
from tests.manifests.test_security import hardening_problems, restricted_problems

# Environment the overlay removes: the emulator's address and the Secret's dummy keys.
REMOVED_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
DUMMY_SECRET = "aws-credentials"

Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def rendered_text() -> str:
    return render()


@pytest.fixture(scope="module")
def rendered(rendered_text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(rendered_text) if doc is not None]


@pytest.fixture
def overlay(rendered: list[Manifest]) -> list[Manifest]:
    return copy.deepcopy(rendered)


def base_docs() -> list[Manifest]:
    return [doc for _, doc in load_objects(MANIFEST_DIR)]


def key(doc: Manifest) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def is_emulator_side(doc: Manifest) -> bool:
    """LocalStack's objects (labelled app=localstack) and the dummy keys it accepts."""
    return doc["metadata"].get("labels", {}).get("app") == "localstack" or key(doc) == ("Secret", DUMMY_SECRET)


def by_key(docs: list[Manifest]) -> dict[tuple[str, str], Manifest]:
    return {key(doc): doc for doc in docs}


def expected_deployment(base: Manifest, params: dict[str, str]) -> Manifest:
    """The base Deployment with exactly the changes the overlay documents (patch-services.yaml, replacements)."""
    want = copy.deepcopy(base)
    pod = want["spec"]["template"]["spec"]
    pod["serviceAccountName"] = SERVICE_ACCOUNT
    container = container_of(want)
    container["env"] = [e for e in container["env"] if e["name"] not in REMOVED_ENV]
    for entry in container["env"]:
        if entry["name"] == "AWS_DEFAULT_REGION":
            entry["value"] = params["AWS_REGION"]
    container["image"] = f"{params['IMAGE_REGISTRY']}/{container['image']}:{params['IMAGE_TAG']}"
    container["imagePullPolicy"] = "IfNotPresent"
    return want


def deployment_problems(overlay: list[Manifest], base: list[Manifest], params: dict[str, str]) -> list[str]:
    rendered, problems = by_key(overlay), []
    for name in SERVICES:
        got, want = rendered.get(("Deployment", name)), expected_deployment(by_key(base)[("Deployment", name)], params)
        if got != want:
            problems.append(f"Deployment {name} differs from the base beyond the overlay's changes")
    return problems


def test_overlay_renders_the_base_services_and_nothing_of_localstack(rendered):
    kept = {key(doc) for doc in base_docs() if not is_emulator_side(doc)}
    assert {key(doc) for doc in rendered} == kept | {("ServiceAccount", SERVICE_ACCOUNT)}
    assert [key(doc) for doc in rendered if is_emulator_side(doc)] == []


def test_no_localstack_endpoint_or_dummy_keys_anywhere(rendered_text):
    for needle in ("localstack", "4566", *REMOVED_ENV, DUMMY_SECRET):
        assert needle.lower() not in rendered_text.lower(), needle


def test_services_are_the_base_with_only_the_overlay_changes(overlay):
    assert deployment_problems(overlay, base_docs(), read_params()) == []


@pytest.mark.parametrize("name", SERVICES)
def test_same_images_and_probes_as_the_base(rendered, name):
    got = container_of(by_key(rendered)[("Deployment", name)])
    want = container_of(by_key(base_docs())[("Deployment", name)])
    assert got["image"].rsplit("/", 1)[-1].split(":")[0] == want["image"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert got.get(probe) == want.get(probe), probe


def test_service_account_carries_the_role_from_params(rendered):
    account = by_key(rendered)[("ServiceAccount", SERVICE_ACCOUNT)]
    assert account["metadata"]["annotations"] == {ROLE_ANNOTATION: read_params()["ROLE_ARN"]}
    for name in SERVICES:
        assert by_key(rendered)[("Deployment", name)]["spec"]["template"]["spec"]["serviceAccountName"] == (
            SERVICE_ACCOUNT
        )


def test_params_are_parameters_not_constants(tmp_path):
    """Another params.env renders other values: the role, region, registry and tag are read, not hard-coded."""
    shutil.copytree(OVERLAY_DIR, tmp_path / "deploy" / "eks")
    (tmp_path / "candidate-project").symlink_to(REPO / "candidate-project")
    other = {
        "ROLE_ARN": "arn:aws:iam::123456789012:role/lab",
        "AWS_REGION": "eu-west-1",
        "IMAGE_REGISTRY": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/lab",
        "IMAGE_TAG": "abc123",
    }
    assert set(other) == set(read_params())
    (tmp_path / "deploy" / "eks" / "params.env").write_text("".join(f"{k}={v}\n" for k, v in other.items()))
    docs = [doc for doc in yaml.safe_load_all(render(tmp_path / "deploy" / "eks")) if doc]
    assert deployment_problems(docs, base_docs(), other) == []
    account = by_key(docs)[("ServiceAccount", SERVICE_ACCOUNT)]
    assert account["metadata"]["annotations"][ROLE_ANNOTATION] == other["ROLE_ARN"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c["livenessProbe"].update(periodSeconds=10),
        lambda c: c.update(image="consumer:other"),
        lambda c: c["env"].append({"name": "AWS_ENDPOINT_URL", "value": "http://localstack:4566"}),
    ],
    ids=["probe", "image", "endpoint"],
)
def test_comparison_with_the_base_flags_a_drift(overlay, mutate):
    mutate(container_of(by_key(overlay)[("Deployment", "consumer")]))
    assert deployment_problems(overlay, base_docs(), read_params()) == [
        "Deployment consumer differs from the base beyond the overlay's changes"
    ]


def test_objects_validate_against_the_cluster_schema(rendered):
    for doc in rendered:
        assert kubernetes_validate.validate(doc, cluster_version(), strict=True) == minor(cluster_version()), key(doc)


@pytest.mark.parametrize("name", SERVICES)
def test_deployments_stay_restricted_and_accept_their_environment(rendered, name):
    deployment = by_key(rendered)[("Deployment", name)]
    assert restricted_problems(deployment) == []
    assert hardening_problems(deployment) == []
    env = env_values(container_of(deployment))
    config = LOADERS[name]({**env, "POD_NAME": f"{name}-pod"})
    assert config.common.endpoint_url is None and config.common.region == read_params()["AWS_REGION"]
