"""``python -m faultproxy``: validate the environment, then serve the proxy and the control port until SIGTERM.

Exit status 2 with one line on stderr for a bad setting (before anything listens); 0 after SIGTERM/SIGINT.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from .config import ConfigError, load
from .control import ControlServer
from .faults import FaultTable
from .jsonlog import log_event
from .proxy import ProxyServer


def main() -> int:
    try:
        config = load()
    except ConfigError as exc:
        print(f"faultproxy: error: {exc}", file=sys.stderr)
        return 2
    table = FaultTable(config.seed)
    try:
        servers = [ProxyServer(config, table), ControlServer(config, table)]
    except OSError as exc:
        print(f"faultproxy: error: cannot listen: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    log_event(
        "started",
        upstream=f"{config.upstream_host}:{config.upstream_port}",
        listen_port=config.listen_port,
        control_port=config.control_port,
        seed=config.seed,
    )
    stop.wait()
    for server in servers:
        server.shutdown()
        server.server_close()
    log_event("stopped", faults_left=table.snapshot())
    return 0


if __name__ == "__main__":
    sys.exit(main())
