"""What the processes of one pytest run share under pytest-xdist: a folder for run-wide state, one artifacts run id,
and set-up done once (how many workers the cluster takes is `lab.capacity`).

Why: with ``-n N`` every worker runs the session fixtures itself, so without this each would create its own cluster,
build and load the images again and write its own ``artifacts/e2e-<time>/``. The controller (the process without
``workerinput``) picks a `RunShare` before any worker starts and hands it to each (`worker_input`); `once` runs a
set-up in the first process that asks, under an exclusive file lock in that folder, and gives every later process the
JSON state it left. A set-up that failed is not retried by the next worker halfway through the run: its error is kept
and re-raised for every later caller. Without xdist (``-n 0``, ``-p no:xdist``) the one process is controller and
only worker alike, through the same code. The controller tears down what was created once, after every worker ended
(root conftest ``pytest_sessionfinish``), and removes the folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SHARE_KEY = "lab_share"  # the key of `RunShare` in xdist's workerinput
CLUSTER_STATE = "cluster"  # `once` key of the run's cluster (its `lab.cluster.LabCluster.state`)


class SetupFailed(RuntimeError):
    """The run's first attempt at a shared set-up failed; every later process gets its error, not a second try."""


@dataclass(frozen=True)
class RunShare:
    """The run's shared folder (``folder``, created on first use) and its artifacts run id (``e2e-<UTC time>``)."""

    folder: Path
    run_id: str

    @classmethod
    def new(cls, parent: str | Path | None = None) -> RunShare:
        run_id = time.strftime("e2e-%Y%m%dT%H%M%SZ", time.gmtime())
        parent = Path(parent or tempfile.gettempdir())
        return cls(parent / f"lab-run-{run_id}-{os.getpid()}", run_id)

    def to_input(self) -> dict[str, str]:
        """Plain strings: execnet carries only built-in types to the workers."""
        return {"folder": str(self.folder), "run_id": self.run_id}

    @classmethod
    def from_input(cls, data: dict[str, str]) -> RunShare:
        return cls(Path(data["folder"]), data["run_id"])

    def state(self, key: str) -> dict[str, Any] | None:
        """The state `once` left for ``key``, or None if no process has set it up."""
        path = self.folder / f"{key}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


_STASH = pytest.StashKey[RunShare]()


def is_worker(config: Any) -> bool:
    """An xdist worker (it has ``workerinput``); the controller and a serial run are not."""
    return hasattr(config, "workerinput")


def worker_name(config: Any) -> str:
    """``gw0``, ``gw1``... for a worker, ``main`` for the controller or a serial run (names who set something up)."""
    return str(getattr(config, "workerinput", {}).get("workerid", "main"))


def share_of(config: pytest.Config) -> RunShare:
    """The run's `RunShare`: the controller's, carried in ``workerinput`` on a worker, else made once here."""
    if _STASH not in config.stash:
        given = getattr(config, "workerinput", {}).get(SHARE_KEY)
        config.stash[_STASH] = RunShare.from_input(given) if given else RunShare.new()
    return config.stash[_STASH]


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created), held for the block: one process of the run at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def once(share: RunShare, key: str, make: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """``(state, made_here)``: `make`'s JSON state from the first process of the run that asks for ``key``.

    Later processes wait on the lock while the first one works (a cluster's creation and image loads take minutes),
    then read its state. A `make` that raised leaves ``{"error": ...}``, which later callers raise as `SetupFailed`.
    """
    target = share.folder / f"{key}.json"
    with locked(share.folder / f"{key}.lock"):
        if target.exists():
            state = json.loads(target.read_text())
            if "error" in state:
                raise SetupFailed(f"{key} set-up failed in {state.get('by', 'another worker')}: {state['error']}")
            return state, False
        try:
            state = make()
        except BaseException as exc:
            _write(target, {"error": f"{type(exc).__name__}: {exc}", "by": state_owner()})
            raise
        _write(target, state)
        return state, True


def state_owner() -> str:
    """Who set something up: xdist's worker id (its environment variable), else ``main``."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _write(target: Path, state: dict[str, Any]) -> None:
    """Write-then-rename, so a reader never sees half a file."""
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(state))
    partial.replace(target)
