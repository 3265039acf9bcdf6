"""What each service imports before its health server answers (restart → Ready, docs/decisions.md).

Run in a fresh interpreter per check, because this test process has long imported everything. The services' start
order is: config, logging, signal handlers, health server — then botocore and the worker. Importing ``app`` (which
runs nothing) must therefore not load botocore, and the worker must never load boto3 (with s3transfer, ~0.3 s of
start-up under the pods' 500m CPU limit for code the services do not use).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "candidate-project"


def loaded_after(service: str, statement: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` are in sys.modules after ``statement`` ran in a fresh interpreter in the service folder."""
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=SERVICES / service, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.split()


@pytest.mark.parametrize("service", ["producer", "consumer"])
def test_health_server_path_loads_no_aws_library(service):
    assert loaded_after(service, "import app", ("botocore", "boto3", "tenacity")) == []


@pytest.mark.parametrize("service", ["producer", "consumer"])
def test_worker_uses_botocore_without_boto3(service):
    loaded = loaded_after(service, f"import {service}.worker", ("botocore", "boto3", "s3transfer"))
    assert loaded == ["botocore"]
