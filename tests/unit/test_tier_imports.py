"""No test tier imports another tier's modules: what two tiers share lives in lab/ (issue 11, one owner per fact).

Why a test: a tier imported from another runs, breaks and is linted with the other's fixtures and dependencies, and
a fact defined in a test file of one tier silently becomes the other's source. Found by hand twice (the toxic figures
of the integration tier, the EKS overlay's render helper); this keeps it from coming back.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def cross_tier_imports(root: Path = TESTS) -> list[str]:
    """``file: module`` for every ``tests.<tier>`` import whose tier is not the importing file's own."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tier = path.relative_to(root).parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                parts = name.split(".")
                if len(parts) > 1 and parts[0] == "tests" and parts[1] != tier:
                    found.append(f"{path.relative_to(root)}: {name}")
    return found


def test_no_tier_imports_another():
    assert cross_tier_imports() == []


def test_the_check_finds_a_cross_tier_import(tmp_path):
    (tmp_path / "unit").mkdir()
    (tmp_path / "integration").mkdir()
    (tmp_path / "unit" / "test_x.py").write_text("from tests.integration.support import Wiring\nimport tests.unit.y\n")
    (tmp_path / "integration" / "support.py").write_text("import tests.integration.timing\n")
    assert cross_tier_imports(tmp_path) == ["unit/test_x.py: tests.integration.support"]
