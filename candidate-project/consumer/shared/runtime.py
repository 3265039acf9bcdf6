"""Process lifecycle shared by both services: signals, the worker thread, the memory fault's allocator.

Why signals: the lab breaks a running pod with ``kubectl exec POD -- sh -c 'kill -USR1 1'``.
The app is PID 1 (exec-form CMD), the switches live in memory, and so a container restart -
exactly what the liveness probe triggers - heals them. A file-based switch in an emptyDir
would survive the restart and crash-loop the pod forever.

- SIGUSR1, SIGUSR2, ``kill -35 1`` (memory), ``kill -36 1`` (CPU): the fault switches, in ``faults.py``.
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

# Re-exported (``X as X``): the lab and the tests import the switches' numbers and the schedule from here.
from .faults import FAULT_CPU_SIGNUM as FAULT_CPU_SIGNUM
from .faults import FAULT_MEMORY_SIGNUM as FAULT_MEMORY_SIGNUM
from .faults import FAULT_SIGNALS, install_fault_switches
from .faults import MEMORY_LOG_EVERY_BYTES as MEMORY_LOG_EVERY_BYTES
from .faults import MEMORY_STEP_BYTES as MEMORY_STEP_BYTES
from .faults import MEMORY_STEP_SECONDS as MEMORY_STEP_SECONDS
from .faults import signal_name as signal_name
from .jsonlog import log_event


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


HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, *FAULT_SIGNALS)


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


def spawn_unsignalled(target: Callable[[], object], name: str) -> None:
    """Start a daemon thread for a fault's body; like every other thread it leaves our signals to the main thread."""
    with signals_blocked():
        threading.Thread(target=target, name=name, daemon=True).start()


def install_signal_handlers(
    controls: Controls, trip_health: Callable[[str], None], exhaust: Callable[[], object] = exhaust_memory
) -> None:
    """Must run in the main thread (Python delivers signals only there). ``exhaust``: the memory fault's body,
    run in a thread of its own so the main thread stays free for SIGTERM (replaced by tests)."""

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        controls.request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    install_fault_switches(controls.hang, trip_health, exhaust, spawn_unsignalled)


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
