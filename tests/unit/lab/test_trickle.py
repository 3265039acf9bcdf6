"""lab.trickle: messages keep coming while the block runs, stop with it, and a failing publish ends the trickle."""

from __future__ import annotations

import threading

from lab.trickle import BATCH, Trickle
from lab.waiting import wait_for


def test_publishes_batches_until_the_block_ends():
    counts: list[int] = []
    with Trickle(counts.append, pause=0.01) as trickle:
        wait_for(lambda: len(counts) >= 3, 5, interval=0.01, what="three batches")
    after = len(counts)
    assert trickle.batches == after >= 3
    assert set(counts) == {BATCH}
    assert trickle.error is None
    assert not any(t.name == "trickle" and t.is_alive() for t in threading.enumerate())


def test_a_failing_publish_ends_the_trickle_and_is_kept():
    calls: list[int] = []

    def publish(count: int) -> None:
        calls.append(count)
        raise ConnectionError("emulator down")

    with Trickle(publish, pause=0.01) as trickle:
        wait_for(lambda: trickle.error is not None, 5, interval=0.01, what="the failure seen")
    assert len(calls) == 1
    assert trickle.batches == 0
    assert isinstance(trickle.error, ConnectionError)


def test_the_block_outcome_is_its_own():
    try:
        with Trickle(lambda count: None, pause=0.01):
            raise KeyError("the fault's own error")
    except KeyError as exc:
        assert "the fault's own error" in str(exc)
    else:
        raise AssertionError("the block's exception was swallowed")
