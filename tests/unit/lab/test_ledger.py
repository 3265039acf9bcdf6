"""The ledger must find a lost message among realistic ``kubectl logs`` noise, or the no-loss claim means nothing."""

import json

import pytest

from lab.ledger import Ledger, LossWindow, parse_events, seq_gaps, split_line
from lab.times import parse_time
from lab.verdict import ledger_problems


def jline(**fields) -> str:
    return json.dumps({"ts": 1000.0, "level": "INFO", **fields})


def published(msg_id: str, seq: int, t: float, producer: str = "producer-a") -> str:
    return jline(ts=t, event="published", id=msg_id, seq=seq, producer=producer, message_id=f"m-{msg_id}")


def consumed(msg_id: str, t: float, receive_count: int = 1) -> str:
    return jline(
        ts=t,
        event="consumed",
        id=msg_id,
        seq=0,
        producer="producer-a",
        message_id=f"m-{msg_id}",
        receive_count=receive_count,
        body="{}",
    )


ACCESS = '10.0.0.1 - - [30/Jan/2021 00:25:58] "GET /health HTTP/1.1" 200 -'


def test_access_lines_tracebacks_and_torn_lines_are_ignored():
    text = "\n".join(
        [
            ACCESS,
            "Traceback (most recent call last):",
            '  File "app.py", line 1',
            jline(event="started"),
            '{"ts": 1.0, "event": "consumed", "id": "x"',  # container killed mid-write
            "[1, 2, 3]",
            '{"no_event": true}',
        ]
    )
    events = parse_events(text)
    assert [e["event"] for e in events] == ["started"]


def test_kubectl_prefix_and_timestamps_are_stripped():
    line = split_line('[pod/consumer-1/consumer] 2026-11-28T04:15:01.123456789Z {"event": "x"}')
    assert line.source == "pod/consumer-1/consumer"
    assert line.text == '{"event": "x"}'
    assert line.stamp == pytest.approx(parse_time("2026-11-28T04:15:01.123456Z"))


def test_event_time_falls_back_to_kubectl_stamp_when_ts_missing():
    events = parse_events('2026-11-28T04:15:01Z {"event": "draining"}')
    assert events[0]["_t"] == parse_time("2026-11-28T04:15:01Z")


def test_lost_message_is_found_among_consumed_ones():
    producer = "\n".join([published("a", 1, 10), ACCESS, published("b", 2, 11), published("c", 3, 12)])
    consumer = "\n".join([consumed("a", 10.1), ACCESS, consumed("c", 12.1)])
    result = Ledger().add_log(producer).add_log(consumer).check()
    assert result.lost == ["b"]
    assert (result.published, result.consumed, result.duplicates) == (3, 2, 0)


def test_previous_container_logs_count_and_redelivery_is_a_duplicate():
    previous = consumed("a", 10.1)  # killed after handling, before the batch delete
    current = consumed("a", 41.0, receive_count=2)
    ledger = Ledger().add_log(published("a", 1, 10)).add_log(previous).add_log(current)
    result = ledger.check()
    assert result.lost == []
    assert result.duplicates == 1 and result.duplicated_ids == ["a"]


def test_until_excludes_messages_still_in_flight():
    ledger = Ledger().add_log("\n".join([published("a", 1, 10), published("b", 2, 20)])).add_log(consumed("a", 11))
    assert ledger.check(until=15).lost == []
    assert ledger.check(until=25).lost == ["b"]


def test_loss_window_excuses_only_messages_published_inside_it():
    ledger = Ledger().add_log("\n".join([published("a", 1, 10), published("b", 2, 20), published("c", 3, 30)]))
    result = ledger.check(window=LossWindow(start=15, end=25))
    assert result.excused == ["b"]
    assert result.lost == ["a", "c"]


def test_dlq_keeps_raw_poison_and_a_published_id_there_is_a_loss():
    """Item 3: the ledger used to drop published ids found in the DLQ from "missing". Poison bodies carry no id, so
    that could only hide a good message that was dead-lettered; now it is lost and named."""
    ledger = Ledger().add_log(published("a", 1, 10)).add_dlq([json.dumps({"id": "a"}), "not json {"])
    in_dlq = {entry["id"] for entry in ledger.dlq if entry["id"]}
    assert set(ledger.published) - set(ledger.consumed) - in_dlq == set()  # the old "missing": nothing
    result = ledger.check()
    assert result.lost == ["a"] and result.dlq_published == ["a"]
    assert any("DLQ" in problem for problem in ledger_problems(result))
    assert [entry["id"] for entry in result.dlq] == ["a", None]
    assert result.dlq[1]["body"] == "not json {"
    poison_only = Ledger().add_log(published("b", 1, 10)).add_log(consumed("b", 11)).add_dlq(["not json {"])
    assert ledger_problems(poison_only.check()) == []


def test_poison_deleted_and_unknown_ids_are_counted():
    consumer = "\n".join(
        [
            jline(event="poison", message_id="m-x"),
            jline(event="deleted", count=3),
            jline(event="deleted", count=2),
            consumed("stranger", 5),
        ]
    )
    ledger = Ledger().add_log(consumer)
    result = ledger.check()
    assert (result.poison, ledger.deleted, result.unknown) == (1, 5, ["stranger"])


def test_producer_retry_accepted_twice_is_one_published_message():
    ledger = Ledger().add_log("\n".join([published("a", 1, 10), published("a", 1, 10.5)]))
    assert ledger.check().published == 1
    assert ledger.published_at("a") == 10


def test_seq_gaps_per_producer_and_restart_from_one_is_not_a_gap():
    events = [{"seq": s, "producer": "p1"} for s in (1, 2, 4)] + [{"seq": s, "producer": "p2"} for s in (1, 2, 1)]
    assert seq_gaps(events) == {"p1": [3]}


def test_gap_in_a_restarted_container_is_not_hidden_by_the_first_run():
    """Item 6: a restarted producer starts again at 1 under the same pod name; keyed by pod only, run 0's 1..5 hid
    run 1's missing 3. Keyed by pod and container generation, it shows."""
    run0 = "\n".join(published(f"a{s}", s, 10 + s) for s in range(1, 6))
    run1 = "\n".join(published(f"b{s}", s, 30 + s) for s in (1, 2, 4))
    by_pod = Ledger().add_log(run0, "producer-1").add_log(run1, "producer-1")
    assert by_pod.check().seq_gaps == {}  # the old key
    ledger = Ledger().add_log(run0, "producer-1", generation=0).add_log(run1, "producer-1", generation=1)
    assert ledger.check().seq_gaps == {"producer-a#1": [3]}
    assert ledger_problems(ledger.check())


def test_consumed_but_never_published_fails_the_ledger():
    """Item 6: ``unknown`` was counted, never asserted: a consumer reading someone else's queue passed."""
    ledger = Ledger().add_log(published("a", 1, 10)).add_log("\n".join([consumed("a", 11), consumed("x", 12)]))
    result = ledger.check()
    assert result.lost == [] and result.unknown == ["x"]  # the old assertion (lost == []) passed
    assert any("never published" in problem for problem in ledger_problems(result))


def test_unpublished_message_counts_as_lost():
    """Item 6: a producer stopped mid-retry logs ``unpublished``; that message is lost, not invisible."""
    gave_up = jline(ts=12, event="unpublished", id="b", seq=2, producer="producer-a", error="EndpointConnectionError")
    ledger = Ledger().add_log("\n".join([published("a", 1, 10), gave_up])).add_log(consumed("a", 11))
    assert ledger.check().lost == ["b"] and ledger.check().unpublished == ["b"]
    assert ledger.check(until=11).lost == []  # given up after the check's horizon: not yet due
    ledger.add_log(consumed("b", 13))  # SNS took it after all: neither lost nor unknown
    assert ledger.check().lost == [] and ledger.check().unknown == []


def test_publish_without_a_timestamp_is_due_not_dropped():
    """Item 6: a ``published`` line with neither ``ts`` nor a kubectl stamp was silently left out of every check."""
    events = parse_events(json.dumps({"event": "published", "id": "a", "seq": 1, "producer": "p"}))
    assert events[0]["_t"] is None
    assert Ledger().add_events(events).check(until=100).lost == ["a"]


def test_excused_losses_beyond_the_window_bound_fail():
    """Item 4: the number of excused messages is bounded by what the window can hold."""
    ledger = Ledger().add_log("\n".join(published(f"m{i}", i, 20 + i * 0.1) for i in range(1, 31)))
    unbounded = ledger.check(window=LossWindow(start=15, end=25))
    assert len(unbounded.excused) == 30 and ledger_problems(unbounded) == []  # before: any number was fine
    bounded = ledger.check(window=LossWindow(start=15, end=25, max_excused=11))
    assert ledger_problems(bounded) == ["30 losses excused, the window can hold at most 11"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12.5, 12.5),
        (3, 3.0),
        ("1970-01-01T00:00:10Z", 10.0),
        ("1970-01-01T00:00:10.5+00:00", 10.5),
        ("garbage", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_time(value, expected):
    assert parse_time(value) == expected


def two_losses() -> Ledger:
    """Two messages published at 10 s and 50 s, neither consumed."""
    return Ledger().add_log("\n".join([published("early", 1, 10.0), published("late", 2, 50.0)]))


def test_one_window_given_either_way_is_the_same_check():
    window = LossWindow(5, 20, max_excused=1)
    assert two_losses().check(window=window) == two_losses().check(windows=[window])
    assert two_losses().check(windows=[window]).lost == ["late"]


def test_several_windows_add_their_bounds_and_an_unbounded_one_lifts_the_bound():
    bounded = two_losses().check(windows=[LossWindow(5, 20, max_excused=1), LossWindow(45, 55, max_excused=2)])
    assert (bounded.lost, bounded.excused, bounded.max_excused) == ([], ["early", "late"], 3)
    unbounded = two_losses().check(window=LossWindow(5, 20, max_excused=1), windows=[LossWindow(45, 55)])
    assert unbounded.max_excused is None
    assert two_losses().check().max_excused is None, "no window: nothing excused, no bound"
    assert two_losses().check().lost == ["early", "late"]
