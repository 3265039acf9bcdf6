"""faultproxy passes what it does not fault through unchanged: status, reason, headers, body bytes, streaming.

The upstream here is a tiny HTTP server in this test process whose answers we control byte for byte (the emulator
adds request ids and dates, which differ per call); the proxy is the real ``python -m faultproxy`` process.
"""

from __future__ import annotations

import http.client
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from faultproxy.proxy import HOP_BY_HOP
from lab.emulator import free_port
from tests.integration.faultproxy_process import FaultProxy, faultproxy

BODY = os.urandom(1024 * 1024 + 7)  # bigger than the proxy's 64 KiB chunk, odd length
RELEASE = threading.Event()  # the streamed answer's second half waits for the test to have read the first
# The streaming check waits this long for the first half (far above the proxy's per-chunk latency on 127.0.0.1);
# the upstream holds the rest back for longer, so a proxy that buffers the whole answer makes the check time out.
FIRST_CHUNK_SECONDS = 5.0
HOLD_BACK_SECONDS = 6 * FIRST_CHUNK_SECONDS


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        received = self.rfile.read(int(self.headers["Content-Length"]))
        headers = "".join(f"{k}: {v}\n" for k, v in self.headers.items()).encode()
        self._fixed(201, headers + b"\n" + received)

    def do_GET(self) -> None:
        if self.path == "/stream":
            self.send_response_only(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nfirst\r\n")
            self.wfile.flush()
            RELEASE.wait(HOLD_BACK_SECONDS)
            self.wfile.write(b"6\r\nsecond\r\n0\r\n\r\n")
        else:
            self._fixed(418, BODY)

    def _fixed(self, status: int, body: bytes) -> None:
        self.send_response_only(status, "Custom Reason")
        self.send_header("X-Dup", "one")
        self.send_header("X-Dup", "two")
        self.send_header("Content-Type", "application/x-odd; charset=latin-1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def proxy(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    with faultproxy(upstream, tmp_path_factory.mktemp("faultproxy")) as running:
        yield running


def fetch(url: str, method: str = "GET", path: str = "/", body: bytes | None = None) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request(method, path, body=body, headers={"X-Client": "a", "Content-Type": "text/x-mine"})
    response = conn.getresponse()
    answer = {
        "status": response.status,
        "reason": response.reason,
        "headers": [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP],
        "body": response.read(),
    }
    conn.close()
    return answer


def relay_problems(direct: dict[str, Any], proxied: dict[str, Any]) -> list[str]:
    """Differences between the upstream's own answer and the same answer through the proxy."""
    return [f"{key} not the same" for key in ("status", "reason", "headers", "body") if direct[key] != proxied[key]]


def test_answer_is_relayed_byte_for_byte(upstream, proxy):
    direct, proxied = fetch(upstream), fetch(proxy.url)
    assert direct["body"] == BODY and direct["status"] == 418
    assert relay_problems(direct, proxied) == []


def test_request_reaches_upstream_unchanged(upstream, proxy):
    payload = os.urandom(300 * 1024)
    direct = fetch(upstream, "POST", "/x?Action=NotAnAwsCall&a=%20b", payload)
    proxied = fetch(proxy.url, "POST", "/x?Action=NotAnAwsCall&a=%20b", payload)
    assert proxied["body"].endswith(b"\n\n" + payload)
    # Headers as upstream saw them: the same apart from Host, which names the port each client connected to.
    assert [h for h in direct["body"].split(b"\n\n")[0].splitlines() if not h.startswith(b"Host")] == [
        h for h in proxied["body"].split(b"\n\n")[0].splitlines() if not h.startswith(b"Host")
    ]


def test_relay_check_flags_a_changed_answer(upstream):
    direct = fetch(upstream)
    # The last byte flipped, not replaced: BODY is random, so a fixed byte equals it one run in 256 (CI 2026-12-06).
    body = direct["body"]
    changed = {**direct, "headers": direct["headers"][:-1], "body": body[:-1] + bytes([body[-1] ^ 0xFF])}
    assert relay_problems(direct, changed) == ["headers not the same", "body not the same"]


def test_chunked_answer_is_streamed_not_buffered(proxy):
    """The first chunk arrives through the proxy while the upstream still holds back the rest."""
    RELEASE.clear()
    host, port = proxy.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=FIRST_CHUNK_SECONDS)
    conn.request("GET", "/stream")
    response = conn.getresponse()
    try:
        assert response.read1(5) == b"first"  # would time out if the proxy waited for the whole body
    finally:
        RELEASE.set()
    assert response.read() == b"second"
    conn.close()


def test_unreachable_upstream_is_a_502(tmp_path: Path):
    with faultproxy(f"http://127.0.0.1:{free_port()}", tmp_path) as lonely:
        assert fetch(lonely.url)["status"] == 502
        assert requests.get(f"{lonely.control_url}/ready", timeout=5).status_code == 503


def test_chunked_request_is_forwarded_with_the_same_bytes(upstream, proxy):
    payload = os.urandom(100_000)
    pieces = [payload[i : i + 30_000] for i in range(0, len(payload), 30_000)]
    host, port = proxy.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/chunked", body=iter(pieces), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    echoed = conn.getresponse().read()
    conn.close()
    headers, _, body = echoed.partition(b"\n\n")
    assert body == payload
    assert f"Content-Length: {len(payload)}".encode() in headers.splitlines()


def test_partial_fault_passes_a_query_protocol_batch_through_and_counts_it(proxy):
    """Only the JSON protocol's batch is rewritten; a query-protocol one reaches the upstream unchanged, counted."""
    assert proxy.set(operation="sqs:DeleteMessageBatch", kind="partial").status_code == 201
    entry = "DeleteMessageBatchRequestEntry.1"
    form = f"Action=DeleteMessageBatch&{entry}.Id=0&{entry}.ReceiptHandle=r".encode()
    answer = requests.post(
        f"{proxy.url}/000000000000/q",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert answer.status_code == 201 and answer.content.endswith(b"\n\n" + form)
    (fault,) = proxy.clear().json()["removed"]
    assert (fault["matched"], fault["injected"], fault["unsupported"]) == (1, 0, 1)
