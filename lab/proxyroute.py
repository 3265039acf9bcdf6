"""Put a proxy (Toxiproxy or faultproxy) between the services and LocalStack in one namespace, and take it out again.

Why ``kubectl set env`` and not edited manifests: the exercise's manifests stay exactly what users apply; the fault
suite deploys the proxy from tests/e2e/manifests next to them and changes only the services' ``AWS_ENDPOINT_URL``
(the variable botocore reads itself), which is also what a user would do by hand. The change rolls both services
(new pods), so the route is set up once per test module, before its faults, and undone afterwards to the value the
live Deployment had, each step bounded by the Deployment's progressDeadlineSeconds (`Lab.wait_rolled_out`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import yaml

from lab.aws import free_loopback_port
from lab.deploy import SERVICES, Lab
from lab.offline import REPO

OVERLAY = REPO / "tests" / "e2e" / "manifests"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
# Image name -> build context, for the overlay's images the suite builds itself like the services (`docker build -t
# NAME DIR`); an overlay image missing here is made by `offline-cluster build` (lab/toxiproxy).
BUILT_HERE = {"faultproxy": REPO / "faultproxy"}


def overlay_images() -> tuple[str, ...]:
    """Every image the overlay's Deployments run, read from the manifests (their one owner)."""
    found: list[str] = []
    for path in sorted(OVERLAY.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            spec = ((doc or {}).get("spec") or {}).get("template", {}).get("spec", {})
            for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
                if container["image"] not in found:
                    found.append(container["image"])
    return tuple(found)


def service_port(name: str, port_name: str) -> int:
    """A named port of the overlay's Service ``name`` (e.g. toxiproxy's ``api``), read from its manifest."""
    for doc in yaml.safe_load_all((OVERLAY / f"{name}.yaml").read_text()):
        if doc and doc.get("kind") == "Service" and doc["metadata"]["name"] == name:
            for port in doc["spec"]["ports"]:
                if port.get("name") == port_name:
                    return int(port["port"])
    raise KeyError(f"{OVERLAY / f'{name}.yaml'}: Service {name} has no port named {port_name}")


@dataclass(frozen=True)
class Route:
    """The services of ``lab`` talking to AWS through the overlay's ``proxy`` Service on its ``aws`` port."""

    lab: Lab
    proxy: str
    previous: dict[str, str | None]

    @property
    def endpoint(self) -> str:
        return f"http://{self.proxy}:{service_port(self.proxy, 'aws')}"


def set_endpoint(lab: Lab, values: dict[str, str | None]) -> None:
    """Set (or, for None, remove) each service's AWS_ENDPOINT_URL and wait until both have rolled out."""
    for app, value in values.items():
        setting = f"{ENDPOINT_VARIABLE}-" if value is None else f"{ENDPOINT_VARIABLE}={value}"
        lab.kube("set", "env", f"deployment/{app}", f"--containers={app}", setting)
    lab.wait_rolled_out(tuple(values))


@contextmanager
def routed(lab: Lab, proxy: str) -> Iterator[Route]:
    """Deploy the overlay's ``proxy`` into the lab's namespace and route both services through it for the block."""
    lab.kube("apply", "-f", str(OVERLAY / f"{proxy}.yaml"), timeout=120)
    lab.wait_rolled_out((proxy,))
    route = Route(lab, proxy, {app: lab.env(app, ENDPOINT_VARIABLE) for app in SERVICES})
    set_endpoint(lab, dict.fromkeys(SERVICES, route.endpoint))
    try:
        yield route
    finally:
        set_endpoint(lab, route.previous)


@contextmanager
def forwarded(lab: Lab, service: str, port: int, timeout: int = 60) -> Iterator[str]:
    """``http://127.0.0.1:FREE`` forwarded to ``svc/SERVICE:PORT`` of the lab's namespace for the block (loopback
    only, like the LocalStack forward in `lab.aws`)."""
    from pytest_kubernetes.portforwarding import PortForwarding

    local = free_loopback_port()
    manager = lab.kube.manager
    with PortForwarding(f"svc/{service}", (local, port), lab.namespace, manager.kubeconfig, manager.context, timeout):
        yield f"http://127.0.0.1:{local}"


@contextmanager
def proxied(lab: Lab, proxy: str, control_port: str) -> Iterator[tuple[Route, str]]:
    """`routed` plus a loopback forward of the proxy's control port (its Service port named ``control_port``)."""
    with routed(lab, proxy) as route, forwarded(lab, proxy, service_port(proxy, control_port)) as url:
        yield route, url
