"""Lifecycle: signal-driven fault switches, the drain, exit codes and the JSON log shape."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading

import pytest
import requests

from shared import server
from shared.jsonlog import JsonFormatter
from shared.runtime import HANDLED_SIGNALS, Controls, install_signal_handlers, run_worker, signals_blocked


@pytest.fixture
def restore_signals():
    """install_signal_handlers replaces process-wide handlers; put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_liveness_sigusr1_turns_health_down(restore_signals, clock, events):
    health = server.Health(max_age=30, clock=clock)
    install_signal_handlers(Controls(), health.trip)
    assert health.problem() is None
    os.kill(os.getpid(), signal.SIGUSR1)  # handlers run in the main thread before this returns
    assert health.problem() == "fault switch on (SIGUSR1)"
    assert events("fault_health_on")


def test_liveness_sigusr2_hangs_worker_until_sigterm(restore_signals, events, run_in_thread, wait_until):
    controls = Controls()
    install_signal_handlers(controls, lambda reason: None)
    passed: list[int] = []

    def loop() -> None:
        while not controls.stop.is_set():
            controls.checkpoint()
            passed.append(1)

    os.kill(os.getpid(), signal.SIGUSR2)
    run_in_thread(loop)
    wait_until(lambda: len(events("hung")), lambda n: n == 1)
    assert passed == []  # blocked at the checkpoint, so no heartbeat would be beaten
    os.kill(os.getpid(), signal.SIGTERM)
    assert controls.stop.is_set()
    assert events("draining")[0]["reason"] == "SIGTERM"


def test_run_worker_exit_codes():
    controls = Controls()

    class Drains:
        def run(self) -> None:
            controls.request_stop("test")

        def ready_problem(self) -> None:
            return None

    class Crashes(Drains):
        def run(self) -> None:
            raise RuntimeError("bug")

    class ReturnsEarly(Drains):
        def run(self) -> None:
            return None

    assert run_worker(Drains(), controls) == 0
    assert run_worker(Crashes(), Controls()) == 1
    assert run_worker(ReturnsEarly(), Controls()) == 1


def test_json_log_line_shape():
    formatter = JsonFormatter("producer", "producer-abc")
    record = logging.LogRecord("lab", logging.INFO, __file__, 1, "published", None, None)
    record.fields = {"id": "x", "seq": 3, "ts": "must not shadow", "event": "nor this"}
    line = formatter.format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["event"] == "published" and parsed["level"] == "INFO"
    assert isinstance(parsed["ts"], float)
    assert (parsed["service"], parsed["pod"], parsed["id"], parsed["seq"]) == ("producer", "producer-abc", "x", 3)


def test_json_log_wraps_library_records_and_tracebacks():
    formatter = JsonFormatter("consumer", "c-1")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("botocore", logging.WARNING, __file__, 1, "odd %s", ("thing",), sys.exc_info())
    parsed = json.loads(formatter.format(record))
    assert parsed["event"] == "log" and parsed["message"] == "odd thing" and parsed["logger"] == "botocore"
    assert "ValueError: boom" in parsed["traceback"]


def test_controls_stop_releases_hang_immediately():
    controls = Controls()
    controls.hang.set()
    threading.Timer(0.05, controls.request_stop, args=("test",)).start()
    controls.checkpoint()  # returns once stop is requested
    assert controls.stop.is_set()


def test_liveness_sigusr2_freezes_heartbeat_at_once(clock):
    health = server.Health(max_age=30, clock=clock)
    controls = Controls()
    beat = controls.gate(health.beat)
    controls.hang.set()  # what the SIGUSR2 handler does
    clock.advance(31)
    beat()  # the worker finishing its in-flight call still "beats"...
    assert "heartbeat stale" in health.problem()  # ...but the beat no longer counts


def test_worker_and_server_threads_leave_signals_to_the_main_thread():
    """Otherwise the kernel may hand SIGTERM to a thread that cannot run Python handlers."""
    controls = Controls()
    masks: dict[str, set[signal.Signals]] = {}

    class RecordsMask:
        def run(self) -> None:
            masks["worker"] = signal.pthread_sigmask(signal.SIG_BLOCK, [])
            controls.request_stop("test")

        def ready_problem(self) -> None:
            return None

    def readiness_check() -> None:  # runs in a request-handler thread
        masks["handler"] = signal.pthread_sigmask(signal.SIG_BLOCK, [])

    assert run_worker(RecordsMask(), controls) == 0
    with signals_blocked():
        srv = server.start_server(server.Health(30), server.Readiness(readiness_check), host="127.0.0.1", port=0)
    try:
        assert requests.get(f"http://127.0.0.1:{srv.server_address[1]}/ready", timeout=5).status_code == 200
    finally:
        srv.shutdown()
        srv.server_close()
    assert set(HANDLED_SIGNALS) <= masks["worker"]
    assert set(HANDLED_SIGNALS) <= masks["handler"]
    assert not set(HANDLED_SIGNALS) & signal.pthread_sigmask(signal.SIG_BLOCK, [])  # main thread unblocked
