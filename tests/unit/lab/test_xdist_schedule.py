"""The e2e run's scheduler (lab.xdist_schedule): whole modules, one per worker at a time, the longest first."""

from __future__ import annotations

from types import SimpleNamespace

from lab.xdist_schedule import ModuleAtATime, longest_first, module_of

COLLECTION = [
    "tests/e2e/test_short.py::test_a",
    "tests/e2e/test_short.py::test_b",
    "tests/e2e/faults/test_long.py::test_a[run1]",
    "tests/e2e/faults/test_long.py::test_b[run1]",
    "tests/e2e/faults/test_long.py::test_c[run1]",
    "tests/e2e/test_new.py::test_a",
    "tests/e2e/test_middle.py::test_a",
    "tests/e2e/test_middle.py::test_b",
]
SECONDS = {"tests/e2e/test_short.py": 30.0, "tests/e2e/faults/test_long.py": 300.0, "tests/e2e/test_middle.py": 90.0}


class Node:
    """A worker as the scheduler sees it: what it was sent, whether it was told to shut down."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.extend(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True

    def modules(self) -> list[str]:
        return list(dict.fromkeys(module_of(COLLECTION[i]) for i in self.sent))


def scheduler(workers: int) -> tuple[ModuleAtATime, list[Node]]:
    config = SimpleNamespace(
        getvalue=lambda name: [f"{workers}*popen"] if name == "tx" else None,
        option=SimpleNamespace(loadscopereorder=True),
    )
    sched = ModuleAtATime(config, None, SECONDS)
    nodes = [Node(f"gw{i}") for i in range(workers)]
    for node in nodes:
        sched.add_node(node)
        sched.add_node_collection(node, COLLECTION)
    sched.schedule()
    return sched, nodes


def complete(sched: ModuleAtATime, node: Node, count: int) -> None:
    """The worker finishes its first ``count`` not yet finished tests."""
    done = [i for i in node.sent if not sched.assigned_work[node][module_of(COLLECTION[i])][COLLECTION[i]]]
    for index in done[:count]:
        sched.mark_test_complete(node, index)


def test_never_measured_first_then_the_longest_ties_in_collection_order():
    assert longest_first(["a", "b", "c"], {"a": 1.0, "b": 5.0, "c": 5.0}) == "b"
    assert longest_first(["a", "b"], {"a": 1.0}) == "b"
    assert longest_first(["a", "b"], {}) == "a"


def test_each_worker_starts_with_one_module_the_longest_ones():
    sched, (first, second) = scheduler(2)
    # test_new was never measured: first; its one test waits for a next item, so its worker gets a second module.
    assert first.modules() == ["tests/e2e/test_new.py", "tests/e2e/test_middle.py"]
    assert second.modules() == ["tests/e2e/faults/test_long.py"]
    assert list(sched.workqueue) == ["tests/e2e/test_short.py"]


def test_the_next_module_goes_to_the_worker_down_to_its_last_test_and_then_everyone_stops():
    sched, (first, second) = scheduler(2)
    complete(sched, second, 1)  # two of test_long's tests still pending: nothing more for it
    assert second.modules() == ["tests/e2e/faults/test_long.py"] and list(sched.workqueue)
    complete(sched, first, 2)  # test_middle's last test waits for what comes next
    assert first.modules() == ["tests/e2e/test_new.py", "tests/e2e/test_middle.py", "tests/e2e/test_short.py"]
    assert not sched.workqueue and not second.shutting_down
    complete(sched, second, 1)
    assert second.shutting_down  # nothing left to hand out: it stops after its last test
