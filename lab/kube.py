"""kubectl for the tests, on top of pytest-kubernetes' cluster manager.

Why a wrapper and not `manager.kubectl` directly: pytest-kubernetes joins the argument list into one shell string,
so an argument with spaces or quotes (``sh -c 'kill -USR1 1'``, a JSON patch) would be split by the shell. `Kube`
quotes every argument and binds a namespace, and adds the few reads the suite repeats (pods of an app, restart
counts, events). Every call still goes through the manager, so the kubeconfig it holds is the one used.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

from lab.waiting import Transient
from lab.waiting import holds as holds  # re-exported: `from lab.kube import wait_for, holds` is the suite's idiom
from lab.waiting import wait_for as wait_for


class KubectlError(RuntimeError, Transient):
    """kubectl exited non-zero; the message is its stderr. Transient: `wait_for` retries it until its deadline."""


@dataclass(frozen=True)
class Kube:
    """A kubectl bound to one cluster manager and (optionally) one namespace. Call it like kubectl."""

    manager: Any  # pytest_kubernetes.providers.base.AClusterManager
    namespace: str | None = None

    def in_namespace(self, namespace: str) -> Kube:
        return Kube(self.manager, namespace)

    def __call__(self, *args: str, timeout: float = 60, namespaced: bool = True) -> str:
        """Run ``kubectl ARGS`` and return stdout; raise `KubectlError` with stderr on failure."""
        argv = list(args)
        if namespaced and self.namespace:
            argv = ["--namespace", self.namespace, *argv]
        try:
            out = self.manager.kubectl([shlex.quote(a) for a in argv], as_dict=False, timeout=int(timeout))
        except RuntimeError as exc:
            raise KubectlError(f"kubectl {' '.join(argv)}: {str(exc).strip()}") from None
        except subprocess.TimeoutExpired:
            raise KubectlError(f"kubectl {' '.join(argv)}: no answer within {timeout:.0f} s") from None
        return str(out)

    def json(self, *args: str, timeout: float = 60) -> dict:
        return json.loads(self(*args, "-o", "json", timeout=timeout))

    def apply(self, manifest: dict, timeout: float = 60) -> str:
        """``kubectl apply`` of one object given as a dict (into the bound namespace unless it names its own).

        Through a file, not stdin: the manager's kubectl reads no input, and every call still goes through it.
        """
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="lab-apply-") as file:
            json.dump(manifest, file)
            file.flush()
            return self("apply", "-f", file.name, timeout=timeout)

    # --- reads the suite repeats ------------------------------------------------------------------------------

    def deployment(self, name: str) -> dict:
        return self.json("get", "deployment", name)

    def pods(self, app: str) -> list[dict]:
        """Pods of ``app`` that are not being deleted, oldest first."""
        items = self.json("get", "pods", "-l", f"app={app}")["items"]
        live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        return sorted(live, key=lambda p: p["metadata"]["creationTimestamp"])

    def pod(self, app: str) -> dict:
        """The one live pod of ``app`` (the Deployments run one replica); fails if there is not exactly one."""
        pods = self.pods(app)
        if len(pods) != 1:
            raise AssertionError(f"expected one live pod of {app}, found {[p['metadata']['name'] for p in pods]}")
        return pods[0]

    def container_status(self, pod: str, container: str) -> dict:
        return container_status(self.json("get", "pod", pod), container)

    def restart_count(self, pod: str, container: str) -> int:
        return int(self.container_status(pod, container).get("restartCount", 0))

    def events(self, pod: str) -> list[dict]:
        """Events about one pod, oldest first."""
        items = self.json("get", "events", "--field-selector", f"involvedObject.name={pod}")["items"]
        return sorted(items, key=_event_sort_key)

    def logs(self, pod: str, container: str, previous: bool = False, since_time: str | None = None) -> str:
        args = ["logs", pod, "-c", container]
        if previous:
            args.append("--previous")
        if since_time:
            args.append(f"--since-time={since_time}")
        return self(*args)

    def exec(self, pod: str, container: str, *command: str, timeout: float = 30) -> str:
        return self("exec", pod, "-c", container, "--", *command, timeout=timeout)

    def rollout_status(self, kind_name: str, timeout: float) -> None:
        self("rollout", "status", kind_name, f"--timeout={int(timeout)}s", timeout=timeout + 10)

    def wait(self, condition: str, timeout: float, *target: str) -> None:
        """``kubectl wait TARGET... --for=CONDITION --timeout=…`` (e.g. ``"condition=Ready", 30, "pod/x"``)."""
        self("wait", *target, f"--for={condition}", f"--timeout={int(timeout)}s", timeout=timeout + 10)


def container_spec(pod_spec: dict, container: str) -> tuple[int, dict]:
    """Index and spec of one container in a pod spec (Deployment ``spec.template.spec`` or Pod ``spec``).

    The index is what a JSON patch needs (``/spec/template/spec/containers/<index>/...``).
    """
    for index, item in enumerate(pod_spec.get("containers") or []):
        if item.get("name") == container:
            return index, item
    raise LookupError(f"no container named {container!r}")


def container_status(pod: dict, container: str) -> dict:
    """The status of one container in a pod object as the API returns it ({} when it has none yet)."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return status
    return {}


def _event_sort_key(event: dict) -> str:
    """Sort key: events carry lastTimestamp (legacy) or eventTime (events.k8s.io); either is RFC 3339."""
    return event.get("lastTimestamp") or event.get("eventTime") or event["metadata"]["creationTimestamp"]
