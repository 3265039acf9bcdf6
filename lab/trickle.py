"""Test messages published in the background while a fault is injected, so the consumer is busy when it strikes.

Why: a mid-batch fault must hit a consumer that holds a batch. A burst published before the injection is not enough
on a fast node: on kind the consumer handles ~1,000 messages a second (docs/scaleout.md), so a 200-message burst is
over a fraction of a second after its last publish, before the log follower has even shown the first one consumed;
"both pods deleted" then hit an idle consumer (parallel e2e run 2, 2026-12-04 20:21 UTC). Publishing on through the
injection keeps messages arriving until the fault is in place; the runner's in-flight check (`lab.catalogue.in_flight`)
still decides from the ledger whether one was really handled at or after the injection.

The messages are the lab's own (`lab.catalogue.burst`), registered with the log follower, so the ledger accounts for
every one of them like the burst's: nothing published here can go missing unnoticed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

# One SNS batch (10 messages) per pause: ~50 messages a second, a steady stream well below the consumer's rate, so
# the backlog stays small and the settle deadline (from the live settings) is unaffected. A pacing interval between
# publishes, not a wait for a condition.
PAUSE_SECONDS = 0.2
BATCH = 10


class Trickle:
    """``with Trickle(publish):`` calls ``publish(BATCH)`` every PAUSE_SECONDS in a thread until the block ends.

    A publish that fails (the emulator may be the fault) ends the trickle; the error is kept in ``error`` and the
    block's own outcome is not changed by it: the fault's checks and the ledger decide.
    """

    def __init__(self, publish: Callable[[int], object], pause: float = PAUSE_SECONDS) -> None:
        self._publish = publish
        self._pause = pause
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trickle", daemon=True)
        self.batches = 0
        self.error: Exception | None = None

    def _run(self) -> None:
        """At least one batch, however quick the block: the injection always has messages arriving."""
        while True:
            try:
                self._publish(BATCH)
            except Exception as exc:  # noqa: BLE001 - reported through ``error``, never raised in the thread
                self.error = exc
                return
            self.batches += 1
            if self._stop.wait(self._pause):
                return

    def __enter__(self) -> Trickle:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        # One publish call at most is in progress: botocore's own timeouts bound it (connect + read, 60 s each).
        self._thread.join(timeout=130)
