"""Pure pieces of the CPU and slow-start faults, against the lab's real consumer manifest: the patches, the windows
and delays derived from its probes, and the handler's line."""

import copy
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from lab.deploy import MANIFESTS
from lab.probes import Probe
from lab.slowstart import WRAPPER, slow_start_patch, start_delay, startup_probe
from lab.starvation import (
    TIGHT_CPU_LIMIT,
    TIGHT_PROBE,
    Starvation,
    fault_line,
    occurrences_of,
    restarted_problems,
    tight_patch,
)
from lab.verdict import DETECTION_TOLERANCE_SECONDS


def consumer() -> dict:
    docs = yaml.safe_load_all((MANIFESTS / "consumer.yaml").read_text())
    return next(d for d in docs if d and d.get("kind") == "Deployment")


def fake_lab(deployment: dict) -> SimpleNamespace:
    return SimpleNamespace(kube=SimpleNamespace(deployment=lambda app: deployment), progress_deadline=lambda app: 600.0)


def apply(doc: dict, ops: list[dict]) -> dict:
    """A JSON patch (add/replace/remove on object paths and list indices) applied to a copy."""
    out = copy.deepcopy(doc)
    for op in ops:
        *parents, last = op["path"].strip("/").split("/")
        node = out
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if op["op"] == "replace" and last not in node:
            raise KeyError(f"replace of a missing field {op['path']}")
        if op["op"] == "remove":
            del node[last]
        else:
            node[last] = op["value"]
    return out


def container(doc: dict) -> dict:
    return next(c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] == "consumer")


def liveness() -> Probe:
    return Probe.from_pod_template(consumer()["spec"]["template"]["spec"], "consumer")


def test_the_tight_copy_replaces_what_the_manifest_sets_and_adds_a_startup_probe():
    """Re-applying the manifests undoes the replaced values; the added startupProbe is removed by `restore` (a
    client-side apply keeps fields it did not apply itself)."""
    doc = consumer()
    ops = tight_patch(fake_lab(doc), "consumer")
    patched = container(apply(doc, ops))
    assert [op["op"] for op in ops] == ["replace"] * 3 + ["add"]
    assert {k: patched["livenessProbe"][k] for k in TIGHT_PROBE} == TIGHT_PROBE
    assert patched["resources"]["limits"]["cpu"] == TIGHT_CPU_LIMIT
    assert patched["livenessProbe"]["httpGet"] == container(doc)["livenessProbe"]["httpGet"]
    startup = patched["startupProbe"]
    assert startup["httpGet"] == patched["livenessProbe"]["httpGet"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 600  # as long as a rollout may take


def test_the_tight_copy_refuses_a_manifest_it_could_not_restore():
    doc = consumer()
    del container(doc)["livenessProbe"]["timeoutSeconds"]
    with pytest.raises(LookupError):
        tight_patch(fake_lab(doc), "consumer")


def test_the_ride_out_window_is_the_probe_bound_plus_the_heartbeat():
    probe = liveness()  # 5 s × 3 + 2 s
    starvation = Starvation("consumer", "pod", 0, None, probe, "500m", 0.0)
    assert starvation.window(30) == 5 * 3 + 2 + 30


def test_the_handler_line_and_the_restarted_container():
    log = "\n".join(
        [
            "2026-12-03T10:00:01.500000000Z " + json.dumps({"event": "fault_cpu_on", "threads": 1}),
            "2026-12-03T10:00:02.000000000Z " + json.dumps({"event": "consumed", "id": "x"}),
        ]
    )
    line = fault_line(log)
    assert line is not None and line["threads"] == 1 and line["_t"] == pytest.approx(1796292001.5)
    assert fault_line("") is None
    starvation = Starvation("consumer", "pod", 2, 1796292000.0, liveness(), "50m", 0.0)
    good = {"restartCount": 3, "lastState": {"terminated": {"startedAt": "2026-12-03T10:00:00Z"}}}
    assert restarted_problems(starvation, good, "f") == []
    assert len(restarted_problems(starvation, {**good, "restartCount": 4}, "f")) == 1
    other = {"restartCount": 3, "lastState": {"terminated": {"startedAt": "2026-12-03T09:00:00Z"}}}
    assert len(restarted_problems(starvation, other, "f")) == 1


def test_the_delay_outlasts_the_latest_liveness_decision_from_the_start():
    probe = liveness()
    delay = start_delay(probe)
    assert delay >= probe.detection_bound(from_start=True) + DETECTION_TOLERANCE_SECONDS
    assert delay == 5 + 5 * 3 + 2 + 2  # the lab's 5/5/2/3 today


def test_the_startup_probe_covers_the_delay_and_the_start():
    probe = liveness()
    delay = start_delay(probe)
    startup = startup_probe(probe, delay)
    assert startup["httpGet"] == {"path": "/health", "port": 5000}
    assert startup["failureThreshold"] * startup["periodSeconds"] > delay
    assert startup["timeoutSeconds"] == probe.timeout


def test_the_slow_start_patch_wraps_the_command_and_adds_the_startup_probe():
    doc = consumer()
    lab = fake_lab(doc)
    without = container(apply(doc, slow_start_patch(lab, "consumer", 24, None)))
    assert without["command"] == ["sh", "-c", WRAPPER, "24"] and "startupProbe" not in without
    assert "exec python app.py" in WRAPPER and "trap" in WRAPPER  # the app is PID 1 again; a kill is not delayed
    startup = startup_probe(liveness(), 24)
    assert container(apply(doc, slow_start_patch(lab, "consumer", 24, startup)))["startupProbe"] == startup
    container(doc)["command"] = ["python", "app.py"]
    with pytest.raises(LookupError):
        slow_start_patch(lab, "consumer", 24, None)


def children(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


def test_the_wrapper_exits_at_once_on_sigterm_while_it_sleeps():
    """A shell as PID 1 would ignore SIGTERM without the trap, and every liveness kill would wait out the grace."""
    proc = subprocess.Popen(["sh", "-c", WRAPPER, "60"])
    try:
        retrying = Retrying(stop=stop_after_delay(10), wait=wait_fixed(0.05), retry=retry_if_result(lambda c: not c))
        retrying(lambda: children(proc.pid))  # the sleep runs, so the trap is set
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 143
    finally:
        proc.kill()


def test_the_wrapper_execs_the_app_after_the_delay(tmp_path):
    """``exec``: the app replaces the shell, so it is PID 1 and gets the kubelet's and the lab's signals itself."""
    (tmp_path / "app.py").write_text("import os; print(os.getpid())\n")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"}
    proc = subprocess.Popen(["sh", "-c", WRAPPER, "0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert int(out) == proc.pid  # exec'd: the app is the wrapper's process (PID 1 in the container)


def test_event_occurrences_count_aggregated_events_after_the_fault_only():
    def event(reason, message, last, count, pod="p"):
        return {
            "involvedObject": {"name": pod},
            "reason": reason,
            "message": message,
            "count": count,
            "firstTimestamp": "2026-12-03T10:00:00Z",
            "lastTimestamp": last,
        }

    events = [
        event("Unhealthy", "Liveness probe failed: timeout", "2026-12-03T10:00:09Z", 4),
        event("Unhealthy", "Startup probe failed: refused", "2026-12-03T10:00:09Z", 7),
        event("Killing", "Container consumer failed liveness probe, will be restarted", "2026-12-03T10:00:09Z", 2),
        event("Unhealthy", "Liveness probe failed: old", "2026-12-03T09:00:00Z", 9),  # before the fault
        event("Unhealthy", "Liveness probe failed: other pod", "2026-12-03T10:00:09Z", 5, pod="q"),
    ]
    after = 1796292005.5  # 10:00:05.5
    assert occurrences_of(events, "p", "Unhealthy", "Liveness probe failed", after) == 4
    assert occurrences_of(events, "p", "Unhealthy", "Startup probe failed", after) == 7
    assert occurrences_of(events, "p", "Killing", "liveness", after) == 2
