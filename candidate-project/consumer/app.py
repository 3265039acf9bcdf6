"""Consumer entry point: validate config, start the health server, run the consume loop.

Run as ``python app.py`` (exec-form CMD, so it is PID 1 in the container and receives the
SIGTERM/SIGUSR1/SIGUSR2 that ``kubectl`` sends). Exit codes: 0 drained after SIGTERM,
1 start-up or worker failure, 2 bad configuration.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from consumer.config import load_config
from shared.envconfig import ConfigError
from shared.jsonlog import log_event, setup_logging
from shared.runtime import (
    Controls,
    drain_seconds,
    install_signal_handlers,
    run_worker,
    signals_blocked,
)
from shared.server import Health, Readiness, start_server

if TYPE_CHECKING:
    from consumer.worker import Consumer

SERVICE = "consumer"


def main() -> int:
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(f"config error: {exc.name}: {exc.reason}", file=sys.stderr)
        return 2
    common = config.common
    setup_logging(SERVICE, common.pod_name, common.log_level)
    controls = Controls()
    health = Health(common.heartbeat_max_age)
    # Before the server answers: once /health says UP, tests and kubectl may signal us, and
    # an uncaught SIGUSR1/SIGUSR2/SIGTERM would kill the process instead.
    install_signal_handlers(controls, health.trip)
    # The server answers before the AWS libraries load: /health (liveness) needs none of them, and /ready
    # says "starting" from memory until the worker exists. botocore's import and the clients take most of a
    # second under the pods' 500m CPU limit (docs/decisions.md, "Restart to Ready").
    workers: list[Consumer] = []

    def pending() -> str | None:
        return workers[0].start_problem() if workers else "starting: AWS clients not created yet"

    def check() -> str | None:
        return workers[0].ready_problem()

    try:
        with signals_blocked():  # the server's threads must leave signals to the main thread
            server = start_server(health, Readiness(check, pending=pending), port=common.health_port)
    except OSError as exc:
        print(f"startup error: cannot listen on port {common.health_port}: {exc}", file=sys.stderr)
        return 1
    from consumer.worker import Consumer

    worker = Consumer(config, controls, beat=controls.gate(health.beat))
    workers.append(worker)
    log_event(
        "started",
        health_port=common.health_port,
        queue_name=config.queue_name,
        receive_wait_seconds=config.receive_wait,
        receive_batch_size=config.batch_size,
        heartbeat_max_age_seconds=common.heartbeat_max_age,
        region=common.region,
        endpoint_url=common.endpoint_url,
    )
    code = run_worker(worker, controls)
    server.shutdown()
    server.server_close()
    log_event("stopped", exit_code=code, drain_seconds=drain_seconds(controls))
    return code


if __name__ == "__main__":
    sys.exit(main())
