"""Benchmarks of the lab's services (``python -m bench`` or ``tox -e bench``).

The services' shared modules (``shared.contract``: resource names, the message) are not an installed package: they
live in each service's folder, the Docker build context. pytest gets them through ``pythonpath`` in pyproject.toml;
``python -m bench`` from the repository root gets the producer's copy here, so the README's command works without
any environment set-up (hack/sync-shared keeps that copy identical to the master).
"""

import sys
from pathlib import Path

_SHARED_PARENT = str(Path(__file__).resolve().parent.parent / "candidate-project" / "producer")
if _SHARED_PARENT not in sys.path:
    sys.path.append(_SHARED_PARENT)
