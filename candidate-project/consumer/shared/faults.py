"""The fault switches: which signal breaks what, and the handlers that do it (CPU fault's body included).

Why a module of its own: ``runtime.py`` holds the process lifecycle (stop, drain, the worker thread); the faults are
what the lab breaks the services with, and they grow one by one. Each handler only flips in-memory state or starts a
thread, so the container restart that liveness (or the kernel) triggers heals it.

- SIGUSR1: health fault on (``/health`` answers 503 at once).
- SIGUSR2: the heartbeat freezes at once and the worker hangs at its next checkpoint (``runtime.Controls``).
- ``kill -35 1`` (FAULT_MEMORY_SIGNUM): memory fault on; the allocator is ``runtime.exhaust_memory``, paced by
  MEMORY_STEP_BYTES every MEMORY_STEP_SECONDS until the OOM killer ends the container at its memory limit.
- ``kill -36 1`` (FAULT_CPU_SIGNUM): CPU fault on. ``cpu_threads()`` busy threads (SPIN_THREADS_PER_CPU per CPU of
  the container's limit, rounded up) spin in pure Python forever, so the cgroup's CFS quota is used up in every period
  and the kernel throttles the whole container, its health server included, until the restart. Each signal starts
  another round. Pure Python on purpose: the spinning threads also compete for the GIL, as an application's own hot
  loops do, and a GIL held by a throttled thread makes every other thread wait for the next quota period.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from .jsonlog import log_event

# Literal numbers, not ``SIGRTMIN + n`` computed at run time: the sender (``kill -35 1`` typed by the lab or a person)
# must name the same number the handler was installed for, and libcs place SIGRTMIN differently (glibc 34, musl 35):
# 35 and 36 are real-time signals under both (SIGRTMIN+1 and +2 on the Debian-based images).
FAULT_MEMORY_SIGNUM = 35
FAULT_CPU_SIGNUM = 36
FAULT_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, FAULT_MEMORY_SIGNUM, FAULT_CPU_SIGNUM)
# The allocation schedule: one step of this many bytes, touched, every MEMORY_STEP_SECONDS (40 MiB/s). Paced, not
# as fast as possible, so the time from the signal to the OOM kill is a figure the lab can bound from the limit
# (limit / rate) and measure against the API's whole-second times, like a leak that grows instead of one that
# explodes. A step is one memset of fresh pages: RSS grows by the step, not only the address space.
MEMORY_STEP_BYTES = 4 * 2**20
MEMORY_STEP_SECONDS = 0.1
# Progress lines while allocating: one per this many bytes (the last one before the kill shows how far it got).
MEMORY_LOG_EVERY_BYTES = 32 * 2**20

CGROUP = Path("/sys/fs/cgroup")
# cgroup v2 (``cpu.max``: "<quota> <period>" or "max <period>"), then v1 (this lab's hosts run Docker on cgroup v1,
# and kind nodes inherit it): the CFS quota and period in microseconds, quota -1 for no limit.
CPU_MAX = "cpu.max"
CPU_V1 = ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")
# Busy threads per CPU of the limit. One already uses the whole quota, but the kernel shares the quota among the
# runnable threads, so one spinner still leaves the health server about half of it: measured (the consumer in Docker
# with --cpus, 2026-12-03) /health took at most 0.78 s at 50m with one spinner, so even a 1 s probe timeout never
# failed; with 4 spinners 60 % of the answers took over 1 s, with 8 93 % (at 500m, 8 spinners: at most 1.03 s). A
# starved service in production is one whose runnable threads outnumber its quota, so the fault starts 8.
SPIN_THREADS_PER_CPU = 8
# A busy thread checks its stop event once per this many loop turns (tests stop it; the services never do).
SPIN_TURNS = 10_000


def signal_name(signum: int) -> str:
    """``SIGUSR1``, or ``SIGRTMIN+1`` for a real-time signal (which have no names of their own)."""
    if signal.SIGRTMIN <= signum <= signal.SIGRTMAX:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"
    return signal.Signals(signum).name


def cpu_quota(root: Path = CGROUP) -> float | None:
    """The container's CPU limit in CPUs from its cgroup (0.05 for ``50m``), or None without a limit or a cgroup."""
    try:
        limit, period = (root / CPU_MAX).read_text().split()
        return None if limit == "max" else int(limit) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota, length = (int((root / name).read_text()) for name in CPU_V1)
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or length <= 0 else quota / length


def cpu_threads(root: Path = CGROUP, cpus: int | None = None) -> int:
    """SPIN_THREADS_PER_CPU per CPU the limit allows (rounded up to whole CPUs, at least one); per CPU of the machine
    without a limit."""
    quota = cpu_quota(root)
    whole = (cpus if cpus is not None else (os.cpu_count() or 1)) if quota is None else max(1, math.ceil(quota))
    return SPIN_THREADS_PER_CPU * whole


def spin(stop: threading.Event | None = None) -> int:
    """One busy thread's body: pure-Python arithmetic until ``stop`` is set (never, in the services); returns the
    number of checks made (tests only)."""
    checks = 0
    while stop is None or not stop.is_set():
        total = 0
        for turn in range(SPIN_TURNS):
            total += turn * turn
        checks += 1
    return checks


Spawn = Callable[[Callable[[], object], str], object]


def install_fault_switches(
    hang: threading.Event,
    trip_health: Callable[[str], None],
    exhaust: Callable[[], object],
    spawn: Spawn,
    threads: Callable[[], int] = cpu_threads,
) -> None:
    """Install the four switches' handlers (main thread only). ``spawn(body, name)`` starts a fault's body in a
    thread that leaves our signals to the main thread (``runtime.spawn_unsignalled``); ``exhaust`` is the memory
    fault's body, ``threads`` how many busy threads the CPU fault starts (both replaced by tests)."""

    def on_usr1(_signum: int, _frame: FrameType | None) -> None:
        trip_health("SIGUSR1")
        log_event("fault_health_on", level=logging.WARNING, signal="SIGUSR1")

    def on_usr2(_signum: int, _frame: FrameType | None) -> None:
        hang.set()
        log_event("fault_hang_on", level=logging.WARNING, signal="SIGUSR2")

    def on_memory(signum: int, _frame: FrameType | None) -> None:
        log_event(
            "fault_memory_on",
            level=logging.WARNING,
            signal=signal_name(signum),
            step_bytes=MEMORY_STEP_BYTES,
            step_seconds=MEMORY_STEP_SECONDS,
        )
        spawn(exhaust, "memory-fault")

    def on_cpu(signum: int, _frame: FrameType | None) -> None:
        count = threads()
        log_event("fault_cpu_on", level=logging.WARNING, signal=signal_name(signum), threads=count, cpus=cpu_quota())
        for index in range(count):
            spawn(spin, f"cpu-fault-{index}")

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)
    signal.signal(FAULT_MEMORY_SIGNUM, on_memory)
    signal.signal(FAULT_CPU_SIGNUM, on_cpu)
