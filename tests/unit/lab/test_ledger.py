"""The ledger must find a lost message among realistic ``kubectl logs`` noise, or the no-loss claim means nothing."""

import json

import pytest

from lab.ledger import Ledger, LossWindow, parse_events, parse_time, seq_gaps, split_line


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


def test_dlq_bodies_account_for_messages_and_keep_raw_poison():
    ledger = Ledger().add_log(published("a", 1, 10)).add_dlq([json.dumps({"id": "a"}), "not json {"])
    result = ledger.check()
    assert result.lost == []
    assert [entry["id"] for entry in result.dlq] == ["a", None]
    assert result.dlq[1]["body"] == "not json {"


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
