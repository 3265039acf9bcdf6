"""The health server: exact answers, liveness vs readiness, and robustness to bad clients."""

from __future__ import annotations

import re
import socket

import pytest
import requests

from shared import server

EXACT_UP = b'{"status": "UP!"}'


def test_liveness_health_is_200_with_exact_body(health_server):
    response = requests.get(f"{health_server.base}/health", timeout=5)
    assert response.status_code == 200
    assert response.content == EXACT_UP
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Length"] == str(len(EXACT_UP))
    assert response.headers["Cache-Control"] == "no-store"


def test_liveness_head_has_headers_and_no_body(health_server):
    response = requests.head(f"{health_server.base}/health", timeout=5)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == str(len(EXACT_UP))


def test_liveness_query_string_is_ignored(health_server):
    assert requests.get(f"{health_server.base}/health?probe=1", timeout=5).status_code == 200


@pytest.mark.parametrize("path", ["/", "/healthz", "/health/", "/HEALTH", "/ready/x"])
def test_liveness_other_paths_are_json_404(health_server, path):
    response = requests.get(f"{health_server.base}{path}", timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["status"] == "ERROR"


def test_other_methods_are_405(health_server):
    response = requests.post(f"{health_server.base}/health", data=b"x", timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_liveness_503_when_heartbeat_stale(health_server, clock):
    clock.advance(30.5)  # max_age is 30 in the fixture
    response = requests.get(f"{health_server.base}/health", timeout=5)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "DOWN"
    assert "heartbeat stale" in body["reason"]


def test_liveness_beat_keeps_health_up(health_server, clock):
    clock.advance(29)
    health_server.health.beat()
    clock.advance(29)
    assert requests.get(f"{health_server.base}/health", timeout=5).status_code == 200


def test_liveness_503_when_fault_switch_on(health_server):
    health_server.health.trip("SIGUSR1")
    response = requests.get(f"{health_server.base}/health", timeout=5)
    assert response.status_code == 503
    assert response.json() == {"status": "DOWN", "reason": "fault switch on (SIGUSR1)"}
    health_server.health.beat()  # a fresh heartbeat does not heal the switch; a restart does
    assert requests.head(f"{health_server.base}/health", timeout=5).status_code == 503


def test_ready_follows_dependency_not_liveness(health_server):
    assert requests.get(f"{health_server.base}/ready", timeout=5).json() == {"status": "READY"}
    health_server.ready_answer[0] = "sqs: EndpointConnectionError"
    response = requests.get(f"{health_server.base}/ready", timeout=5)
    assert response.status_code == 503
    assert response.json()["reason"] == "sqs: EndpointConnectionError"
    # a dependency outage must never turn into a liveness failure
    assert requests.get(f"{health_server.base}/health", timeout=5).status_code == 200


def test_readiness_caches_within_ttl(clock):
    calls: list[int] = []

    def check() -> str | None:
        calls.append(1)
        return None

    readiness = server.Readiness(check, ttl=2.0, clock=clock)
    assert readiness.problem() is None
    clock.advance(1.9)
    assert readiness.problem() is None
    assert len(calls) == 1
    clock.advance(0.2)
    readiness.problem()
    assert len(calls) == 2


def test_readiness_while_starting_is_never_cached(clock):
    """A restarted pod must be Ready at the first probe after start-up finished, not one cache period later."""
    starting = ["starting: AWS clients not created yet"]
    calls: list[int] = []

    def check() -> str | None:
        calls.append(1)
        return None

    readiness = server.Readiness(check, ttl=2.0, clock=clock, pending=lambda: starting[0] if starting else None)
    assert readiness.problem() == "starting: AWS clients not created yet"
    assert calls == [], "no dependency call while starting"
    starting.clear()
    clock.advance(0.1)  # well inside the cache period
    assert readiness.problem() is None
    assert calls == [1]


def test_readiness_pending_exception_is_a_503_reason(clock):
    def broken() -> str | None:
        raise RuntimeError("boom")

    assert "RuntimeError: boom" in server.Readiness(lambda: None, clock=clock, pending=broken).problem()


def test_readiness_check_exception_is_a_503_reason(clock):
    def broken() -> str | None:
        raise RuntimeError("boom")

    assert "RuntimeError: boom" in server.Readiness(broken, clock=clock).problem()


def test_access_log_keeps_http_server_format(health_server, capsys):
    requests.get(f"{health_server.base}/health", timeout=5)
    requests.get(f"{health_server.base}/missing", timeout=5)
    err = capsys.readouterr().err
    stamp = r"\[\d{2}/\w{3}/\d{4} \d{2}:\d{2}:\d{2}\]"
    assert re.search(rf'^127\.0\.0\.1 - - {stamp} "GET /health HTTP/1\.1" 200 -$', err, re.M)
    assert re.search(rf'^127\.0\.0\.1 - - {stamp} "GET /missing HTTP/1\.1" 404 -$', err, re.M)


GARBAGE = [
    b"\x00\xff\xfe garbage \x80\x81\r\n\r\n",
    b"GET /health NOTHTTP\r\n\r\n",
    b"GET " + b"/a" * 40000 + b" HTTP/1.1\r\n\r\n",  # request line > 64 KiB
    b"GET /health HTTP/1.1\r\nX: " + b"y" * 70000 + b"\r\n\r\n",  # header line > 64 KiB
    b"GET /health HTTP/1.1\r\n" + b"X-A: b\r\n" * 150 + b"\r\n",  # > 100 headers
    b"BREW /pot HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on a plain port
]
# The one payload that legitimately gets no answer: an empty request line is not a request (http.server closes
# the connection without a word, as every HTTP/1.x server may). Every other garbage payload must get a 4xx.
NO_REQUEST = b"\r\n\r\n\r\n"


def garbage_answer_problem(payload: bytes, answer: bytes) -> str | None:
    """What is wrong with the server's answer to a garbage payload (None when it is right)."""
    if payload == NO_REQUEST:
        return None if answer == b"" or answer.startswith(b"HTTP/1.0 4") else f"unexpected answer {answer[:60]!r}"
    if not answer:
        return "no answer"
    if not answer.startswith(b"HTTP/1.0 4") or not 400 <= int(answer.split(b" ", 2)[1]) < 500:
        return f"not a 4xx: {answer[:120]!r}"
    return None


def test_garbage_check_accepts_silence_only_for_the_empty_request_line():
    """Item 7 of issue 12: the old check (``if answer:``) accepted no reply for any payload, e.g. a server that
    dropped every malformed connection without a 400."""
    for payload in GARBAGE:
        assert garbage_answer_problem(payload, b"") == "no answer"
    assert garbage_answer_problem(NO_REQUEST, b"") is None
    assert garbage_answer_problem(GARBAGE[0], b"HTTP/1.0 500 Oops\r\n") is not None
    assert garbage_answer_problem(GARBAGE[0], b"HTTP/1.0 400 Bad request\r\n") is None


def _send_raw(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close early on an oversized line; its answer is still there
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_unsupported_http_version_is_505(health_server):
    # Well-formed but unsupported, so 505 (not a 4xx) is the correct answer.
    assert _send_raw(health_server.port, b"GET /health HTTP/9.9\r\n\r\n").startswith(b"HTTP/1.0 505 ")


def test_liveness_survives_garbage_burst_with_4xx(health_server):
    for _round in range(5):
        for payload in [*GARBAGE, NO_REQUEST]:
            answer = _send_raw(health_server.port, payload)
            assert garbage_answer_problem(payload, answer) is None, (payload[:40], answer[:120])
    half_open = socket.create_connection(("127.0.0.1", health_server.port), timeout=10)
    half_open.sendall(b"GET /health HTTP/1.1\r\n")  # never finished: must not block others
    try:
        response = requests.get(f"{health_server.base}/health", timeout=5)
        assert response.status_code == 200
        assert response.content == EXACT_UP
        half_open.sendall(b"\r\n")  # finish it, so its answer is read here and not after the test
        assert half_open.recv(65536).startswith(b"HTTP/1.0 200 ")
    finally:
        half_open.close()
