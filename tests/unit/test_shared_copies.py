"""The services' shared modules: one master (candidate-project/shared), byte-identical copies in each service.

Each image has its own Docker build context, so shared code is copied, not imported. ``hack/sync-shared`` writes the
copies and ``--check`` compares whole folders, so a file added to the master, or to one copy only, fails here (and in
``tox -e lint``) instead of slipping past a list of known file names.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYNC = REPO / "hack" / "sync-shared"
SERVICES = REPO / "candidate-project"


def sync_shared(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SYNC), "--root", str(root), *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The master and both copies in a scratch repository root."""
    for folder in ("shared", "producer/shared", "consumer/shared"):
        shutil.copytree(
            SERVICES / folder, tmp_path / "candidate-project" / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def test_both_services_carry_the_master_unchanged():
    result = sync_shared(REPO, "--check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda root: (root / "candidate-project/shared/new_module.py").write_text("X = 1\n"), "missing"),
        (lambda root: (root / "candidate-project/consumer/shared/stray.py").write_text("X = 1\n"), "not in the master"),
        (lambda root: (root / "candidate-project/producer/shared/server.py").write_text("# edited\n"), "differs"),
    ],
    ids=["new-file-in-master", "file-in-one-copy", "edited-copy"],
)
def test_check_flags_any_difference_and_sync_repairs_it(project_copy, change, expected):
    change(project_copy)
    result = sync_shared(project_copy, "--check")
    assert result.returncode == 1
    assert expected in result.stderr
    assert sync_shared(project_copy).returncode == 0
    assert sync_shared(project_copy, "--check").returncode == 0


@pytest.mark.parametrize("service", ["producer", "consumer"])
def test_image_context_has_what_the_dockerfile_copies(service):
    folder = SERVICES / service
    for name in ("app.py", "requirements.txt", "Dockerfile", ".dockerignore", "shared/__init__.py"):
        assert (folder / name).is_file(), name
    dockerfile = (folder / "Dockerfile").read_text()
    assert "COPY shared/ ./shared/" in dockerfile
    requirements = (folder / "requirements.txt").read_text().splitlines()
    pins = [line for line in requirements if line and not line.startswith("#")]
    assert all("==" in line for line in pins), "every requirement is pinned exactly"
    assert {p.split("==")[0] for p in pins} >= {"botocore", "tenacity"}
