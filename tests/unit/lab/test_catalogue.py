"""Pure pieces of the fault catalogue: which message counts as "first consumed after recovery"."""

from lab.catalogue import emulator_loss_window, first_consumed_after, first_through, in_flight
from lab.ledger import Ledger, LossWindow


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


def burst_ledger(consumed_at: list[tuple[str, float, str]]) -> Ledger:
    ids = ["b1", "b2", "b3"]
    events = [{"event": "published", "id": i, "seq": n, "producer": "burst", "_t": 1.0} for n, i in enumerate(ids, 1)]
    events += [{"event": "consumed", "id": i, "_t": at, "_source": pod} for i, at, pod in consumed_at]
    return Ledger().add_events(events)


def test_burst_finished_before_the_fault_is_not_mid_batch():
    """Item 5: the old ``busy`` wait only asked that some burst message was consumed before the injection."""
    done_early = burst_ledger([("b1", 2.0, "c1"), ("b2", 2.1, "c1"), ("b3", 2.2, "c1")])
    assert {"b1", "b2", "b3"} & set(done_early.consumed)  # the old check: busy, so "mid-batch"
    assert in_flight(done_early, ["b1", "b2", "b3"], injected=5.0, new_pods=["c2"]) == []


def test_burst_in_flight_after_the_fault_or_on_the_replacement():
    draining = burst_ledger([("b1", 2.0, "c1"), ("b2", 5.3, "c1")])  # the old pod drained b2 after SIGTERM
    assert in_flight(draining, ["b1", "b2", "b3"], injected=5.0) == ["b2"]
    replacement = burst_ledger([("b1", 2.0, "c1"), ("b3", 4.9, "c2")])  # clock of the new pod's node a bit behind
    assert in_flight(replacement, ["b1", "b2", "b3"], injected=5.0, new_pods=["c2"]) == ["b3"]
    redelivered = burst_ledger([("b1", 2.0, "c1"), ("b1", 40.0, "c1")])  # handled, not deleted, handled again
    assert in_flight(redelivered, ["b1"], injected=5.0) == ["b1"]


def test_emulator_window_starts_at_the_last_message_consumed_before_the_deletion():
    """Item 4: the window used to start VisibilityTimeout + long poll (50 s) before the deletion, so a message
    published 40 s before it and never consumed was excused. It now starts at the last one consumed."""
    injected, resumed = 100.0, 118.0
    ledger = Ledger().add_events(
        [
            {"event": "published", "id": "old", "seq": 1, "producer": "p", "_t": 60.0},  # lost for real
            {"event": "published", "id": "seen", "seq": 2, "producer": "p", "_t": 97.0},
            {"event": "consumed", "id": "seen", "_t": 97.2},
            {"event": "published", "id": "gone", "seq": 3, "producer": "p", "_t": 98.0},  # in the emulator's memory
            {"event": "published", "id": "back", "seq": 4, "producer": "p", "_t": 118.0},
            {"event": "consumed", "id": "back", "_t": 118.3},
        ]
    )
    old_window = LossWindow(start=injected - (30 + 10 + 10), end=resumed)
    assert ledger.check(window=old_window).lost == []  # "old" excused
    window = emulator_loss_window(ledger, injected, resumed, publish_interval=1.0)
    assert (window.start, window.end, window.max_excused) == (97.0, 118.0, 22)
    result = ledger.check(window=window)
    assert result.lost == ["old"] and result.excused == ["gone"]


def test_emulator_window_with_nothing_consumed_before_starts_at_the_deletion():
    ledger = Ledger().add_events([{"event": "published", "id": "a", "seq": 1, "producer": "p", "_t": 90.0}])
    window = emulator_loss_window(ledger, 100.0, 110.0, publish_interval=2.0)
    assert (window.start, window.end, window.max_excused) == (100.0, 110.0, 6)


def test_window_ends_at_the_first_message_through_after_the_outage_not_after_the_command():
    """A message published between the scale-to-0 command (10) and the outage's end (20) and consumed says nothing
    about the recreated subscription; the producer's message given up at 15 must stay inside the window."""
    ledger = Ledger().add_events(
        [
            {"event": "published", "id": "before", "seq": 1, "producer": "p", "_t": 8.0},
            {"event": "consumed", "id": "before", "_t": 8.5},
            {"event": "published", "id": "in-the-moment", "seq": 2, "producer": "p", "_t": 10.2},
            {"event": "consumed", "id": "in-the-moment", "_t": 10.3},
            {"event": "unpublished", "id": "given-up", "seq": 3, "producer": "p", "_t": 15.0},
            {"event": "published", "id": "after", "seq": 1, "producer": "q", "_t": 22.0},
            {"event": "consumed", "id": "after", "_t": 22.5},
        ]
    )
    assert first_through(ledger, 20.0) == 22.0
    assert first_through(ledger, 10.0) == 10.2  # counted from the command: the early end the fix avoids
    window = emulator_loss_window(ledger, 10.0, first_through(ledger, 20.0) or 0.0, 1.0)
    assert window.covers(ledger.published_at("given-up"))
    assert ledger.check(window=window).lost == []
    assert first_through(ledger, 30.0) is None
