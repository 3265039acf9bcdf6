"""The lab's pytest-xdist plugin (lab.xdist_plugin) in real pytest runs: workers share one set-up and one run id,
the controller removes the shared folder, ``--lab-report`` refuses to run in parallel, ``-p no:xdist`` still runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab import xdist_plugin

REPO = Path(__file__).resolve().parents[3]

CONFTEST = """
import os
import pytest
from lab.xdist_share import once, share_of

def pytest_addoption(parser):  # the root conftest's options the plugin reads
    parser.addoption("--lab-report", action="store_true", default=False)
    parser.addoption("--keep-cluster", action="store_true", default=False)

@pytest.fixture(scope="session")
def shared(pytestconfig):
    share = share_of(pytestconfig)
    state, made = once(share, "thing", lambda: {"by": os.getpid()})
    return {**state, "pid": os.getpid(), "folder": str(share.folder), "run_id": share.run_id}
"""

MODULE = """
import json, os
from pathlib import Path

def test_uses_the_shared_set_up(shared):
    Path(os.environ["LAB_TEST_OUT"], __name__ + ".json").write_text(json.dumps(shared))
"""


def run_pytest(project: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LAB_TEST_OUT": str(out)}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    argv = [sys.executable, "-m", "pytest", "-p", "lab.xdist_plugin", "-p", "no:cacheprovider", *args]
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path) -> tuple[Path, Path]:
    root, out = tmp_path / "project", tmp_path / "out"
    root.mkdir()
    out.mkdir()
    (root / "conftest.py").write_text(CONFTEST)
    for name in ("a", "b", "c"):
        (root / f"test_{name}.py").write_text(MODULE)
    return root, out


def test_workers_get_one_set_up_one_run_id_and_the_folder_goes_at_the_end(project):
    root, out = project
    done = run_pytest(root, out, "-n", "3", "--dist", "loadscope")
    assert done.returncode == 0, done.stdout + done.stderr
    seen = [json.loads(path.read_text()) for path in out.glob("*.json")]
    assert len(seen) == 3
    assert len({s["by"] for s in seen}) == 1 and len({s["run_id"] for s in seen}) == 1
    assert len({s["pid"] for s in seen}) >= 2  # really in several processes
    assert not Path(seen[0]["folder"]).exists()  # removed by the controller after every worker ended


def test_serial_run_without_xdist_is_the_same_code(project):
    root, out = project
    done = run_pytest(root, out, "-p", "no:xdist")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len({json.loads(p.read_text())["pid"] for p in out.glob("*.json")}) == 1


def test_lab_report_refuses_parallel_workers(project):
    root, out = project
    done = run_pytest(root, out, "-n", "2", "--lab-report")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--lab-report runs serially" in done.stderr


def config_for(args: list[str], invoked: Path = REPO) -> SimpleNamespace:
    return SimpleNamespace(
        args=args,
        invocation_params=SimpleNamespace(dir=invoked),
        rootpath=REPO,
        getini=lambda name: ["tests"],
    )


@pytest.mark.parametrize(
    ("args", "e2e"),
    [
        (["tests/e2e", "--ignore=x"][:1], True),
        (["tests/e2e/faults/test_pod_faults.py::test_x"], True),
        ([], True),  # testpaths: tests/, which holds tests/e2e (`pytest -n auto -k liveness`)
        (["tests/unit"], False),
        (["tests/integration/test_x.py"], False),
    ],
)
def test_auto_worker_count_is_the_e2e_tiers_only_when_e2e_is_selected(args, e2e):
    assert xdist_plugin.selects_e2e(config_for(args)) is e2e


def test_each_e2e_modules_time_is_cached_for_the_next_runs_order(tmp_path):
    root, out = tmp_path / "project", tmp_path / "out"
    (root / "tests" / "e2e").mkdir(parents=True)
    out.mkdir()
    (root / "conftest.py").write_text(CONFTEST)
    for name in ("a", "b"):
        (root / "tests" / "e2e" / f"test_{name}.py").write_text(MODULE)
    env = {**os.environ, "PYTHONPATH": str(REPO), "LAB_TEST_OUT": str(out)}
    env.pop("PYTEST_ADDOPTS", None)  # tox points the cache elsewhere: this run keeps its own
    cache = root / ".pytest_cache"
    argv = [sys.executable, "-m", "pytest", "-p", "lab.xdist_plugin", "-n", "2", "--dist", "loadfile", "tests"]
    argv += ["-o", f"cache_dir={cache}"]
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    cached = json.loads((cache / "v" / "lab" / "e2e-module-seconds").read_text())
    assert set(cached) == {"tests/e2e/test_a.py", "tests/e2e/test_b.py"}
    assert all(seconds >= 0 for seconds in cached.values())


def test_bare_parallel_pytest_of_cluster_tests_stops_with_the_same_one_line(tmp_path):
    """`pytest -n 2 -k liveness` with no cluster: the controller refuses (a worker's usage error would be lost)."""
    from lab import cluster

    env = {k: v for k, v in os.environ.items() if k not in ("TOX_ENV_NAME", "CI", "PYTEST_ADDOPTS")}
    env["LAB_STATE"] = str(tmp_path / "state")  # an offline cluster that is certainly not up
    argv = [sys.executable, "-m", "pytest", "-n", "2", "-k", "liveness", "-p", "no:cacheprovider"]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "no cluster given" in line]
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:] + done.stderr[-2000:]
    assert errors == [f"ERROR: {cluster.NO_CLUSTER}"] and "INTERNALERROR" not in done.stdout + done.stderr
