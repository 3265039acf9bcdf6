"""A TCP endpoint whose early connections reach the wrong peer for their whole life, for the pinned-connection test.

Why: on minikube (2026-12-06, docs/services.md "A pinned connection") a pod's first connection to a Service's
ClusterIP left the node before kube-proxy had programmed the Service and reached the host network's catch-all proxy,
which answers every HTTP request with ``404`` and an empty body and keeps the connection open. Connections opened
later were NATed to LocalStack. This stand-in does the same on 127.0.0.1: every connection accepted before
``route()`` is answered like that catch-all, every connection accepted after it is relayed to the emulator.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from lab.emulator import free_port

# What the catch-all answered (`curl http://10.123.45.67:4566/` on the lab's VM): a bodiless 404, kept alive.
WRONG_ANSWER = b"HTTP/1.1 404 Not Found\r\nserver: keryx\r\ncontent-length: 0\r\n\r\n"
CHUNK = 65536


class WrongPeer:
    """Listens on a free port; ``wrong_answers`` counts the requests the catch-all answered."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._upstream = upstream_port
        self._routed = threading.Event()
        self._lock = threading.Lock()
        self.wrong_answers = 0
        self.relayed_connections = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def route(self) -> None:
        """From now on new connections reach the emulator (kube-proxy has programmed the Service)."""
        self._routed.set()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            target = self._relay if self._routed.is_set() else self._answer_wrongly
            threading.Thread(target=target, args=(conn,), daemon=True).start()

    def _answer_wrongly(self, conn: socket.socket) -> None:
        """One bodiless 404 per request on this connection, for as long as the client keeps it."""
        with conn:
            pending = b""
            while data := conn.recv(CHUNK):
                pending += data
                while (request := _one_request(pending)) is not None:
                    pending = pending[request:]
                    with self._lock:
                        self.wrong_answers += 1
                    conn.sendall(WRONG_ANSWER)

    def _relay(self, conn: socket.socket) -> None:
        with self._lock:
            self.relayed_connections += 1
        upstream = socket.create_connection(("127.0.0.1", self._upstream))
        threading.Thread(target=_pipe, args=(upstream, conn), daemon=True).start()
        _pipe(conn, upstream)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(CHUNK):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _one_request(buffer: bytes) -> int | None:
    """The length of the first complete request in ``buffer`` (headers plus Content-Length body), or None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = 0
    for line in buffer[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    total = end + 4 + length
    return total if len(buffer) >= total else None
