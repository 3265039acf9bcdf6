"""The real toxiproxy-server binary as a process on 127.0.0.1 for the integration tier.

The binary is the one the offline cluster's image is made from: built from the Go module by
hack/offline-cluster/lib/build-toxiproxy.sh and cached by version under LAB_CACHE. If it is not there yet, this
builds it with that same script (one recipe, not two); a machine with neither the cache nor Go fails with the
reason instead of skipping, so the check cannot silently switch off.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.emulator import free_port
from lab.processes import POLL_SECONDS, answers, stop_process
from lab.toxiproxy import Toxiproxy
from lab.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "hack" / "offline-cluster" / "lib" / "build-toxiproxy.sh"
# A cold `go install` took 84 s on the shared 2-core machine (2026-11-30); 15 min leaves room for a busier one.
BUILD_SECONDS = 900
# The server answers /version a few milliseconds after start; 20 s covers a loaded machine.
START_SECONDS = 20.0


def toxiproxy_server_binary() -> Path:
    """Path of the cached toxiproxy-server, building it first when missing (prints the script's output on failure)."""
    script = (
        f"set -euo pipefail; source {REPO}/hack/offline-cluster/lib/common.sh; "
        f'source {BUILD_SCRIPT}; toxiproxy_build >&2; echo "$(toxiproxy_bin_dir)/toxiproxy-server"'
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=BUILD_SECONDS)
    if result.returncode != 0:
        raise RuntimeError(f"cannot build toxiproxy-server with {BUILD_SCRIPT}:\n{result.stderr[-2000:]}")
    return Path(result.stdout.strip())


@contextmanager
def toxiproxy_server(log_dir: Path, config: Path | None = None) -> Iterator[Toxiproxy]:
    """Start toxiproxy-server on a free loopback port (with ``-config`` if given); SIGTERM, then SIGKILL, by PID."""
    binary, port = toxiproxy_server_binary(), free_port()
    extra = ["-config", str(config)] if config else []
    log = log_dir / f"toxiproxy-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(binary), "-host", "127.0.0.1", "-port", str(port), "-seed", "1", *extra],
            stdout=out,
            stderr=out,
            env={"PATH": os.environ.get("PATH", ""), "LOG_LEVEL": "info"},
        )
    client = Toxiproxy(f"http://127.0.0.1:{port}")
    try:
        wait_for(lambda: answers(f"{client.url}/version"), START_SECONDS, POLL_SECONDS, "toxiproxy-server's /version")
        yield client
    finally:
        stop_process(proc)
