"""The memory fault's lab side (lab/resources.py): quantities, the live limit, the allocation bounds, the OOM checks."""

import json

import pytest

from lab.deploy import Lab
from lab.kube import Kube
from lab.resources import (
    OOM_KILLED,
    USAGE_COMMAND,
    AllocationBounds,
    MemoryInjection,
    allocated_mib,
    exhaust_memory,
    fault_line_time,
    last_progress_time,
    lost_state_problems,
    memory_limit,
    memory_usage,
    oom_problems,
    quantity_bytes,
)
from lab.times import parse_time
from shared.runtime import FAULT_MEMORY_SIGNUM

MIB = 2**20
STARTED = "2026-12-01T10:00:00Z"


class FakeManager:
    """A pytest-kubernetes manager answering by substring of the joined arguments; records the calls."""

    def __init__(self, answers, fail_on=()):
        self.calls, self.answers, self.fail_on = [], answers, fail_on

    def kubectl(self, args, as_dict=True, timeout=60):
        joined = " ".join(args)
        self.calls.append(joined)
        if any(key in joined for key in self.fail_on):
            raise RuntimeError("error: container not running")
        return next((value for key, value in self.answers.items() if key in joined), "")


def deployment(limits):
    container = {"name": "consumer", "resources": {"requests": {"memory": "96Mi"}, "limits": limits}}
    return json.dumps({"spec": {"template": {"spec": {"containers": [{"name": "sidecar"}, container]}}}})


POD = {
    "items": [
        {
            "metadata": {"name": "consumer-abc", "creationTimestamp": STARTED},
            "status": {
                "containerStatuses": [
                    {"name": "consumer", "restartCount": 2, "state": {"running": {"startedAt": STARTED}}}
                ]
            },
        }
    ]
}


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("256Mi", 256 * MIB),
        ("1Gi", 2**30),
        ("128974848", 128974848),
        ("129e6", 129 * 10**6),
        ("1.5Mi", 1572864),
        ("500M", 500 * 10**6),
        ("64k", 64000),
        (1024, 1024),
    ],
)
def test_quantities(quantity, expected):
    assert quantity_bytes(quantity) == expected


@pytest.mark.parametrize("bad", ["", "256MB", "Mi", "lots", "-1Mi"])
def test_bad_quantities_are_refused(bad):
    with pytest.raises(ValueError, match="not a memory quantity"):
        quantity_bytes(bad)


def test_the_limit_is_read_from_the_live_deployment_for_the_right_container():
    lab = Lab(Kube(FakeManager({"get deployment": deployment({"memory": "192Mi", "cpu": "500m"})}), "ns"))
    assert memory_limit(lab, "consumer") == 192 * MIB


def test_no_limit_is_an_error_not_a_node_wide_exhaustion():
    lab = Lab(Kube(FakeManager({"get deployment": deployment({"cpu": "500m"})}), "ns"))
    with pytest.raises(LookupError, match="no memory limit"):
        memory_limit(lab, "consumer")


def test_usage_from_the_cgroup_or_none():
    assert memory_usage(Lab(Kube(FakeManager({"exec": "52428800\n"}), "ns")), "consumer-abc", "consumer") == 50 * MIB
    assert memory_usage(Lab(Kube(FakeManager({}, fail_on=("exec",)), "ns")), "consumer-abc", "consumer") is None
    assert memory_usage(Lab(Kube(FakeManager({"exec": "cat: no such file"}), "ns")), "p", "consumer") is None


def test_bounds_from_limit_usage_and_the_schedule():
    bounds = AllocationBounds(256 * MIB, 56 * MIB, step_bytes=4 * MIB, step_seconds=0.1)
    assert bounds.rate == 40 * MIB
    assert bounds.bound == pytest.approx(6.3)  # step 63 fills 256 MiB even from nothing
    assert bounds.earliest == pytest.approx(4.8)  # 200 MiB free: step 49 at the earliest, one step of margin
    assert AllocationBounds(256 * MIB, None).earliest is None
    assert AllocationBounds(256 * MIB, 300 * MIB, step_bytes=4 * MIB, step_seconds=0.1).earliest == 0


def test_injection_reads_the_numbers_first_then_signals_pid_1():
    manager = FakeManager(
        {
            "get deployment": deployment({"memory": "256Mi"}),
            "get pods": json.dumps(POD),
            "get pod consumer-abc": json.dumps(POD["items"][0]),
            "exec": "41943040",
        }
    )
    injection = exhaust_memory(Lab(Kube(manager, "ns")), "consumer")
    execs = [call for call in manager.calls if " exec " in f" {call}"]
    assert USAGE_COMMAND in execs[0] and execs[-1].endswith(f"kill -{FAULT_MEMORY_SIGNUM} 1'")
    assert (injection.pod, injection.restarts_before, injection.container_started) == (
        "consumer-abc",
        2,
        parse_time(STARTED),
    )
    assert (injection.bounds.limit, injection.bounds.usage) == (256 * MIB, 40 * MIB)


def log(event, t, **fields):
    return json.dumps({"ts": t, "level": "WARNING", "event": event, "service": "consumer", "pod": "p", **fields})


def test_fault_time_and_progress_from_the_killed_log():
    text = "\n".join(
        [
            log("consumed", 99.0, id="a"),
            log("fault_memory_on", 100.25, signal="SIGRTMIN+1"),
            log("memory_allocated", 101.0, total_mib=32),
            log("memory_allocated", 101.8, total_mib=64),
            '{"ts": 102, "ev',
        ]
    )
    assert fault_line_time(text) == 100.25
    assert allocated_mib(text) == 64
    assert fault_line_time(log("consumed", 1.0)) is None and allocated_mib("") is None


def injection(before=0):
    return MemoryInjection("consumer", "consumer-abc", before, parse_time(STARTED), AllocationBounds(256 * MIB, 0), 0)


def test_an_oom_kill_of_the_injected_container_restarted_once_passes():
    terminated = {"reason": OOM_KILLED[0], "exitCode": OOM_KILLED[1], "startedAt": STARTED}
    assert oom_problems(injection(2), terminated, 3, "oom") == []


@pytest.mark.parametrize(
    ("terminated", "restarts", "wanted"),
    [
        ({"reason": "Error", "exitCode": 137, "startedAt": STARTED}, 3, "expected OOMKilled exit 137"),
        ({"reason": "Completed", "exitCode": 0, "startedAt": STARTED}, 3, "last state Completed exit 0"),
        ({"reason": "OOMKilled", "exitCode": 137, "startedAt": "2026-12-01T10:05:00Z"}, 3, "not the one"),
        ({"reason": "OOMKilled", "exitCode": 137, "startedAt": STARTED}, 4, "restartCount 2 → 4, expected +1"),
    ],
)
def test_other_ends_are_problems(terminated, restarts, wanted):
    (problem,) = oom_problems(injection(2), terminated, restarts, "oom")
    assert wanted in problem


def allocation_log(up_to_mib, *extra):
    return "\n".join(
        [
            log("fault_memory_on", 100.0),
            *(log("memory_allocated", 100 + m / 40, total_mib=m) for m in range(32, up_to_mib + 1, 32)),
            *extra,
        ]
    )


def test_a_lost_last_state_is_made_good_by_the_killed_log():
    """kubernetes#101044: no lastState; the log reached the limit (256 MiB, none used before) and never stopped."""
    assert lost_state_problems(injection(0), allocation_log(224), 1, "oom") == []


@pytest.mark.parametrize(
    ("text", "restarts", "wanted"),
    [
        (allocation_log(128), 1, "logged 128 MiB allocated, < 224"),
        (allocation_log(0), 1, "logged None MiB allocated"),
        (allocation_log(256, log("stopped", 107.0, exit_code=0)), 1, "ended on its own terms (stopped)"),
        (allocation_log(256, log("worker_crashed", 107.0)), 1, "ended on its own terms (worker_crashed)"),
        (allocation_log(256), 2, "restartCount 0 → 2, expected +1"),
    ],
)
def test_a_lost_last_state_without_the_evidence_fails(text, restarts, wanted):
    (problem,) = lost_state_problems(injection(0), text, restarts, "oom")
    assert wanted in problem


def test_the_last_progress_line_bounds_the_kill_from_below():
    assert last_progress_time(allocation_log(96)) == 100 + 96 / 40
    assert last_progress_time(allocation_log(0)) is None
