"""Fixtures of the fault catalogue: log following for the ledger, repetitions, and the resiliency report.

Builds on the e2e tier's fixtures (``deployed_lab``, ``aws``, ``artifacts``; see tests/e2e/conftest.py) and never
overrides them. Each fault runs once by default, which is what CI runs; ``--lab-report`` runs each three times (or
``--lab-repeat N``) for timing statistics and writes ``<--lab-report-dir>/<UTC time>/report.md`` at the end. Every
run that records faults also leaves ``report.junit.xml`` (`lab.report.junit`) in its artifact folder, for CI.
``toxiproxy_route`` / ``faultproxy_route`` (module) put the network and AWS-operation proxies of tests/e2e/manifests
between the module's services and LocalStack (`lab.proxyroute`); their images are loaded by the first module asking.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.catalogue import Settings
from lab.faultcontrol import FaultProxy
from lab.logfollow import LogFollower
from lab.proxyroute import Route, proxied
from lab.report import FaultRecord, write_junit
from lab.report.junit import JUNIT_NAME
from lab.timeline import Recovery
from lab.toxiproxy import Toxiproxy

RECORDS_KEY = pytest.StashKey[list[FaultRecord]]()
REPORT_PATH_KEY = pytest.StashKey[Path]()


def repetitions(config: pytest.Config) -> int:
    """Runs per fault: ``--lab-repeat`` if given, else 3 with ``--lab-report``, else 1 (CI)."""
    try:
        chosen = config.getoption("lab_repeat")
    except ValueError:  # option not registered (older root conftest)
        chosen = None
    if chosen:
        return int(chosen)
    return 3 if config.getoption("lab_report") else 1


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "run" in metafunc.fixturenames:
        count = repetitions(metafunc.config)
        metafunc.parametrize("run", range(1, count + 1), ids=[f"run{i}" for i in range(1, count + 1)])


@pytest.fixture(scope="module")
def logs(deployed_lab, artifacts) -> Iterator[LogFollower]:
    """Every producer/consumer log line of the module's namespace, kept across pod deletions and restarts."""
    with LogFollower(deployed_lab.kube, artifacts.folder(f"logs-{deployed_lab.namespace}")) as follower:
        if follower.missed_before_start:  # restarts during the deployment (e.g. a starved node): visible, not hidden
            artifacts.record("log_generations_missed_before_start", generations=follower.missed_before_start)
        yield follower


@pytest.fixture(scope="module")
def toxiproxy_route(cluster, deployed_lab, logs) -> Iterator[tuple[Route, Toxiproxy]]:
    """Both services of the module's namespace talking to LocalStack through Toxiproxy (tests/e2e/manifests), its API
    port forwarded to 127.0.0.1; at the end every proxy is reset and the services are routed back. ``logs`` first: the
    reroute replaces the pods, and the follower must know the old ones, or their messages would be "unknown"."""
    cluster.load_overlay_images()
    with proxied(deployed_lab, "toxiproxy", "api") as (route, url):
        client = Toxiproxy(url)
        try:
            yield route, client
        finally:
            client.reset()


@pytest.fixture(scope="module")
def faultproxy_route(cluster, deployed_lab, logs) -> Iterator[tuple[Route, FaultProxy]]:
    """Both services of the module's namespace talking to LocalStack through faultproxy (tests/e2e/manifests), its
    control port forwarded to 127.0.0.1; at the end every fault is removed and the services are routed back (``logs``
    first, as for ``toxiproxy_route``)."""
    cluster.load_overlay_images()
    with proxied(deployed_lab, "faultproxy", "control") as (route, url):
        client = FaultProxy(url)
        try:
            yield route, client
        finally:
            client.clear()


@pytest.fixture
def settings(deployed_lab, aws) -> Settings:
    """Queue and pod settings read from the live objects (deadlines are made of them)."""
    return Settings.read(deployed_lab, aws)


@pytest.fixture(scope="session", autouse=True)
def junit_export(pytestconfig, artifacts) -> Iterator[None]:
    """At session end, the recorded faults as JUnit XML in ``--lab-artifacts``/e2e-<time>/: CI gets it every run."""
    yield
    records = pytestconfig.stash.get(RECORDS_KEY, [])
    if records:
        write_junit(records, artifacts.path / JUNIT_NAME)


@pytest.fixture
def record_fault(request, artifacts):
    """``record_fault(*FaultRecord)``: keep them for the report, write their figures to measurements.jsonl, then
    assert their verdict (`FaultRecord.problems`, i.e. `lab.verdict.problems`): the report's outcome and the
    test's assertion are one check. All records are kept before the assertion, so a failing run still has its rows.
    """

    def record(*faults: FaultRecord) -> None:
        for fault in faults:
            fault.test = request.node.nodeid
            request.config.stash.setdefault(RECORDS_KEY, []).append(fault)
            recovery = fault.recovery.to_dict()
            artifacts.record(
                "fault",
                fault=fault.fault,
                test=request.node.nodeid,
                **{
                    k: recovery[k]
                    for k in ("bound", "earliest", "detection", "excess", "restart_to_ready", "to_first_consumed")
                },
                ledger=None if fault.ledger is None else fault.ledger.summary(),
                problems=fault.problems,
            )
        problems = [problem for fault in faults for problem in fault.problems]
        assert not problems, "; ".join(problems)

    return record


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A fault whose test failed before recording still gets a report row (outcome failed, the error as note)."""
    report = yield
    if report.when == "call" and report.failed:
        records = item.config.stash.setdefault(RECORDS_KEY, [])
        mine = [r for r in records if getattr(r, "test", None) == item.nodeid]
        for record in mine:
            record.test_failed = True
        if not mine:
            error = str(call.excinfo.value).splitlines()[0][:300] if call.excinfo else "failed"
            # A fault described as data (`lab.fault.Fault`, parametrized as ``fault``) names its own row.
            described = getattr(getattr(item, "callspec", None), "params", {}).get("fault")
            name = getattr(described, "name", None) or item.name.split("[")[0].removeprefix("test_").replace("_", " ")
            expected = getattr(described, "expected", None) or "see the test's docstring"
            failed = FaultRecord(name, expected, Recovery(name, injected=call.start), test_failed=True, notes=error)
            failed.test = item.nodeid
            records.append(failed)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the report once, after every fault ran, when ``--lab-report`` asked for it."""
    config = session.config
    records = config.stash.get(RECORDS_KEY, [])
    if not config.getoption("lab_report") or not records:
        return
    from lab.report.writer import write_report  # matplotlib only when a report is asked for

    meta = {"tests": session.config.getoption("file_or_dir") or "tests/e2e", "exit status": str(exitstatus)}
    report = write_report(
        records, Path(config.getoption("lab_report_dir")), {k: json.dumps(v) for k, v in meta.items()}
    )
    config.stash[REPORT_PATH_KEY] = report


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if REPORT_PATH_KEY in config.stash:
        terminalreporter.write_sep("-", f"resiliency report: {config.stash[REPORT_PATH_KEY]}")
    elif config.getoption("lab_report") and not config.stash.get(RECORDS_KEY, None):
        terminalreporter.write_sep("-", "resiliency report: no fault ran, nothing written")
