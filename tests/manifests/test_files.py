"""What `kubectl apply -f candidate-project/kubernetes` reads, and how the objects refer to each other.

kubectl (k8s.io/cli-runtime) visits a directory without recursing, reads only .json/.yaml/.yml files and skips the
rest, so a README.md there is fine; but a stray YAML file that is not a Kubernetes object (a values or compose
file) makes the whole apply fail, and a manifest in a sub-folder is silently never applied.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml


def directory_problems(directory: Path, directory_loader) -> list[str]:
    """What would make `kubectl apply -f directory` fail, or silently skip a manifest."""
    kubectl_reads, _ = directory_loader
    problems = [f"sub-folder {p.name}/ is not applied by `kubectl apply -f`" for p in directory.iterdir() if p.is_dir()]
    for path in kubectl_reads(directory):
        try:
            docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
        except yaml.YAMLError as error:
            problems.append(f"{path.name}: not YAML: {error}")
            continue
        for doc in docs:
            if not isinstance(doc, dict) or not {"apiVersion", "kind"} <= set(doc):
                problems.append(f"{path.name}: a document without apiVersion/kind (kubectl rejects the apply)")
            elif not doc.get("metadata", {}).get("name"):
                problems.append(f"{path.name}: {doc['kind']} without metadata.name")
    return problems


def test_directory_holds_only_what_kubectl_can_apply(manifest_dir, directory_loader):
    assert directory_problems(manifest_dir, directory_loader) == []


def test_directory_has_a_readme_that_kubectl_skips(manifest_dir, directory_loader):
    kubectl_reads, _ = directory_loader
    readme = manifest_dir / "README.md"
    assert readme.is_file()
    assert readme not in kubectl_reads(manifest_dir)


def test_directory_check_flags_stray_yaml_and_subfolders(tmp_path, directory_loader):
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "values.yaml").write_text("replicas: 2\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    problems = directory_problems(tmp_path, directory_loader)
    assert len(problems) == 2
    assert any("values.yaml" in p for p in problems)
    assert any("nested/" in p for p in problems)


def test_one_file_per_service(parsed_objects):
    """microservices-demo layout: each Deployment lives in the file named after it, with its Service/ConfigMap."""
    for path, doc in parsed_objects:
        if doc["kind"] == "Deployment":
            assert path.stem == doc["metadata"]["name"]


def test_expected_objects_exist_once(parsed_objects):
    found = Counter((doc["kind"], doc["metadata"]["name"]) for _, doc in parsed_objects)
    assert found == Counter(
        {
            ("Deployment", "localstack"): 1,
            ("Deployment", "producer"): 1,
            ("Deployment", "consumer"): 1,
            ("Service", "localstack"): 1,
            ("ConfigMap", "localstack-init"): 1,
            ("Secret", "aws-credentials"): 1,
        }
    )


def test_no_object_pins_a_namespace(parsed_objects):
    """`kubectl apply -n NS -f DIR` must work in any namespace (each e2e module uses its own)."""
    assert [path.name for path, doc in parsed_objects if "namespace" in doc["metadata"]] == []


def test_deployment_selectors_match_their_pods(objects):
    for doc in objects:
        if doc["kind"] != "Deployment":
            continue
        name = doc["metadata"]["name"]
        assert doc["spec"]["selector"]["matchLabels"] == {"app": name}
        assert doc["spec"]["template"]["metadata"]["labels"]["app"] == name


def test_localstack_service_reaches_the_edge_port(objects):
    service = next(d for d in objects if d["kind"] == "Service")
    deployment = next(d for d in objects if d["kind"] == "Deployment" and d["metadata"]["name"] == "localstack")
    container_ports = {
        p["name"]: p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    (port,) = service["spec"]["ports"]
    assert service["spec"]["selector"] == {"app": "localstack"}
    assert port["port"] == 4566
    assert container_ports[port["targetPort"]] == 4566
