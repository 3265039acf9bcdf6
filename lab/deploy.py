"""The lab as deployed in one namespace: apply the manifests, wait for them, read probe settings back.

Why deadlines come from the API and not from the YAML files: the live Deployment is what the kubelet acts on
(defaults filled in, patches applied), so every wait in the suite is computed from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from lab.kube import Kube
from lab.offline import REPO
from lab.probes import Probe

MANIFESTS = REPO / "candidate-project" / "kubernetes"
APPS = ("localstack", "producer", "consumer")
SERVICES = ("producer", "consumer")
DEFAULT_PROGRESS_DEADLINE = 600  # Deployment spec.progressDeadlineSeconds default


def registry_images() -> tuple[str, ...]:
    """Images the manifests would pull (imagePullPolicy other than Never): LocalStack's. The lab's machines reach no
    registry, so the suite loads them into the cluster like its own images; the manifests stay the one owner."""
    found: list[str] = []
    for path in sorted(MANIFESTS.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            spec = ((doc or {}).get("spec") or {}).get("template", {}).get("spec", {})
            for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
                if container.get("imagePullPolicy") != "Never" and container["image"] not in found:
                    found.append(container["image"])
    return tuple(found)


@dataclass(frozen=True)
class Lab:
    """The three Deployments of the exercise in ``kube.namespace``."""

    kube: Kube

    @property
    def namespace(self) -> str:
        return str(self.kube.namespace)

    def apply(self) -> str:
        """``kubectl apply -n NS -f candidate-project/kubernetes`` — the exercise's command, in our namespace."""
        return self.kube("apply", "-f", str(MANIFESTS), timeout=120)

    def progress_deadline(self, app: str) -> float:
        """The Deployment's own bound for a rollout; `rollout status` reports failure when it passes."""
        spec = self.kube.deployment(app)["spec"]
        return float(spec.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE))

    def wait_rolled_out(self, apps: tuple[str, ...] = APPS) -> None:
        """``kubectl rollout status`` for each Deployment, bounded by its progressDeadlineSeconds."""
        for app in apps:
            self.kube.rollout_status(f"deployment/{app}", self.progress_deadline(app))

    def probe(self, app: str, kind: str = "livenessProbe") -> Probe:
        """The probe of ``app``'s container as the live Deployment defines it."""
        spec = self.kube.deployment(app)["spec"]["template"]["spec"]
        return Probe.from_pod_template(spec, app, kind)

    def env(self, app: str, name: str, default: str | None = None) -> str | None:
        """A literal env value of ``app``'s container in the live Deployment (e.g. HEARTBEAT_MAX_AGE_SECONDS)."""
        spec = self.kube.deployment(app)["spec"]["template"]["spec"]
        for container in spec["containers"]:
            if container["name"] == app:
                for item in container.get("env", []):
                    if item["name"] == name and "value" in item:
                        return str(item["value"])
        return default

    def heartbeat_max_age(self, app: str) -> float:
        """HEARTBEAT_MAX_AGE_SECONDS of the service (contract default 60 when the manifest does not set it)."""
        return float(self.env(app, "HEARTBEAT_MAX_AGE_SECONDS", "60") or 60)

    def pod(self, app: str) -> str:
        return str(self.kube.pod(app)["metadata"]["name"])

    def curl_health(self, app: str, path: str = "/health") -> str:
        """The exercise's manual check: ``kubectl exec POD -- curl -s http://0.0.0.0:5000/health``."""
        return self.kube.exec(self.pod(app), app, "curl", "-s", f"http://0.0.0.0:5000{path}")

    def scale(self, app: str, replicas: int) -> None:
        self.kube("scale", f"deployment/{app}", f"--replicas={replicas}")
