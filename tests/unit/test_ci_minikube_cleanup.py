"""CI's minikube phase deletes every profile its steps started, whatever `minikube status` says about them.

The e2e step's profile keeps its context in pytest-kubernetes' own kubeconfig, so `minikube status` exits non-zero
for it ("does not appear in $KUBECONFIG") although it runs; the trap used to skip such a profile, and the next run
reused it (2026-12-07). The script runs here in a copy of its folder with stand-ins for minikube, tox and the
offline tool on PATH, and the e2e step failing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = "hack/offline-cluster/lib/ci-minikube.sh"
PROFILE = "pytest-resiliency-lab"

MINIKUBE = f"""#!/usr/bin/env bash
echo "$*" >> "$CALLS"
case "$1 $2" in
  "profile list") echo '{{"invalid":[],"valid":[{{"Name":"{PROFILE}","Status":"Running"}}]}}' ;;
  "status -p") exit 7 ;;  # what a running profile whose context is not in $KUBECONFIG answers
esac
"""


def stand_in(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text)
    path.chmod(0o755)


def test_the_trap_deletes_a_running_profile_that_minikube_status_calls_broken(tmp_path):
    root, bin_dir, calls = tmp_path / "repo", tmp_path / "bin", tmp_path / "calls"
    (root / "hack/offline-cluster/lib").mkdir(parents=True)
    bin_dir.mkdir()
    shutil.copy(REPO / SCRIPT, root / SCRIPT)
    stand_in(
        root / "hack/offline-cluster", "offline-cluster", "#!/bin/sh\necho 'MINIKUBE_KUBERNETES_VERSION=v1.34.12'\n"
    )
    stand_in(bin_dir, "minikube", MINIKUBE)
    stand_in(bin_dir, "python3", '#!/bin/sh\necho "tox $*" >> "$CALLS"\nexit 1\n')  # the e2e step fails
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls)}
    done = subprocess.run(["bash", str(root / SCRIPT), "e2e"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = calls.read_text().splitlines()
    assert any(line.startswith("tox -m tox run -e e2e") for line in lines), lines
    assert f"delete -p {PROFILE}" in lines, lines
    assert f"deleted leftover profile {PROFILE}" in done.stdout
