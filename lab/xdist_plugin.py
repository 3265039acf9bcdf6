"""pytest-xdist hooks of the lab (loaded by the root conftest): one shared folder, artifacts id and cluster per run.

Why a plugin of the root conftest: under xdist the controller (the process without ``workerinput``) collects
nothing, so it only runs hooks of initial conftests and plugins. It picks the run's `lab.xdist_share.RunShare` and
hands it to every worker, chooses ``-n auto``'s worker count for the e2e tier from the node's free CPU requests
(`lab.capacity`), and once every worker has ended deletes the cluster the run created (`lab.cluster.delete_created`)
and the shared folder. Every xdist hook is optional: with ``-n 0`` or ``-p no:xdist`` the one process is controller
and worker, and the cluster is deleted by the same ``pytest_sessionfinish``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lab import xdist_share
from lab.capacity import e2e_workers

E2E_DIR = Path(__file__).resolve().parent.parent / "tests" / "e2e"
WORKERS_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if xdist_share.is_worker(config):
        return
    if parallel(config) and config.getoption("lab_report", False):
        raise pytest.UsageError(
            "--lab-report runs serially (-n 0, as `tox -e report` does): its timing statistics must not include "
            "other modules' load, and its records live in one process"
        )
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None:
        config.pluginmanager.register(ModuleTimes(cache), "lab-module-times")


def parallel(config: pytest.Config) -> bool:
    """True when pytest-xdist distributes this run (``-n N`` with N > 0)."""
    return bool(getattr(config.option, "numprocesses", None)) and getattr(config.option, "dist", "no") != "no"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Each worker gets the run's shared folder and artifacts run id (plain strings: execnet's types)."""
    node.workerinput[xdist_share.SHARE_KEY] = xdist_share.share_of(node.config).to_input()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` for a run that includes the e2e tier: as many workers as namespaces fit the node's free CPU
    requests (`lab.capacity.e2e_workers`); other tiers keep xdist's own (the CPU count)."""
    if not selects_e2e(config):
        return None
    workers, why = e2e_workers()
    config.stash[WORKERS_KEY] = f"-n auto: {workers} workers ({why})"
    return workers


def selects_e2e(config: pytest.Config) -> bool:
    """Whether the paths the run was given (or the ini's testpaths, as pytest does with none) include tests/e2e."""
    e2e = E2E_DIR
    args = config.args or [str(Path(config.rootpath, p)) for p in config.getini("testpaths")]
    for arg in args:
        path = Path(config.invocation_params.dir, arg.split("::", 1)[0]).resolve()
        if path == e2e or e2e in path.parents or path in e2e.parents:
            return True
    return False


def pytest_report_header(config: pytest.Config) -> str | None:
    return config.stash.get(WORKERS_KEY, None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` of the e2e tier: one module per worker at a time, longest first (`lab.xdist_schedule`)."""
    if config.getvalue("dist") != "loadfile" or not selects_e2e(config):
        return None
    from lab.xdist_schedule import CACHE_KEY, ModuleAtATime

    cache = getattr(config, "cache", None)
    return ModuleAtATime(config, log, cache.get(CACHE_KEY, {}) if cache else {})


class ModuleTimes:
    """Each e2e module's time (set-up, calls and teardown of its tests), summed in the controller, which sees every
    worker's reports; kept in pytest's cache at the end for the next run's order (`lab.xdist_schedule`)."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid.startswith("tests/e2e/"):
            module = report.nodeid.split("::", 1)[0]
            self.seconds[module] = self.seconds.get(module, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        if self.seconds:
            from lab.xdist_schedule import CACHE_KEY

            known = self.cache.get(CACHE_KEY, {})
            self.cache.set(CACHE_KEY, {**known, **{k: round(v, 1) for k, v in self.seconds.items()}})


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In the controller (or the one serial process), after every worker and fixture ended: delete the cluster the
    run created (unless --keep-cluster), then the run's shared folder."""
    config = session.config
    if xdist_share.is_worker(config):
        return
    share = xdist_share.share_of(config)
    state = share.state(xdist_share.CLUSTER_STATE)
    try:
        if state and "error" not in state:
            from lab.cluster import delete_created

            delete_created(state, config.getoption("keep_cluster", False), controller_say(config))
    finally:
        share.remove()


def controller_say(config: pytest.Config) -> Any:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return (lambda text: reporter.write_line(f"[lab] {text}")) if reporter else print
