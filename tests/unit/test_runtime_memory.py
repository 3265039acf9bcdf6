"""The memory fault switch: a real-time signal whose handler allocates and touches memory at a fixed rate.

Nothing here exhausts memory: the allocator is run with a small budget (its test-only stop), with a fake clock, or
in a subprocess whose resident size is read before and after; the handler is tested with the allocator replaced.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shared import runtime
from shared.runtime import (
    FAULT_MEMORY_SIGNUM,
    HANDLED_SIGNALS,
    MEMORY_STEP_BYTES,
    MEMORY_STEP_SECONDS,
    Controls,
    exhaust_memory,
    install_signal_handlers,
    signal_name,
)

SERVICES = Path(__file__).resolve().parents[2] / "candidate-project"
MIB = 2**20


@pytest.fixture
def restore_signals():
    """install_signal_handlers replaces process-wide handlers; put pytest's back."""
    signums = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, FAULT_MEMORY_SIGNUM)
    saved = {s: signal.getsignal(s) for s in signums}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


class Schedule:
    """A fake clock that only moves when the allocator sleeps, plus an optional lag added at chosen steps."""

    def __init__(self, lag_at: dict[int, float] | None = None) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.lag_at = lag_at or {}

    def clock(self) -> float:
        self.now += self.lag_at.pop(len(self.sleeps), 0.0)
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_memory_signal_is_a_real_time_signal_of_this_libc():
    assert signal.SIGRTMIN <= FAULT_MEMORY_SIGNUM <= signal.SIGRTMAX
    assert FAULT_MEMORY_SIGNUM not in {s.value for s in signal.Signals if s not in (signal.SIGRTMIN, signal.SIGRTMAX)}
    assert signal_name(FAULT_MEMORY_SIGNUM) == f"SIGRTMIN+{FAULT_MEMORY_SIGNUM - signal.SIGRTMIN}"
    assert FAULT_MEMORY_SIGNUM in HANDLED_SIGNALS  # blocked in the worker and server threads like the others


def test_allocates_touched_steps_until_the_budget():
    schedule = Schedule()
    held = exhaust_memory(1024, 0.5, budget=4096, clock=schedule.clock, sleep=schedule.sleep)
    assert [len(chunk) for chunk in held] == [1024] * 4
    assert all(chunk == b"\xa5" * 1024 for chunk in held)  # written, not only reserved
    assert schedule.sleeps == [0.5] * 4


def test_a_late_step_does_not_push_the_later_ones_back():
    """The rate is what the lab's bound is made of: steps are on a fixed grid from the signal."""
    schedule = Schedule(lag_at={1: 0.3})  # the second step's memset took 0.3 s longer
    exhaust_memory(1024, 0.5, budget=4096, clock=schedule.clock, sleep=schedule.sleep)
    assert schedule.sleeps == pytest.approx([0.5, 0.2, 0.5, 0.5])
    assert schedule.now == pytest.approx(100.0 + 4 * 0.5)


def test_logs_progress_every_few_mib(events, monkeypatch):
    monkeypatch.setattr(runtime, "MEMORY_LOG_EVERY_BYTES", 2 * MIB)
    schedule = Schedule()
    exhaust_memory(MIB, 0.1, budget=5 * MIB, clock=schedule.clock, sleep=schedule.sleep)
    assert [e["total_mib"] for e in events("memory_allocated")] == [2, 4]


def test_resident_memory_really_grows():
    """In a fresh process (no freed heap to reuse), as in a container: RSS grows by about the budget."""
    code = (
        "import json, os, sys\n"
        "from shared.runtime import exhaust_memory\n"
        "def rss(): return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
        "before = rss(); held = exhaust_memory(4 << 20, 0.0, budget=64 << 20); print(json.dumps([before, rss()]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=SERVICES / "consumer", capture_output=True, text=True, timeout=60, check=True
    )
    before, after = json.loads(out.stdout.splitlines()[-1])
    assert after - before >= 60 * MIB, (before, after)


def test_the_signal_logs_and_starts_the_allocator_in_a_thread_without_our_signals(restore_signals, events):
    started = threading.Event()
    seen: dict[str, object] = {}

    def fake_exhaust() -> None:
        seen["thread"] = threading.current_thread().name
        seen["mask"] = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        started.set()

    install_signal_handlers(Controls(), lambda reason: None, exhaust=fake_exhaust)
    os.kill(os.getpid(), FAULT_MEMORY_SIGNUM)  # the handler runs in the main thread before this returns
    (line,) = events("fault_memory_on")
    assert line["signal"] == signal_name(FAULT_MEMORY_SIGNUM)
    assert (line["step_bytes"], line["step_seconds"]) == (MEMORY_STEP_BYTES, MEMORY_STEP_SECONDS)
    assert started.wait(5), "the allocator was not started"
    assert seen["thread"] == "memory-fault"
    assert set(HANDLED_SIGNALS) <= seen["mask"]  # SIGTERM still reaches the main thread while it allocates
    assert not set(HANDLED_SIGNALS) & signal.pthread_sigmask(signal.SIG_BLOCK, [])  # main thread mask restored
