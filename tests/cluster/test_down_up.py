"""`down` leaves no process, mount, interface or iptables chain of the cluster behind, and `up` works again.

Why here and last: CI runs `pytest tests/cluster` once, right after `offline-cluster up`; conftest.py orders this
module after all others. It ends by bringing the cluster back up (warm `up`, ~20 s), which also proves "up after
down works" and leaves the cluster running for the e2e stage that follows in CI.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.offline

TOOL = Path(__file__).resolve().parents[2] / "hack" / "offline-cluster" / "offline-cluster"
STATUS_DOWN = 3  # `offline-cluster status` exit code when the cluster is not up (lib/status.sh)
COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"]
NODE_IP = "10.250.250.1"


def recorded_processes(lab_state: Path) -> dict[str, tuple[int, str]]:
    """name -> (pid, binary) from the PID files `up` wrote."""
    found = {}
    for name in COMPONENTS:
        pid, binary = (lab_state / "pids" / f"{name}.pid").read_text().split()
        found[name] = (int(pid), binary)
    return found


def exe_of(pid: int) -> str | None:
    try:
        return str(Path(f"/proc/{pid}/exe").readlink()).removesuffix(" (deleted)")
    except OSError:
        return None


def all_processes() -> dict[int, tuple[str | None, str]]:
    """pid -> (exe, cmdline) for every process we can see."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            table[int(entry.name)] = (exe_of(int(entry.name)), cmdline)
    return table


def same_mount_namespace(pid: int) -> bool:
    """A process of this host's containerd, not one inside a container (a kind or minikube node has its own)."""
    try:
        return Path(f"/proc/{pid}/ns/mnt").readlink() == Path("/proc/self/ns/mnt").readlink()
    except OSError:
        return False


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


OWN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "cluster-test-")


def test_down_leaves_nothing_running_and_up_works_again(cli, lab_state, kube):
    # `down` would pull the cluster from under anyone else's namespaces; in CI nothing else runs at this point.
    others = [n for n in kube("get", "namespaces", "-o", "name").split() if not n[10:].startswith(OWN_NAMESPACES)]
    assert others == [], f"other workloads use this cluster ({others}); run this module on a cluster of its own"
    before = recorded_processes(lab_state)
    binaries = {binary for _, binary in before.values()}

    cli("down", timeout=180)

    survivors = {name: pid for name, (pid, binary) in before.items() if exe_of(pid) == binary}
    assert survivors == {}, f"still running after down: {survivors}"
    strays = {pid: cmd for pid, (exe, cmd) in all_processes().items() if exe in binaries}
    assert strays == {}, f"cluster binaries still running after down: {strays}"
    shims = {
        pid: cmd
        for pid, (_, cmd) in all_processes().items()
        if "containerd-shim" in cmd and "k8s.io" in cmd and same_mount_namespace(pid)  # not a kind node's own
    }
    assert shims == {}, f"pod shims left after down: {shims}"

    assert run("ip", "link", "show", "cni0").returncode != 0, "cni0 bridge left after down"
    assert NODE_IP not in run("ip", "-o", "addr", "show", "dev", "lo").stdout
    for save in ("iptables-save", "ip6tables-save"):
        leftovers = [line for line in run(save).stdout.splitlines() if "KUBE-" in line or "CNI-" in line]
        assert leftovers == [], f"{save}: {leftovers[:5]}"
    mounts = [line for line in Path("/proc/self/mounts").read_text().splitlines() if str(lab_state) in line]
    assert mounts == [], f"mounts left under {lab_state}: {mounts[:5]}"
    done = run(str(TOOL), "status")
    assert done.returncode == STATUS_DOWN, f"status after down exited {done.returncode}, not {STATUS_DOWN}"
    status = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines() if line.strip()}
    assert {name: status.get(name) for name in COMPONENTS} == dict.fromkeys(COMPONENTS, "stopped")

    cli("up", timeout=600)
    kube("wait", "--for=condition=Ready", "nodes", "--all", "--timeout=60s", timeout=70)
