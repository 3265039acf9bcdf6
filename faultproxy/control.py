"""The control port: set, list and clear faults at run time, plus the pod's probes.

Why a separate port: the proxy port must stay byte-for-byte AWS-shaped for the services, and the control API must
never be mistaken for an AWS call (nor reachable through the endpoint the services use). A fault left behind is the
most common complaint about chaos tools, so ``GET /faults`` always shows what is active with its counters, and
``DELETE /faults`` removes everything and returns what it removed.

    POST   /faults             {"operation": "sns:Publish", "kind": "throttle", "rate": 0.5, "seed": 7}
    GET    /faults             {"faults": [...]}
    DELETE /faults             {"removed": [...]}        (all)
    DELETE /faults/sns:Publish {"removed": [...]}        (one; 404 if none)
    GET    /health             liveness: the process answers
    GET    /ready              readiness: the upstream accepts a TCP connection
"""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from .config import Config
from .faults import FaultError, FaultTable
from .jsonlog import log_event

MAX_CONTROL_BODY = 64 * 1024
READY_CONNECT_SECONDS = 1.0


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, config: Config, table: FaultTable) -> None:
        self.config = config
        self.table = table
        super().__init__((config.listen_host, config.control_port), ControlHandler)


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ControlServer

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json(200, {"status": "UP!"})
        elif self.path == "/ready":
            problem = self._upstream_problem()
            self._json(
                503 if problem else 200, {"status": "NOT READY", "reason": problem} if problem else {"status": "READY"}
            )
        elif self.path == "/faults":
            self._json(200, {"faults": self.server.table.snapshot()})
        else:
            self._json(404, {"error": f"no such path {self.path}"})

    def do_POST(self) -> None:
        if self.path != "/faults":
            self._json(404, {"error": f"no such path {self.path}"})
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_CONTROL_BODY:
            self._json(400, {"error": "a JSON body with Content-Length is required"})
            return
        try:
            fault = self.server.table.set(json.loads(self.rfile.read(int(length))))
        except (ValueError, FaultError) as exc:  # JSONDecodeError is a ValueError
            self._json(400, {"error": str(exc)})
            return
        log_event("fault_set", **fault.as_dict())
        self._json(201, {"fault": fault.as_dict()})

    def do_DELETE(self) -> None:
        if self.path == "/faults":
            removed = self.server.table.clear()
        elif self.path.startswith("/faults/"):
            removed = self.server.table.clear(unquote(self.path[len("/faults/") :]))
            if not removed:
                self._json(404, {"error": f"no fault on {unquote(self.path[len('/faults/') :])}"})
                return
        else:
            self._json(404, {"error": f"no such path {self.path}"})
            return
        log_event("faults_cleared", removed=removed)
        self._json(200, {"removed": removed})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Probe traffic would drown the injection events; control changes are logged as events instead."""

    def _upstream_problem(self) -> str | None:
        config = self.server.config
        try:
            with socket.create_connection((config.upstream_host, config.upstream_port), READY_CONNECT_SECONDS):
                return None
        except OSError as exc:
            return f"upstream {config.upstream_host}:{config.upstream_port}: {exc}"

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
