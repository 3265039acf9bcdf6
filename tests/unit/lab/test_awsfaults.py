"""Reading a delete fault back from the consumer's log: which messages a failed or partial delete left behind."""

import json

from lab.awsfaults import app_events, consumer_batches, delete_batches, longest_gap, redelivery_delays, steady
from lab.ledger import Ledger, parse_events


def line(event: str, ts: float, **fields) -> str:
    return json.dumps({"ts": ts, "level": "INFO", "event": event, **fields})


def consumed(msg_id: str, ts: float) -> str:
    return line("consumed", ts, id=msg_id, seq=1, producer="p")


PARTIAL = "\n".join(
    [
        consumed("a", 10.0),
        consumed("b", 10.1),
        consumed("c", 10.2),
        line("delete_failed", 10.3, count=2, failed=[{"Id": "0", "Code": "InternalError"}, {"Id": "2"}]),
        line("deleted", 10.3, count=1),
        '10.0.0.1 - - [03/Dec/2026 14:00:00] "GET /health HTTP/1.1" 200 -',
        line("consume_retry", 11.0, operation="receive", error="InternalFailure"),
        consumed("d", 12.0),
        line("consume_retry", 12.1, operation="delete", error="InternalFailure"),
        line("consume_retry", 14.0, operation="delete", error="InternalFailure"),
        line("deleted", 16.0, count=1),
        consumed("e", 17.0),  # killed before its delete: the generation ends with it open
    ]
)


def test_partial_failure_maps_failed_entry_ids_to_the_batch_messages():
    first, _, _ = delete_batches(parse_events(PARTIAL, source="consumer-x"))
    assert (first.ids, first.failed, first.deleted, first.closed_at) == (["a", "b", "c"], ["a", "c"], 1, 10.3)
    assert first.retries == []


def test_retried_delete_keeps_its_retries_and_closes_when_it_passes():
    batches = consumer_batches({("consumer-x", 0): PARTIAL}, since=11.0)
    assert [b.ids for b in batches] == [["d"], ["e"]]
    retried, open_batch = batches
    assert [r["_t"] for r in retried.retries] == [12.1, 14.0]  # the receive retry before it is not the delete's
    assert (retried.deleted, retried.closed_at, retried.failed) == (1, 16.0, [])
    assert (open_batch.deleted, open_batch.closed_at) == (None, None)


def test_only_consumer_pods_and_each_generation_on_its_own():
    texts = {("producer-y", 0): PARTIAL, ("consumer-x", 0): consumed("a", 1.0), ("consumer-x", 1): PARTIAL}
    batches = consumer_batches(texts, since=0.0)
    assert [b.ids for b in batches] == [["a"], ["a", "b", "c"], ["d"], ["e"]]  # gen 0's open batch stays alone
    assert batches[0].source == "consumer-x"


def test_abandoned_delete_closes_the_batch_and_a_stray_failure_is_ignored():
    text = "\n".join(
        [
            line("delete_failed", 1.0, failed=[{"Id": "0"}]),  # nothing handled yet: not a batch of ours
            consumed("a", 2.0),
            line("delete_failed", 2.1, failed=[{"Id": "5"}]),  # an Id beyond the batch is not guessed
            line("delete_abandoned", 2.2, count=1),
        ]
    )
    (batch,) = consumer_batches({("consumer-x", 0): text}, since=0.0)
    assert (batch.failed, batch.deleted, batch.closed_at) == ([], 0, 2.2)


def test_app_events_by_name_and_time():
    texts = {("producer-p", 0): "\n".join([line("publish_retry", 5.0), line("publish_retry", 3.0), line("x", 4.0)])}
    assert [e["_t"] for e in app_events(texts, "producer", 4.0, "publish_retry")] == [5.0]
    assert [e["_t"] for e in app_events(texts, "producer", 0.0, "publish_retry", "x")] == [3.0, 4.0, 5.0]
    assert app_events(texts, "consumer", 0.0, "publish_retry") == []


def test_redelivery_delay_is_first_to_second_delivery():
    ledger = Ledger().add_events(
        [
            {"event": "consumed", "id": "a", "_t": 40.5},
            {"event": "consumed", "id": "a", "_t": 10.0},
            {"event": "consumed", "id": "b", "_t": 11.0},
        ]
    )
    assert redelivery_delays(ledger, ["a", "b", "c"]) == {"a": 30.5, "b": None, "c": None}


def test_longest_gap_counts_the_window_edges():
    assert longest_gap([3.0, 4.0, 99.0], 1.0, 10.0) == 6.0
    assert longest_gap([], 1.0, 10.0) == 9.0


def test_steady_is_name_restarts_and_ready_since():
    pod = {
        "metadata": {"name": "consumer-1"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-03T14:00:00Z"}],
            "containerStatuses": [{"name": "consumer", "restartCount": 2}],
        },
    }
    name, restarts, since = steady(pod, "consumer")
    assert (name, restarts) == ("consumer-1", 2) and since is not None
    pod["status"]["conditions"][0]["status"] = "False"
    assert steady(pod, "consumer")[2] is None
