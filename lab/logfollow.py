"""Keep every producer/consumer log line of a namespace while pods are killed, deleted and replaced.

Why follow instead of reading ``kubectl logs`` at the end: a deleted pod takes its logs with it, and ``--previous``
keeps only the last of several restarts, so a ledger read afterwards would call messages lost that a vanished
container consumed. A background thread therefore attaches ``kubectl logs -f --timestamps`` to every container
generation (pod × restartCount) as soon as it appears and writes it to a file; a generation it attached too late for
(already restarted again), or whose stream failed, is read once with ``--previous``; if that fails too the
generation is recorded as unreadable and every ledger of the namespace says so (a fault must fail on it, not pass on
an empty file). Lines are de-duplicated per generation by their nanosecond runtime stamp plus text, so re-attaching
never double-counts a message, and each generation's events carry its number (`lab.ledger.seq_gaps` needs it).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

from lab.kube import Kube, KubectlError, container_status
from lab.ledger import Ledger, split_line
from lab.times import parse_time

MAX_ATTACH = 5  # re-attachments per container generation after a dropped stream


def _stamp(line: str) -> float:
    return split_line(line).stamp or 0.0


class LogFollower:
    """Context manager: ``with LogFollower(kube, folder) as logs: ...; logs.ledger()``."""

    def __init__(
        self, kube: Kube, folder: Path, apps: tuple[str, ...] = ("producer", "consumer"), interval: float = 1.0
    ) -> None:
        self.kube, self.folder, self.apps, self.interval = kube, Path(folder), apps, interval
        self.folder.mkdir(parents=True, exist_ok=True)
        self._procs: dict[tuple[str, int], subprocess.Popen] = {}
        self._files: dict[tuple[str, int], Path] = {}
        self._attempts: dict[tuple[str, int], int] = {}
        # Container generations whose lines could not be read while following: "pod generation N: why". They fail
        # every ledger of the namespace from then on.
        self.unreadable: list[str] = []
        # Generations already gone when the follower started (a pod restarted twice during the deployment): no test
        # message existed yet, and whatever they published or consumed still shows as unknown or lost in the
        # ledger, so they are reported (`missed_before_start`), not counted as a failed read.
        self.missed_before_start: list[str] = []
        self._started = False
        # (time, app, any pod of app Ready) whenever that changes: the report's readiness lane, 1 scan resolution.
        self.readiness: list[tuple[float, str, bool]] = []
        # Messages the tests published themselves (``published`` events): part of every ledger of this namespace,
        # so a later test does not see an earlier test's messages as consumed-but-never-published.
        self.test_published: list[dict] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()  # scan() runs in the thread and, for fresh state, in the test itself
        self._thread = threading.Thread(target=self._run, name="log-follower", daemon=True)

    def __enter__(self) -> LogFollower:
        self.scan()  # attach synchronously once, so nothing logged from here on is missed
        self._started = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _base_argv(self) -> list[str]:
        manager = self.kube.manager
        argv = [shutil.which("kubectl") or "kubectl", "--kubeconfig", str(manager.kubeconfig)]
        if getattr(manager, "context", None):
            argv += ["--context", str(manager.context)]
        return [*argv, "--namespace", str(self.kube.namespace)]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.scan()
            except (KubectlError, OSError, ValueError, KeyError):
                # The API server can be briefly busy, or a pod half-created, while pods churn: try again next tick
                # (a dead thread would silently stop attaching to new containers).
                continue

    def scan(self) -> None:
        """Attach to container generations not followed yet (called by the thread every ``interval``)."""
        with self._lock:
            pods = self.kube.json("get", "pods", "-l", f"app in ({','.join(self.apps)})")["items"]
            self._note_readiness(pods)
            for pod in pods:
                name, app = pod["metadata"]["name"], pod["metadata"]["labels"].get("app", "")
                status = container_status(pod, app)  # the app's container is named like the app
                if status:
                    self._attach(name, app, int(status.get("restartCount", 0)), status.get("state", {}))

    def _note_readiness(self, pods: list[dict]) -> None:
        """Record each app's Ready changes at the pods' own lastTransitionTime (whole seconds), not at scan time."""
        now = time.time()
        for app in self.apps:
            conditions = [
                c
                for p in pods
                if p["metadata"]["labels"].get("app") == app
                for c in p.get("status", {}).get("conditions", [])
                if c.get("type") == "Ready"
            ]
            ready = any(c.get("status") == "True" for c in conditions)
            last = next(((t, r) for t, a, r in reversed(self.readiness) if a == app), None)
            if last is not None and last[1] == ready:
                continue
            stamps = [
                parse_time(c.get("lastTransitionTime")) for c in conditions if (c.get("status") == "True") == ready
            ]
            when = max((t for t in stamps if t is not None), default=now)
            self.readiness.append((max(when, last[0]) if last else when, app, ready))

    def ready_series(self, app: str) -> list[tuple[float, bool]]:
        """Ready transitions of ``app``, closed with the current state so a plot runs to the present."""
        series = [(t, ready) for t, a, ready in self.readiness if a == app]
        return series + [(time.time(), series[-1][1])] if series else series

    def _attach(self, pod: str, app: str, generation: int, state: dict) -> None:
        if generation > 0:
            self._settle_previous(pod, app, generation - 1)
        key = (pod, generation)
        if key in self._procs and self._procs[key].poll() is None:
            return
        attempts = self._attempts.get(key, 0)
        # Follow a running container; re-attach only while it still runs (a dropped stream), a few times at most.
        if ("running" in state and attempts < MAX_ATTACH) or ("terminated" in state and attempts == 0):
            self._attempts[key] = attempts + 1
            self._follow(pod, app, generation, attempts)

    def _path(self, pod: str, generation: int, suffix: str = "") -> Path:
        return self.folder / f"{pod}.{generation}{suffix}.log"

    def _follow(self, pod: str, app: str, generation: int, attempt: int) -> None:
        path = self._path(pod, generation, f".{attempt}" if attempt else "")
        with path.open("wb") as out:
            self._procs[(pod, generation)] = subprocess.Popen(
                [*self._base_argv(), "logs", "-f", "--timestamps", pod, "-c", app],
                stdout=out,
                stderr=subprocess.DEVNULL,
            )
        self._files[(pod, generation)] = path

    def _settle_previous(self, pod: str, app: str, generation: int) -> None:
        """Once a newer generation runs, make sure the one before it was read: it is only reachable as --previous."""
        key = (pod, generation)
        proc = self._procs.get(key)
        failed = proc is not None and proc.poll() not in (None, 0)
        if key in self._files and not failed:
            return
        if key in self._files and self._path(pod, generation, ".previous").exists():
            return  # already recovered once
        for older in range(generation - 1, -1, -1):  # restarted more than once between two scans: gone for good
            if (pod, older) in self._files:
                break
            self._unreadable(pod, older, "restarted again before it was read")
        self._previous(pod, app, generation)

    def _previous(self, pod: str, app: str, generation: int) -> None:
        path = self._path(pod, generation, ".previous")
        try:
            path.write_text(self.kube("logs", "--timestamps", "--previous", pod, "-c", app))
        except KubectlError as exc:
            self._unreadable(pod, generation, str(exc).splitlines()[0][:200])
        self._files[(pod, generation)] = path

    def _unreadable(self, pod: str, generation: int, why: str) -> None:
        entry = f"{pod} generation {generation}: {why}"
        found = self.unreadable if self._started else self.missed_before_start
        if entry not in found:
            found.append(entry)
        self._files.setdefault((pod, generation), self._path(pod, generation, ".unreadable"))

    def generation_texts(self) -> dict[tuple[str, int], str]:
        """Log text per (pod, container generation), de-duplicated, in stamp order."""
        lines: dict[tuple[str, int], set[str]] = {}
        for path in sorted(self.folder.glob("*.log")):
            pod, generation = path.name.split(".", 2)[:2]
            text = path.read_text(encoding="utf-8", errors="replace")
            lines.setdefault((pod, int(generation)), set()).update(text.splitlines())
        return {key: "\n".join(sorted(found, key=_stamp)) for key, found in lines.items()}

    def generation_text(self, pod: str, generation: int) -> str:
        return self.generation_texts().get((pod, generation), "")

    def texts(self) -> dict[str, str]:
        """Log text per pod (all generations, in stamp order)."""
        merged: dict[str, list[str]] = {}
        for (pod, _generation), text in self.generation_texts().items():
            merged.setdefault(pod, []).extend(text.splitlines())
        return {pod: "\n".join(sorted(found, key=_stamp)) for pod, found in merged.items()}

    def ledger(self, dlq_bodies: list[str] | None = None) -> Ledger:
        ledger = Ledger()
        for (pod, generation), text in sorted(self.generation_texts().items()):
            ledger.add_log(text, source=pod, generation=generation)
        ledger.add_events(self.test_published)
        ledger.unreadable.extend(self.unreadable)
        return ledger.add_dlq(dlq_bodies or [])

    def streams(self) -> dict[str, str]:
        """Each followed generation's stream: ``following``, or its exit code and how often it was attached."""
        states = {}
        for (pod, generation), proc in self._procs.items():
            code = proc.poll()
            attempts = self._attempts.get((pod, generation), 1)
            states[f"{pod}.{generation}"] = "following" if code is None else f"ended ({code}, {attempts} attached)"
        return states

    def stop(self) -> None:
        """End the thread and every kubectl this follower started (by handle, never by name)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
