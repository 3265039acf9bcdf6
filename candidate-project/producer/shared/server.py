"""Health and readiness HTTP endpoints shared by the producer and the consumer.

Both services run it: the master is candidate-project/shared, copied into each service's build
context by hack/sync-shared (each image is built from its own folder).

Why liveness and readiness are different questions:
- ``/health`` (liveness) asks "can this process still make progress?". It reads the worker's
  heartbeat and a fault switch, never the network, so an AWS outage cannot get the pod
  restarted - restarting would not fix the emulator, it would only lose in-flight work.
- ``/ready`` (readiness) asks "do my dependencies answer?". An outage flips it to 503, which
  takes the pod out of Service endpoints without restarting it.

The server is threaded so a slow or malicious client cannot block the probe, and every
request is answered from in-memory state (plus a short readiness cache) so probes stay fast.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HEALTH_PATH = "/health"
READY_PATH = "/ready"
# Idle/slow clients are dropped after this many seconds so they cannot pin handler threads.
CLIENT_TIMEOUT_SECONDS = 5.0


class Health:
    """Liveness state: the worker's last heartbeat plus an in-memory fault switch.

    The switch lives in memory on purpose: a container restart must heal it, otherwise a
    tripped pod would crash-loop forever (a marker file in an emptyDir would survive).
    """

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._last_beat = clock()  # start-up counts as a beat: the worker gets max_age to begin
        self._fault: str | None = None

    def beat(self) -> None:
        with self._lock:
            self._last_beat = self._clock()

    def trip(self, reason: str) -> None:
        with self._lock:
            self._fault = reason

    def problem(self) -> str | None:
        """Return why the process is not live, or None when it is."""
        with self._lock:
            fault, last_beat = self._fault, self._last_beat
        if fault is not None:
            return f"fault switch on ({fault})"
        age = self._clock() - last_beat
        if age > self._max_age:
            return f"worker heartbeat stale: {age:.1f}s > {self._max_age:g}s"
        return None


# How long one readiness answer is reused. The readiness probe's failureThreshold x periodSeconds must
# exceed it, so one failed dependency call alone never takes a pod out (tests/manifests checks it).
READINESS_CACHE_SECONDS = 2.0


class Readiness:
    """Answers "do the AWS dependencies respond?" with a short cache.

    Kubernetes probes every second, possibly alongside other callers; the cache keeps one
    dependency call per ``ttl`` so a slow dependency cannot pile up threads or requests.
    ``pending`` answers from memory while the service is still starting (AWS clients being
    built, nothing resolved yet); those answers are never cached, so the first probe after
    start-up finishes sees the real check instead of a stale "starting".
    """

    def __init__(
        self,
        check: Callable[[], str | None],
        ttl: float = READINESS_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        pending: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._check = check
        self._pending = pending
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, str | None] | None = None

    def problem(self) -> str | None:
        """Return why the service is not ready, or None when it is."""
        try:
            waiting = self._pending()
        except Exception as exc:  # a probe must answer, whatever the check raised
            waiting = f"readiness check failed: {exc.__class__.__name__}: {exc}"
        if waiting is not None:
            return waiting
        with self._lock:
            now = self._clock()
            if self._cached is not None and now - self._cached[0] < self._ttl:
                return self._cached[1]
            try:
                result = self._check()
            except Exception as exc:  # a probe must answer, whatever the check raised
                result = f"readiness check failed: {exc.__class__.__name__}: {exc}"
            self._cached = (self._clock(), result)
            return result


class HealthServer(ThreadingHTTPServer):
    """Threaded server carrying the state its handlers read."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], health: Health, readiness: Readiness) -> None:
        self.health = health
        self.readiness = readiness
        super().__init__(address, HealthHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One stderr line instead of socketserver's traceback: a client that hangs up
        mid-answer is routine for probes and port scanners, not a server fault."""
        exc = sys.exc_info()[1]
        sys.stderr.write(f"{client_address[0]} - - request aborted: {exc!r}\n")


class HealthHandler(BaseHTTPRequestHandler):
    """Routes /health and /ready; every other path is a JSON 404.

    The original exercise answered 200 on any path, so renaming the probe path could never
    fail it; here a wrong path fails loudly. Access lines keep http.server's standard format
    on stderr (``10.0.0.1 - - [date] "GET /health HTTP/1.1" 200 -``).
    """

    server: HealthServer
    server_version = "lab-health/1"
    timeout = CLIENT_TIMEOUT_SECONDS
    # http.server assumes HTTP/0.9 until the request line parses, and 0.9 answers have no
    # status line; a client sending garbage should still get a readable 400.
    default_request_version = "HTTP/1.0"
    # Errors http.server raises itself (bad request line, oversized headers) answer JSON too.
    error_content_type = "application/json"
    error_message_format = '{"status": "ERROR", "code": %(code)d, "reason": "%(message)s"}'

    def do_GET(self) -> None:
        self._route(send_body=True)

    def do_HEAD(self) -> None:
        self._route(send_body=False)

    def __getattr__(self, name: str) -> Any:
        # http.server answers unknown methods with 501; any method but GET/HEAD is a client
        # mistake here, so answer 405 with an Allow header instead.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _method_not_allowed(self) -> None:
        self._send_json(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"status": "ERROR", "reason": "method not allowed"},
            send_body=True,
            extra_headers={"Allow": "GET, HEAD"},
        )

    def _route(self, send_body: bool) -> None:
        path = urlsplit(self.path).path
        if path == HEALTH_PATH:
            problem = self.server.health.problem()
            if problem is None:
                self._send_json(HTTPStatus.OK, {"status": "UP!"}, send_body)
            else:
                body = {"status": "DOWN", "reason": problem}
                self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, body, send_body)
        elif path == READY_PATH:
            problem = self.server.readiness.problem()
            if problem is None:
                self._send_json(HTTPStatus.OK, {"status": "READY"}, send_body)
            else:
                body = {"status": "NOT_READY", "reason": problem}
                self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, body, send_body)
        else:
            body = {"status": "ERROR", "reason": f"no such path: {path[:100]}"}
            self._send_json(HTTPStatus.NOT_FOUND, body, send_body)

    def _send_json(
        self,
        status: HTTPStatus,
        body: dict[str, str],
        send_body: bool,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        payload = json.dumps(body).encode()  # default separators: exactly {"status": "UP!"}
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(payload)


def start_server(health: Health, readiness: Readiness, host: str = "0.0.0.0", port: int = 5000) -> HealthServer:
    """Bind and serve in a daemon thread; the caller owns shutdown().

    The 0.1 s poll interval only bounds how long shutdown() waits, it costs nothing else.
    """
    server = HealthServer((host, port), health, readiness)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), name="health-server", daemon=True)
    thread.start()
    return server
