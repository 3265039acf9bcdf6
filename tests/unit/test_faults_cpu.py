"""The CPU fault switch: a real-time signal whose handler starts busy threads, as many as the CPU limit allows.

Nothing here starves the test process: the handler is tested with the thread starter replaced, the thread count
against fake cgroup files, and one real busy thread is stopped as soon as its own CPU clock shows it burning.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from shared import faults
from shared.faults import (
    FAULT_CPU_SIGNUM,
    FAULT_MEMORY_SIGNUM,
    SPIN_THREADS_PER_CPU,
    cpu_quota,
    cpu_threads,
    install_fault_switches,
    signal_name,
    spin,
)
from shared.runtime import HANDLED_SIGNALS, Controls, install_signal_handlers


@pytest.fixture
def restore_signals():
    """The installers replace process-wide handlers; put pytest's back."""
    signums = (signal.SIGTERM, signal.SIGINT, *faults.FAULT_SIGNALS)
    saved = {s: signal.getsignal(s) for s in signums}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_cpu_signal_is_a_real_time_signal_of_its_own():
    assert signal.SIGRTMIN <= FAULT_CPU_SIGNUM <= signal.SIGRTMAX
    assert FAULT_CPU_SIGNUM != FAULT_MEMORY_SIGNUM
    assert signal_name(FAULT_CPU_SIGNUM) == f"SIGRTMIN+{FAULT_CPU_SIGNUM - signal.SIGRTMIN}"
    assert FAULT_CPU_SIGNUM in HANDLED_SIGNALS  # blocked in the worker and server threads like the others


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "5000 100000\n"}, 0.05),  # cgroup v2, a 50m limit
        ({"cpu.max": "max 100000\n"}, None),  # v2 without a limit
        ({"cpu/cpu.cfs_quota_us": "150000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1.5),  # v1, 1500m
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),  # v1 without a limit
        ({}, None),  # no cgroup files at all (not in a container)
    ],
)
def test_cpu_quota_from_the_cgroup(tmp_path, files, expected):
    assert cpu_quota(cgroup(tmp_path, files)) == expected


@pytest.mark.parametrize(
    ("files", "cpus", "whole"),
    [
        ({"cpu.max": "5000 100000"}, 2, 1),  # a fraction of a CPU counts as one
        ({"cpu.max": "150000 100000"}, 4, 2),  # 1.5 CPUs: two
        ({"cpu.max": "800000 100000"}, 2, 8),  # the limit, not the machine
        ({"cpu.max": "max 100000"}, 3, 3),  # no limit: the machine's CPUs
    ],
)
def test_busy_threads_per_cpu_of_the_limit(tmp_path, files, cpus, whole):
    assert cpu_threads(cgroup(tmp_path, files), cpus=cpus) == SPIN_THREADS_PER_CPU * whole


def test_a_busy_thread_burns_cpu_until_stopped():
    """Its own CPU clock, not the wall clock, shows it spinning; the stop event ends it."""
    stop = threading.Event()
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(spin(stop)), daemon=True)
    thread.start()
    clock = time.pthread_getcpuclockid(thread.ident)
    retrying = Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.05), retry=retry_if_result(lambda s: s < 0.2))
    try:
        assert retrying(lambda: time.clock_gettime(clock)) >= 0.2
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and done[0] > 0


def test_the_signal_logs_and_starts_one_busy_thread_per_cpu_allowed(restore_signals, events):
    started: list[tuple[object, str]] = []
    install_fault_switches(
        threading.Event(), lambda reason: None, lambda: None, lambda body, name: started.append((body, name)), lambda: 3
    )
    os.kill(os.getpid(), FAULT_CPU_SIGNUM)  # the handler runs in the main thread before this returns
    (line,) = events("fault_cpu_on")
    assert line["signal"] == signal_name(FAULT_CPU_SIGNUM) and line["threads"] == 3
    assert started == [(spin, "cpu-fault-0"), (spin, "cpu-fault-1"), (spin, "cpu-fault-2")]


def test_the_services_install_the_cpu_switch(restore_signals):
    """install_signal_handlers (what app.py calls) puts a handler on the CPU signal, not the default action."""
    install_signal_handlers(Controls(), lambda reason: None)
    assert callable(signal.getsignal(FAULT_CPU_SIGNUM))


def test_fault_bodies_start_without_our_signals(restore_signals):
    """runtime's thread starter, used for every fault body: SIGTERM still reaches the main thread while it spins."""
    from shared.runtime import spawn_unsignalled

    seen: dict[str, object] = {}
    ran = threading.Event()

    def body() -> None:
        seen["mask"] = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        ran.set()

    spawn_unsignalled(body, "cpu-fault-0")
    assert ran.wait(5)
    assert set(HANDLED_SIGNALS) <= seen["mask"]
    assert not set(HANDLED_SIGNALS) & signal.pthread_sigmask(signal.SIG_BLOCK, [])
