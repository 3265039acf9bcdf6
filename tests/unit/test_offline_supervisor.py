"""The offline cluster's one process supervisor (lib/proc.sh), as runtime.sh uses it for containerd and dockerd.

Run against a throwaway ``LAB_STATE`` and ``sleep`` as the daemon, so no cluster is touched: spawn records the PID
and the binary, wait fails naming the log when the daemon dies, stop ends exactly the recorded PID, a PID file of
another program is refused, and a PID-only file written by the former runtime_spawn is still recognised (a cluster
started before the merge can still be stopped by `down`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

LIB = Path(__file__).resolve().parents[2] / "hack" / "offline-cluster" / "lib"


def supervisor(state: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in bash after sourcing common.sh and runtime.sh (which sources proc.sh), like the CLI does."""
    prelude = f'set -euo pipefail; source "{LIB}/common.sh"; source "{LIB}/runtime.sh"\n'
    return subprocess.run(
        ["bash", "-c", prelude + script],
        env={"PATH": os.environ["PATH"], "LAB_STATE": str(state), "LAB_CACHE": str(state / "cache")},
        capture_output=True,
        text=True,
        timeout=60,
    )


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}/exe").exists()


def test_spawn_wait_status_stop(tmp_path):
    result = supervisor(
        tmp_path,
        'runtime_spawn sleep sleep 300; touch "$LAB_STATE/ready"\n'
        'runtime_wait sleep test -e "$LAB_STATE/ready"\n'
        'runtime_pid sleep; cat "$LAB_STATE/pids/sleep.pid"\n',
    )
    assert result.returncode == 0, result.stderr
    pid_line, record = result.stdout.splitlines()
    pid = int(pid_line)
    try:
        assert record == f"{pid} {os.path.realpath(str(shutil.which('sleep')))}"
        assert alive(pid)
        stopped = supervisor(tmp_path, "runtime_stop_one sleep; runtime_pid sleep || echo gone")
        assert stopped.stdout.strip() == "gone", stopped.stderr
        assert not alive(pid)
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_wait_fails_naming_the_log_when_the_daemon_dies(tmp_path):
    result = supervisor(tmp_path, "runtime_spawn dies bash -c 'echo boom; sleep 0.3; exit 3'; runtime_wait dies false")
    assert result.returncode == 1
    assert "dies: exited while waiting for dies to answer" in result.stderr
    assert "boom" in result.stderr  # the log's last lines


def test_pid_file_of_another_program_is_not_ours(tmp_path):
    other = subprocess.Popen(["sleep", "300"])
    try:
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "containerd.pid").write_text(f"{other.pid} /usr/bin/containerd\n")
        result = supervisor(tmp_path, "runtime_pid containerd || echo refused")
        assert result.stdout.strip() == "refused"
    finally:
        other.kill()
        other.wait()


def test_pid_only_file_of_the_former_runtime_spawn_is_still_stopped(tmp_path):
    legacy = subprocess.Popen(["sleep", "300"])
    try:
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "sleep.pid").write_text(f"{legacy.pid}\n")
        result = supervisor(tmp_path, "runtime_pid sleep; runtime_stop_one sleep")
        assert result.stdout.strip() == str(legacy.pid), result.stderr
        assert legacy.wait(timeout=30) == -signal.SIGTERM
    finally:
        if legacy.poll() is None:
            legacy.kill()
            legacy.wait()
