"""Routing the services through a proxy: what the overlay runs, and that the route is always undone."""

from __future__ import annotations

import pytest

from lab.deploy import Lab
from lab.providers import pinned
from lab.proxyroute import BUILT_HERE, ENDPOINT_VARIABLE, overlay_images, routed, service_port, set_endpoint


class FakeKube:
    """Records kubectl calls; Deployments carry one container each with the env given."""

    namespace = "lab-test"

    def __init__(self, env: dict[str, str | None]) -> None:
        self.env = dict(env)
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *args: str, timeout: float = 60) -> str:
        self.calls.append(args)
        if args[:2] == ("set", "env"):
            app, setting = args[2].split("/", 1)[1], args[4]
            self.env[app] = None if setting.endswith("-") else setting.split("=", 1)[1]
        return ""

    def deployment(self, name: str) -> dict:
        value = self.env.get(name)
        env = [] if value is None else [{"name": ENDPOINT_VARIABLE, "value": value}]
        return {
            "spec": {"progressDeadlineSeconds": 90, "template": {"spec": {"containers": [{"name": name, "env": env}]}}}
        }

    def rollout_status(self, kind_name: str, timeout: float) -> None:
        self.calls.append(("rollout", kind_name, str(timeout)))


def test_overlay_images_are_built_here_or_pinned_by_the_build():
    images = overlay_images()
    assert "faultproxy" in images
    toxiproxy = f"lab/toxiproxy:{pinned('TOXIPROXY_VERSION')}"
    assert toxiproxy in images, f"the overlay must run the Toxiproxy image the build makes ({toxiproxy})"
    assert set(images) <= {*BUILT_HERE, toxiproxy}


def test_service_ports_come_from_the_overlay():
    assert service_port("toxiproxy", "api") == 8474
    assert service_port("faultproxy", "control") == 8080
    assert service_port("faultproxy", "aws") == service_port("toxiproxy", "aws") == 4566
    with pytest.raises(KeyError, match="no port named nope"):
        service_port("faultproxy", "nope")


def test_set_endpoint_removes_a_variable_the_deployment_did_not_have():
    kube = FakeKube({"producer": "http://x:1", "consumer": None})
    set_endpoint(Lab(kube), {"producer": None, "consumer": "http://y:2"})  # type: ignore[arg-type]
    assert ("set", "env", "deployment/producer", "--containers=producer", f"{ENDPOINT_VARIABLE}-") in kube.calls
    assert kube.env == {"producer": None, "consumer": "http://y:2"}
    assert ("rollout", "deployment/producer", "90.0") in kube.calls


def test_route_is_undone_even_when_the_block_fails():
    original = {"producer": "http://localstack:4566", "consumer": "http://localstack:4566"}
    kube = FakeKube(dict(original))
    with pytest.raises(RuntimeError, match="fault went wrong"), routed(Lab(kube), "toxiproxy") as route:  # type: ignore[arg-type]
        assert route.endpoint == "http://toxiproxy:4566"
        assert kube.env == dict.fromkeys(original, "http://toxiproxy:4566")
        raise RuntimeError("fault went wrong")
    assert kube.env == original
    applied = kube.calls[0]
    assert applied[:2] == ("apply", "-f") and applied[2].endswith("tests/e2e/manifests/toxiproxy.yaml")
    assert ("rollout", "deployment/toxiproxy", "90.0") in kube.calls
