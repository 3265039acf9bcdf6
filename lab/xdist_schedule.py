"""How the parallel e2e run hands modules to workers: one module per worker at a time, the longest first.

Why not xdist's ``loadfile`` as it is: it keeps every module (so its namespace) on one worker, which the suite needs,
but it gives each worker two modules at the start and the next one while two tests are still pending. An e2e module
takes from under a minute to several, so a worker would hold a queued module while another worker idles, and the
run would last as long as the unluckiest queue. Here a worker gets its next module only when it is down to its
current module's last test (xdist's worker runs an item only once it knows the next, so that test waits for it;
handing out earlier would queue, later would deadlock), and the module it gets is the longest the last run measured
(pytest's cache, ``lab/e2e-module-seconds``), modules never measured first: longest-processing-time-first, which
keeps the run near its longest module. Without a cache (CI's fresh clone) the order is the collection's.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadFileScheduling

CACHE_KEY = "lab/e2e-module-seconds"


def module_of(nodeid: str) -> str:
    """``tests/e2e/test_x.py::test_y[a]`` → ``tests/e2e/test_x.py`` (loadfile's unit of work)."""
    return nodeid.split("::", 1)[0]


def longest_first(scopes: list[str], seconds: dict[str, float]) -> str:
    """The scope to hand out next: never measured first (it may be long), else the longest measured; ties keep the
    collection's order."""
    return max(scopes, key=lambda scope: seconds.get(scope, float("inf")))


class ModuleAtATime(LoadFileScheduling):
    """``--dist loadfile`` with one module per worker at a time, longest first (see the module docstring)."""

    def __init__(self, config: Any, log: Any = None, seconds: dict[str, float] | None = None) -> None:
        super().__init__(config, log)
        self.seconds = dict(seconds or {})

    def _assign_work_unit(self, node: Any) -> None:
        self.workqueue.move_to_end(longest_first(list(self.workqueue), self.seconds), last=False)
        super()._assign_work_unit(node)

    def _reschedule(self, node: Any) -> None:
        if node.shutting_down:
            return
        if not self.workqueue:
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) > 1:  # still more than the waiting last test
            return
        self._assign_work_unit(node)
