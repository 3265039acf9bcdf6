"""The flow summary a timed-out wait adds to its assertion: it must name the side that stalled."""

import json

from lab.diagnose import flow_summary, pod_summary


def line(stamp: float, event: str, **fields) -> str:
    return "2026-12-03T05:00:00.000000000Z " + json.dumps({"ts": stamp, "event": event, **fields})


def test_counts_only_events_since_the_injection_and_names_the_last_retry_error():
    text = "\n".join(
        [
            line(90.0, "published", id="a"),  # before the injection at 100: not counted
            line(101.0, "publish_retry", error="EndpointConnectionError", detail="Could not connect"),
            line(104.0, "publish_retry", error="NotFound", detail="Topic does not exist"),
            line(106.0, "published", id="b"),
        ]
    )
    summary = pod_summary("producer-1", text, since=100.0, now=110.0)
    assert summary.startswith("producer-1: publish_retry×2 published×1; last published 4.0 s ago")
    assert "last retry 6.0 s ago: NotFound (Topic does not exist)" in summary


def test_a_silent_pod_and_an_ended_stream_are_said():
    texts = {"consumer-1": line(50.0, "consumed", id="a"), "producer-1": line(120.0, "published", id="b")}
    streams = {"consumer-1.0": "ended (1, 5 attached)", "producer-1.0": "following"}
    summary = flow_summary(texts, streams, since=100.0, now=130.0)
    assert "consumer-1: no event since the injection" in summary
    assert "producer-1: published×1; last published 10.0 s ago" in summary
    assert summary.endswith("log streams: consumer-1.0: ended (1, 5 attached), producer-1.0: following")


def test_access_log_lines_are_not_events():
    text = '10.0.0.1 - - [03/Dec/2026 05:00:00] "GET /health HTTP/1.1" 200 -'
    assert pod_summary("consumer-1", text, since=0.0, now=1.0) == "consumer-1: no event since the injection"
