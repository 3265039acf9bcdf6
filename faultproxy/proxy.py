"""The proxy port: forward each request to the emulator unchanged, unless an active fault matches its operation.

Why one upstream connection per request: the emulator is one hop away in the cluster, and a fresh connection can
never be a stale keep-alive one that the emulator closed meanwhile (which would turn into a spurious error the fault
test would then count). Pass-through keeps status, reason, headers (except hop-by-hop ones) and body bytes; bodies
are streamed in chunks, so a long poll's answer is relayed the moment the emulator sends it.
"""

from __future__ import annotations

import http.client
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .config import Config
from .faults import PARTIAL, SERVER_ERROR, THROTTLE, FaultTable
from .jsonlog import log_event
from .protocol import JSON, Operation, Reply, parse_operation, server_error_reply, throttle_reply

# RFC 9110 section 7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
CHUNK = 64 * 1024
# SQS/SNS payloads are at most 256 KiB (1 MiB with extended limits); a bigger request is not an AWS call.
MAX_BODY = 16 * 1024 * 1024
INJECTED_HEADER = "x-faultproxy-injected"


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, config: Config, table: FaultTable) -> None:
        self.config = config
        self.table = table
        super().__init__((config.listen_host, config.listen_port), ProxyHandler)


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ProxyServer

    def do_any(self) -> None:
        body = self._read_body()
        if body is None:
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        operation = parse_operation(self.command, self.path, headers, body)
        kind = self.server.table.decide(operation.key) if operation else None
        if operation and kind in (THROTTLE, SERVER_ERROR):
            reply = throttle_reply(operation) if kind == THROTTLE else server_error_reply(operation)
            self._send_reply(reply, operation, kind)
        elif operation and kind == PARTIAL and operation.protocol == JSON:
            self._partial_batch(operation, body)
        else:
            if operation and kind == PARTIAL:
                self.server.table.note_unsupported(operation.key)
            self._forward(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Pass-through is silent (the services log their calls); injections are logged as JSON events."""

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            self.send_error(413 if length.isdigit() else 400, "bad Content-Length")
            return None
        return self.rfile.read(int(length))

    def _read_chunked(self) -> bytes | None:
        """A chunked request body is forwarded with a Content-Length instead (the same bytes, framed differently)."""
        parts, total = [], 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers are dropped, like any hop-by-hop framing
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                self.send_error(413, "body too large")
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _open(self, body: bytes) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        config = self.server.config
        conn = http.client.HTTPConnection(config.upstream_host, config.upstream_port, timeout=config.upstream_timeout)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        length_sent = False
        for name, value in self.headers.items():
            if name.lower() == "content-length":  # in its original place, recomputed if a partial fault cut entries
                conn.putheader(name, str(len(body)))
                length_sent = True
            elif name.lower() not in HOP_BY_HOP:
                conn.putheader(name, value)
        if not length_sent and (body or self.command in ("POST", "PUT", "PATCH")):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        return conn, conn.getresponse()

    def _forward(self, body: bytes) -> None:
        try:
            conn, response = self._open(body)
        except (OSError, http.client.HTTPException) as exc:
            self._send_reply(Reply(502, {"Content-Type": "text/plain"}, f"upstream: {exc}\n".encode()), None, None)
            return
        try:
            self._relay(response)
        except (OSError, http.client.HTTPException):
            self.close_connection = True  # mid-answer: the client sees a cut connection, as it would without us
        finally:
            conn.close()

    def _relay(self, response: http.client.HTTPResponse) -> None:
        self.send_response_only(response.status, response.reason)
        length = response.getheader("Content-Length")
        no_body = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        chunked = not no_body and length is None
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            return
        while data := response.read1(CHUNK):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _partial_batch(self, operation: Operation, body: bytes) -> None:
        """Fail some entries: they are not sent to the emulator (so they stay on the queue) and are reported failed."""
        try:
            request = json.loads(body)
            entries = list(request["Entries"])
        except (ValueError, KeyError, TypeError):
            self._forward(body)  # not a batch we understand: the emulator answers it as it would
            return
        chosen = self.server.table.pick(operation.key, len(entries))
        failed = [entry for entry, fail in zip(entries, chosen, strict=True) if fail]
        if not failed:
            self._forward(body)
            return
        kept = [entry for entry, fail in zip(entries, chosen, strict=True) if not fail]
        answer: dict[str, Any] = {"Successful": [], "Failed": []}
        if kept:
            try:
                conn, response = self._open(json.dumps({**request, "Entries": kept}).encode())
                status, raw = response.status, response.read()
                conn.close()
            except (OSError, http.client.HTTPException) as exc:
                self._send_reply(Reply(502, {"Content-Type": "text/plain"}, f"upstream: {exc}\n".encode()), None, None)
                return
            if status != 200:
                self._send_reply(Reply(status, {"Content-Type": "application/x-amz-json-1.0"}, raw), None, None)
                return
            answer = {"Successful": [], "Failed": [], **json.loads(raw)}
        answer["Failed"] = list(answer.get("Failed", [])) + [
            {"Id": entry.get("Id"), "SenderFault": False, "Code": "InternalError", "Message": "injected by faultproxy"}
            for entry in failed
        ]
        reply = Reply(200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(answer).encode())
        self._send_reply(reply, operation, PARTIAL, failed=len(failed), of=len(entries))

    def _send_reply(self, reply: Reply, operation: Operation | None, kind: str | None, **fields: Any) -> None:
        self.send_response_only(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if kind:
            self.send_header(INJECTED_HEADER, kind)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        if operation and kind:
            log_event("injected", level=logging.INFO, operation=operation.key, kind=kind, status=reply.status, **fields)
