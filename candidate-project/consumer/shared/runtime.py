"""Process lifecycle shared by both services: signals, fault switches, the worker thread.

Why signals: the lab breaks a running pod with ``kubectl exec POD -- sh -c 'kill -USR1 1'``.
The app is PID 1 (exec-form CMD), the switches live in memory, and so a container restart -
exactly what the liveness probe triggers - heals them. A file-based switch in an emptyDir
would survive the restart and crash-loop the pod forever.

- SIGUSR1: health fault on (``/health`` answers 503 at once).
- SIGUSR2: the heartbeat freezes at once and the worker hangs at its next checkpoint;
  ``/health`` answers 503 once the last beat is older than ``HEARTBEAT_MAX_AGE_SECONDS``.
- FAULT_MEMORY_SIGNUM (a real-time signal, ``kill -35 1``): memory fault on. A thread allocates and touches
  MEMORY_STEP_BYTES every MEMORY_STEP_SECONDS, forever, so the container's RSS grows until the kernel's OOM killer
  ends it at the container's memory limit (``OOMKilled``, exit 137); the restart frees it all.
- SIGTERM/SIGINT: stop taking new work, finish the in-flight batch, exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol

from .jsonlog import log_event

# The memory fault's switch. A real-time signal because USR1/USR2 are taken and nothing else sends one to the app;
# a literal number, not ``SIGRTMIN + 1`` computed at run time, because the sender (``kill -35 1`` typed by the lab
# or a person) must name the same number the handler was installed for, and libcs place SIGRTMIN differently
# (glibc 34, musl 35): 35 is a real-time signal under both (SIGRTMIN+1 on the Debian-based images).
FAULT_MEMORY_SIGNUM = 35
# The allocation schedule: one step of this many bytes, touched, every MEMORY_STEP_SECONDS (40 MiB/s). Paced, not
# as fast as possible, so the time from the signal to the OOM kill is a figure the lab can bound from the limit
# (limit / rate) and measure against the API's whole-second times, like a leak that grows instead of one that
# explodes. A step is one memset of fresh pages: RSS grows by the step, not only the address space.
MEMORY_STEP_BYTES = 4 * 2**20
MEMORY_STEP_SECONDS = 0.1
# Progress lines while allocating: one per this many bytes (the last one before the kill shows how far it got).
MEMORY_LOG_EVERY_BYTES = 32 * 2**20


class Worker(Protocol):
    def run(self) -> None: ...

    def start_problem(self) -> str | None: ...

    def ready_problem(self) -> str | None: ...


class Controls:
    """The in-memory switches signal handlers flip and the worker obeys."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.hang = threading.Event()
        self.stop_requested_at: float | None = None

    def request_stop(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stop_requested_at = time.monotonic()
            log_event("draining", reason=reason)
        self.stop.set()

    def gate(self, beat: Callable[[], None]) -> Callable[[], None]:
        """Wrap the heartbeat so it freezes the moment SIGUSR2 arrives.

        The worker itself only blocks at its next checkpoint (after the call in flight, up to
        a long poll), but the beat stops at once, so /health turns 503 no later than
        HEARTBEAT_MAX_AGE_SECONDS after the signal - the bound the lab's deadlines use.
        """

        def gated() -> None:
            if not self.hang.is_set():
                beat()

        return gated

    def checkpoint(self) -> None:
        """Where the worker hangs on SIGUSR2: until SIGTERM, without beating the heartbeat."""
        if self.hang.is_set() and not self.stop.is_set():
            log_event("hung", level=logging.WARNING, reason="SIGUSR2")
            self.stop.wait()


def exhaust_memory(
    step_bytes: int = MEMORY_STEP_BYTES,
    step_seconds: float = MEMORY_STEP_SECONDS,
    budget: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[bytes]:
    """Allocate and touch ``step_bytes`` every ``step_seconds`` until the kernel kills the process.

    Step ``k`` (from 0) runs at ``start + k × step_seconds`` on ``clock``: a late step (a busy node) does not push
    the later ones back, so the rate, and with it the lab's bound, hold. ``b"\\xa5" * n`` writes every byte, so each
    step really adds ``n`` bytes of resident memory (an untouched ``bytearray(n)`` would only reserve address
    space). ``budget`` (tests only) stops after that many bytes and returns the chunks; without it, never returns.
    """
    held: list[bytes] = []
    total = logged = 0
    start = clock()
    while budget is None or total < budget:
        held.append(b"\xa5" * step_bytes)
        total += step_bytes
        if total - logged >= MEMORY_LOG_EVERY_BYTES:
            logged = total
            log_event("memory_allocated", level=logging.WARNING, total_mib=total // 2**20)
        sleep(max(0.0, start + len(held) * step_seconds - clock()))
    return held


HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, FAULT_MEMORY_SIGNUM)


@contextmanager
def signals_blocked() -> Iterator[None]:
    """Start threads inside this block so they inherit a mask without our signals.

    Python runs handlers only in the main thread, and only when it executes bytecode. If the
    kernel delivered SIGTERM to the worker thread instead, the main thread - asleep in
    ``done.wait()`` - would not wake, and the handler would run only after the worker ended:
    never, for SIGTERM. With the signals blocked in every other thread, the kernel must
    deliver them to the main thread, whose wait is interrupted at once.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def signal_name(signum: int) -> str:
    """``SIGUSR1``, or ``SIGRTMIN+1`` for a real-time signal (which have no names of their own)."""
    if signal.SIGRTMIN <= signum <= signal.SIGRTMAX:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"
    return signal.Signals(signum).name


def install_signal_handlers(
    controls: Controls, trip_health: Callable[[str], None], exhaust: Callable[[], object] = exhaust_memory
) -> None:
    """Must run in the main thread (Python delivers signals only there). ``exhaust``: the memory fault's body,
    run in a thread of its own so the main thread stays free for SIGTERM (replaced by tests)."""

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        controls.request_stop(signal.Signals(signum).name)

    def on_usr1(_signum: int, _frame: FrameType | None) -> None:
        trip_health("SIGUSR1")
        log_event("fault_health_on", level=logging.WARNING, signal="SIGUSR1")

    def on_usr2(_signum: int, _frame: FrameType | None) -> None:
        controls.hang.set()
        log_event("fault_hang_on", level=logging.WARNING, signal="SIGUSR2")

    def on_memory(signum: int, _frame: FrameType | None) -> None:
        log_event(
            "fault_memory_on",
            level=logging.WARNING,
            signal=signal_name(signum),
            step_bytes=MEMORY_STEP_BYTES,
            step_seconds=MEMORY_STEP_SECONDS,
        )
        with signals_blocked():  # like every other thread: our signals stay with the main thread
            threading.Thread(target=exhaust, name="memory-fault", daemon=True).start()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)
    signal.signal(FAULT_MEMORY_SIGNUM, on_memory)


def run_worker(worker: Worker, controls: Controls) -> int:
    """Run the worker in a thread and wait for it; return the process exit code.

    The main thread only waits, so it is always free to run signal handlers. A worker that
    returns after a stop request drained cleanly (0). One that dies on an unexpected error
    exits the process (1) so Kubernetes restarts it now instead of after the heartbeat ages.
    """
    done = threading.Event()
    crashed: list[BaseException] = []

    def body() -> None:
        try:
            worker.run()
        except Exception as exc:
            crashed.append(exc)
            log_event("worker_crashed", level=logging.ERROR, exc_info=True, error=repr(exc))
        finally:
            done.set()

    with signals_blocked():
        threading.Thread(target=body, name="worker", daemon=True).start()
    done.wait()
    if crashed or not controls.stop.is_set():
        return 1
    return 0


def drain_seconds(controls: Controls) -> float | None:
    if controls.stop_requested_at is None:
        return None
    return round(time.monotonic() - controls.stop_requested_at, 3)
