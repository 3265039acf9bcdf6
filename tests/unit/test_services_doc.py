"""docs/services.md states the fault switches' signals and sizes: they are the shared runtime's own constants."""

from pathlib import Path

from shared.faults import FAULT_CPU_SIGNUM, FAULT_MEMORY_SIGNUM, MEMORY_STEP_BYTES, SPIN_THREADS_PER_CPU

DOC = Path(__file__).resolve().parents[2] / "docs" / "services.md"


def test_documented_fault_switches_are_the_code_s():
    page = DOC.read_text()
    for text in (
        f"`kill -{FAULT_MEMORY_SIGNUM} 1`",
        f"`kill -{FAULT_CPU_SIGNUM} 1`",
        f"({MEMORY_STEP_BYTES // 2**20} MiB)",
        f"{SPIN_THREADS_PER_CPU} pure-Python busy threads per CPU",
    ):
        assert text in page, f"docs/services.md no longer states {text!r}"
