"""kubectl wrapper (lab/kube.py), back-off observation (lab/crashloop.py), probe patches (lab/liveness.py)."""

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from lab.crashloop import Backoff, problems
from lab.deploy import Lab
from lab.kube import Kube, KubectlError
from lab.liveness import RENAMED_PATH, probe_patch


class FakeManager:
    """Stands in for a pytest-kubernetes manager: records the argument lists, answers from a dict."""

    def __init__(self, answers=None, fail=None):
        self.calls, self.answers, self.fail = [], answers or {}, fail

    def kubectl(self, args, as_dict=True, timeout=60):
        assert as_dict is False
        self.calls.append(args)
        if self.fail:
            raise RuntimeError(self.fail)
        for key, value in self.answers.items():
            if key in " ".join(args):
                return value
        return ""


def test_arguments_are_shell_quoted_because_the_plugin_joins_them_into_one_shell_string():
    manager = FakeManager()
    Kube(manager, "ns1")("exec", "pod-a", "--", "sh", "-c", "kill -USR1 1")
    assert manager.calls == [["--namespace", "ns1", "exec", "pod-a", "--", "sh", "-c", "'kill -USR1 1'"]]


def test_errors_carry_the_command_and_stderr():
    with pytest.raises(KubectlError, match=r"kubectl get pods: .*forbidden"):
        Kube(FakeManager(fail="Error from server (Forbidden): forbidden\n"))("get", "pods")


def test_apply_sends_the_manifest_through_the_manager_into_the_bound_namespace():
    """The tier's ``kube.apply(dict)``: one kubectl call via the manager, reading a file that holds the object."""
    seen = []

    class Reading(FakeManager):
        def kubectl(self, args, as_dict=True, timeout=60):
            seen.append(json.loads(Path(shlex.split(args[-1])[0]).read_text()))  # the file exists during the call
            return super().kubectl(args, as_dict, timeout)

    manager, manifest = Reading(), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "it's"}}
    Kube(manager, "ns1").apply(manifest)
    assert [call[:4] for call in manager.calls] == [["--namespace", "ns1", "apply", "-f"]]
    assert seen == [manifest]


def test_a_hung_kubectl_becomes_a_kubectl_error_so_waits_retry_it():
    class Hung(FakeManager):
        def kubectl(self, args, as_dict=True, timeout=60):
            raise subprocess.TimeoutExpired("kubectl", timeout)

    with pytest.raises(KubectlError, match="no answer within 5 s"):
        Kube(Hung())("get", "pods", timeout=5)


def pod(name, created, deleting=False):
    meta = {"name": name, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = created
    return {"metadata": meta}


def test_pods_skip_terminating_ones_and_sort_oldest_first():
    items = [
        pod("b", "2026-11-28T05:00:02Z"),
        pod("old", "2026-11-28T04:00:00Z", True),
        pod("a", "2026-11-28T05:00:01Z"),
    ]
    kube = Kube(FakeManager({"get pods": json.dumps({"items": items})}), "ns")
    assert [p["metadata"]["name"] for p in kube.pods("producer")] == ["a", "b"]
    with pytest.raises(AssertionError, match="expected one live pod"):
        kube.pod("producer")


def test_restart_count_of_the_named_container():
    status = {
        "status": {"containerStatuses": [{"name": "side", "restartCount": 9}, {"name": "app", "restartCount": 2}]}
    }
    kube = Kube(FakeManager({"get pod": json.dumps(status)}), "ns")
    assert kube.restart_count("p", "app") == 2
    assert kube.restart_count("p", "missing") == 0


def test_backoff_delays_pair_each_finish_with_the_next_start():
    backoff = Backoff()
    backoff.observe({"restartCount": 0, "state": {"running": {"startedAt": "2026-11-28T05:00:00Z"}}})
    backoff.observe(
        {
            "restartCount": 1,
            "state": {"running": {"startedAt": "2026-11-28T05:00:03Z"}},
            "lastState": {"terminated": {"startedAt": "2026-11-28T05:00:00Z", "finishedAt": "2026-11-28T05:00:02Z"}},
        }
    )
    backoff.observe(
        {
            "restartCount": 1,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"startedAt": "2026-11-28T05:00:03Z", "finishedAt": "2026-11-28T05:00:05Z"}},
        }
    )
    assert backoff.delays() == [1.0]  # generation 2 has not started yet
    backoff.observe({"restartCount": 2, "state": {"running": {"startedAt": "2026-11-28T05:00:15Z"}}})
    assert backoff.delays() == [1.0, 10.0]
    assert backoff.complete()
    assert backoff.waiting_reasons == {"CrashLoopBackOff"}


def generations(*spans: tuple[int, int], held: tuple[int, ...] = ()) -> Backoff:
    """A Backoff that saw container generations living ``spans`` (seconds after 05:00:00), the last one running;
    the successors of the generations in ``held`` (0-based) waited in CrashLoopBackOff."""

    def at(second: int) -> str:
        return f"2026-11-28T05:{second // 60:02d}:{second % 60:02d}Z"

    backoff = Backoff()
    for n, (start, _end) in enumerate(spans):
        previous = spans[n - 1] if n else None
        last = {"terminated": {"startedAt": at(previous[0]), "finishedAt": at(previous[1])}} if previous else {}
        if n - 1 in held:
            waiting = {"waiting": {"reason": "CrashLoopBackOff"}}
            backoff.observe({"restartCount": n - 1, "state": waiting, "lastState": last})
        backoff.observe({"restartCount": n, "state": {"running": {"startedAt": at(start)}}, "lastState": last})
    return backoff


def test_backoff_problems_accept_what_ci_saw_an_immediate_restart_between_held_ones():
    # CI on kind, 2026-11-30, saw delays [0, 0, 15, 0]; the kubelet's rule then holds the next restart ≥ 40 s.
    backoff = generations((0, 2), (2, 4), (4, 6), (21, 23), (23, 25), (65, 67), held=(2, 4))
    assert backoff.delays() == [0.0, 0.0, 15.0, 0.0, 40.0]
    assert backoff.imposed() == [15.0, 40.0]
    assert problems(backoff, 2) == []


def test_backoff_problems_fail_a_wait_that_does_not_grow():
    backoff = generations((0, 2), (2, 4), (4, 6), (16, 18), (28, 30), held=(2, 3))
    assert backoff.imposed() == [10.0, 10.0]
    assert any("schedule says at least 20" in p for p in problems(backoff, 2))
    assert any("did not grow" in p for p in problems(backoff, 2))


def test_backoff_problems_fail_a_wait_shorter_than_the_schedule():
    backoff = generations((0, 2), (2, 4), (4, 6), (9, 11), (31, 33), held=(2, 3))
    assert any("imposed wait 1 lasted 3.0 s" in p for p in problems(backoff, 2))


def test_backoff_problems_fail_a_long_restart_with_no_crashloop_seen_and_too_few_waits():
    backoff = generations((0, 2), (2, 4), (4, 6), (16, 18), held=())
    found = problems(backoff, 2)
    assert any("restart 3 came 10.0 s" in p for p in found)
    assert any("0 imposed back-off waits seen, 2 wanted" in p for p in found)


def test_backoff_notices_a_generation_missed_between_polls():
    backoff = Backoff()
    backoff.observe({"restartCount": 3, "state": {"running": {"startedAt": "2026-11-28T05:00:15Z"}}})
    assert not backoff.complete()


DEPLOY = {
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {"name": "sidecar"},
                    {
                        "name": "producer",
                        "ports": [{"name": "health", "containerPort": 5000}],
                        "livenessProbe": {"httpGet": {"path": "/health", "port": "health"}},
                    },
                ]
            }
        }
    }
}


def test_probe_patches_target_the_right_container_and_resolve_named_ports():
    lab = Lab(Kube(FakeManager({"get deployment": json.dumps(DEPLOY)}), "ns"))
    base = "/spec/template/spec/containers/1/livenessProbe/httpGet"
    assert probe_patch(lab, "producer", "probe-path") == [
        {"op": "replace", "path": f"{base}/path", "value": RENAMED_PATH}
    ]
    assert probe_patch(lab, "producer", "probe-port") == [{"op": "replace", "path": f"{base}/port", "value": 5001}]
