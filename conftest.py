"""Root conftest: tier markers by folder and the lab's command-line options.

Why tiers are marked here and not in each test file: a test's tier is where it lives, so nobody can forget the
marker, and `pytest -m "not e2e"` or `pytest -m unit` select exactly the folders tox runs. A test file placed
outside a tier folder would be run by no tox env (each env runs one folder), so it is an error, not a silent gap.

Why the command-line options are registered here and not in tests/e2e/conftest.py: pytest only reads a
`pytest_addoption` hook before parsing the command line from "initial" conftests (the root one and those in the
folders named on the command line). `pytest -k liveness --keep-cluster` from the repo root, or
`pytest tests/e2e --lab-report` (whose hooks live in tests/e2e/faults/), would otherwise fail with
"unrecognized arguments". Options are declared here; the tier conftests read them with `config.getoption`.

Why a bare `pytest` that selects cluster tests stops before running anything when no cluster is given: starting
one may install Debian packages or compile Kubernetes (the offline cluster's first `up`), which nobody should get
by typing `pytest -k liveness`. It says in one line what to run instead; `tox -e e2e`/`tox -e cluster` and CI
(TOX_ENV_NAME, CI set) keep choosing a cluster themselves (lab/cluster.py `choose`).

Why the pytest-xdist hooks (`lab.xdist_plugin`) are loaded here: under xdist the controller collects nothing, so
only initial conftests and plugins reach it, and a bare `pytest -n auto -k liveness` loads no tier conftest there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent / "tests"
pytest_plugins = ("lab.xdist_plugin",)

# Folder under tests/ -> marker. Marker names are registered in pyproject.toml ([tool.pytest.ini_options]).
TIER_MARKERS = {
    "unit": "unit",
    "integration": "integration",
    "manifests": "manifests",
    "cluster": "cluster",
    "e2e": "e2e",
}


# Which cluster a tests/cluster module concerns alone (tests/cluster/conftest.py deselects the others' tests).
CLUSTER_MARKERS = {
    "offline": "concerns the offline cluster alone (down/up); run when no --k8s-provider is given",
    "kind": "concerns kind alone (multi-node networking, its CLI); run with --k8s-provider=kind",
    "minikube": "concerns minikube alone; run with --k8s-provider=minikube",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in CLUSTER_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options shared by the cluster tiers (see the module docstring for why they live in the root conftest)."""
    group = parser.getgroup("lab", "resiliency lab")
    group.addoption(
        "--keep-cluster",
        action="store_true",
        default=False,
        help="reuse a running cluster and leave it (and the cluster the run created) up afterwards",
    )
    group.addoption(
        "--lab-artifacts",
        default="artifacts",
        metavar="DIR",
        help="where failed e2e tests save events, describe output and pod logs (default: artifacts)",
    )
    group.addoption(
        "--lab-report",
        action="store_true",
        default=False,
        help="write a resiliency report (tables and timelines) for the fault catalogue",
    )
    group.addoption(
        "--lab-repeat",
        type=int,
        default=None,
        metavar="N",
        help="runs of each fault in tests/e2e/faults (default: 1, or 3 with --lab-report)",
    )
    group.addoption(
        "--lab-report-dir",
        default="reports",
        metavar="DIR",
        help="parent folder of reports/<timestamp>/ written by --lab-report (default: reports)",
    )


CLUSTER_TIERS = ("cluster", "e2e")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse, in one line, a run of cluster tests that names no cluster outside tox and CI (see the docstring).

    An xdist worker leaves it to the controller (`pytest_xdist_node_collection_finished`): a worker's usage error
    would end as an INTERNALERROR without its message."""
    if hasattr(session.config, "workerinput"):
        return
    refuse_without_cluster(session.config, [item.path for item in session.items])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    """The same refusal in the xdist controller, from the node ids a worker collected (relative to the rootdir)."""
    refuse_without_cluster(node.config, [Path(node.config.rootpath, nodeid.split("::", 1)[0]) for nodeid in ids])


def refuse_without_cluster(config: pytest.Config, paths: list[Path]) -> None:
    if not any(tier_of(path) in CLUSTER_TIERS for path in paths):
        return
    from lab.cluster import choose

    options = {name: config.getoption(f"k8s_{name}") for name in ("provider", "kubeconfig_override", "kubeconfig")}
    try:
        choose(options, which=lambda name: None)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def tier_of(path: Path) -> str | None:
    """Return the tier marker for a test file, or None if it is not inside a tier folder under tests/."""
    try:
        relative = path.resolve().relative_to(TESTS_DIR.resolve())
    except ValueError:
        return None
    if len(relative.parts) < 2:  # a file directly in tests/ belongs to no tier
        return None
    return TIER_MARKERS.get(relative.parts[0])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every collected test with its tier; refuse tests under tests/ that no tier (and no tox env) would run."""
    orphans = []
    for item in items:
        tier = tier_of(item.path)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
        elif TESTS_DIR.resolve() in item.path.resolve().parents:
            orphans.append(item.nodeid)
    if orphans:
        raise pytest.UsageError(
            f"tests outside a tier folder ({', '.join(sorted(TIER_MARKERS))}) would run in no tox env: "
            + ", ".join(orphans)
        )
