"""Evidence of a failed e2e test, saved before the namespace is torn down.

Why: once the namespace is deleted, the events, the pod descriptions and the logs of the crashed container are gone,
and a red CI run without them cannot be diagnosed. For every pod this saves ``describe`` and, per container, the
current logs and ``--previous`` logs (the container the kubelet killed is the interesting one), plus the namespace's
events in time order and ``get all``. Measured numbers (recovery times, back-off delays) go to ``measurements.jsonl``.

Under pytest-xdist every worker writes into the same run folder (the controller's run id, `lab.xdist_share`): labels
are node ids and namespaces, unique per run, and each measurement is appended under a file lock as one line.
"""

from __future__ import annotations

import fcntl
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from lab.kube import Kube, KubectlError


@dataclass(frozen=True)
class RunArtifacts:
    """``<root>/<run id>/``: one folder per run, created on first use."""

    root: Path
    run_id: str

    @classmethod
    def new(cls, root: str | Path, run_id: str | None = None) -> RunArtifacts:
        """``run_id``: the run's shared id (every xdist worker's folder is the same); default ``e2e-<UTC time>``."""
        return cls(Path(root), run_id or time.strftime("e2e-%Y%m%dT%H%M%SZ", time.gmtime()))

    @property
    def path(self) -> Path:
        return self.root / self.run_id

    def folder(self, label: str) -> Path:
        folder = self.path / safe_name(label)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def record(self, name: str, **data: object) -> None:
        """Append one measurement (JSON line) — what the final summary and the faults report quote."""
        self.path.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"name": name, "at": time.time(), **data}) + "\n"
        with (self.path / "measurements.jsonl").open("a") as out:  # one locked write: workers' lines never mix
            fcntl.flock(out, fcntl.LOCK_EX)
            out.write(line)
            out.flush()
            fcntl.flock(out, fcntl.LOCK_UN)

    def dump_namespace(self, kube: Kube, label: str) -> Path:
        """Save events, describe and logs (current and previous) of every pod in ``kube.namespace``."""
        folder = self.folder(label)
        _save(folder / "events.txt", kube, "get", "events", "--sort-by=.lastTimestamp", "-o", "wide")
        _save(folder / "get-all.txt", kube, "get", "all,configmap,events", "-o", "wide")
        try:
            pods = kube.json("get", "pods")["items"]
        except KubectlError as exc:
            (folder / "pods-error.txt").write_text(str(exc))
            return folder
        for pod in pods:
            name = pod["metadata"]["name"]
            _save(folder / f"{name}.describe.txt", kube, "describe", "pod", name)
            _save(folder / f"{name}.yaml", kube, "get", "pod", name, "-o", "yaml")
            for container in pod["spec"].get("containers", []):
                cname = container["name"]
                _save(folder / f"{name}.{cname}.log", kube, "logs", name, "-c", cname, "--timestamps")
                _save(folder / f"{name}.{cname}.previous.log", kube, "logs", name, "-c", cname, "--previous")
        return folder


def _save(target: Path, kube: Kube, *args: str) -> None:
    """Write kubectl's output, or its error (e.g. no previous container), so a missing file never hides why."""
    try:
        target.write_text(kube(*args))
    except (KubectlError, OSError) as exc:
        target.write_text(f"# {exc}\n")


def safe_name(text: str) -> str:
    """A file-system-safe folder name from a test node id (``tests/e2e/test_x.py::test_y[a]``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:150] or "unnamed"
