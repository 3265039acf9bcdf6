"""Pure pieces of the fault catalogue: which message counts as "first consumed after recovery"."""

from lab.catalogue import first_consumed_after
from lab.ledger import Ledger


def ledger() -> Ledger:
    return Ledger().add_events(
        [
            {"event": "published", "id": "old", "seq": 1, "producer": "p1", "_t": 5.0},
            {"event": "published", "id": "new", "seq": 1, "producer": "p2", "_t": 12.0, "_source": "p2"},
            {"event": "consumed", "id": "old", "_t": 11.0, "_source": "c1"},  # the old pod, still draining at 11
            {"event": "consumed", "id": "new", "_t": 12.5, "_source": "c2"},
        ]
    )


def test_first_consumed_after_restart_counts_backlog_for_the_consumer():
    assert first_consumed_after(ledger(), 10.0) == 11.0


def test_first_consumed_after_restart_of_the_producer_needs_a_new_message():
    assert first_consumed_after(ledger(), 10.0, published_after=True) == 12.5


def test_nothing_after_or_unknown_start():
    assert first_consumed_after(ledger(), 20.0) is None
    assert first_consumed_after(ledger(), None) is None


def test_first_consumed_by_the_replacement_pod():
    assert first_consumed_after(ledger(), 10.0, pod="c2") == 12.5
    assert first_consumed_after(ledger(), 10.0, published_after=True, pod="p2") == 12.5
    assert first_consumed_after(ledger(), 10.0, published_after=True, pod="p1") is None
