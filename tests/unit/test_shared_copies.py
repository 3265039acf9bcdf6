"""Files both services carry must stay byte-identical.

Each image has its own Docker build context, so shared code is copied, not imported; this
test is what keeps the copies from drifting apart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "candidate-project"

SHARED = ["server.py"] + [
    f"{{pkg}}/{name}" for name in ("aws.py", "envconfig.py", "jsonlog.py", "policy.py", "runtime.py")
]


@pytest.mark.parametrize("relative", SHARED)
def test_shared_file_is_identical_in_both_services(relative):
    producer = SERVICES / "producer" / relative.format(pkg="producer")
    consumer = SERVICES / "consumer" / relative.format(pkg="consumer")
    assert producer.read_bytes() == consumer.read_bytes(), f"{relative} differs between services"


@pytest.mark.parametrize("service", ["producer", "consumer"])
def test_image_context_has_what_the_dockerfile_copies(service):
    folder = SERVICES / service
    for name in ("app.py", "server.py", "requirements.txt", "Dockerfile", ".dockerignore"):
        assert (folder / name).is_file(), name
    requirements = (folder / "requirements.txt").read_text().splitlines()
    pins = [line for line in requirements if line and not line.startswith("#")]
    assert all("==" in line for line in pins), "every requirement is pinned exactly"
    assert {p.split("==")[0] for p in pins} >= {"boto3", "tenacity"}
