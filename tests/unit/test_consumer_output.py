"""A consumer whose stdout breaks: a message counts as handled only once its ``consumed`` line was written and flushed.

The exercise's handling *is* that line (docs/nodes.md, "Finding"): a message whose line failed stays on the queue for
redelivery, the ones written before it in the same batch are still deleted, and the worker then stops receiving and
ends with ``OutputLost``, which ``run_worker`` turns into exit code 1 (a restart gives the container new pipes).
"""

from __future__ import annotations

import array
import fcntl
import io
import json
import os
import termios
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from consumer.handling import OutputLost
from shared.runtime import Controls, run_worker
from tests.unit.stdout_streams import BROKEN_STREAMS, Breaks, install_stdout, working
from tests.unit.test_consumer import Flaky, make_consumer, message, queue_depth


def consumed_ids(lines: list[str]) -> list[str]:
    return [doc["id"] for doc in map(json.loads, lines) if doc["event"] == "consumed"]


def after_first_consumed(method: str) -> Breaks:
    """The log copier dies right after the batch's first ``consumed`` line reached it."""
    return Breaks(method, BrokenPipeError(32, "Broken pipe"), break_after=lambda text: '"event":"consumed"' in text)


class CountsReceives:
    """Counts receives; sets stop after ``limit`` of them, so a consumer that failed to stop cannot hang the test."""

    def __init__(self, sqs: Any, controls: Controls, limit: int = 3) -> None:
        self._sqs, self._controls, self._limit, self.receives = sqs, controls, limit, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def receive_message(self, **kwargs: Any) -> Any:
        self.receives += 1
        if self.receives >= self._limit:
            self._controls.stop.set()
        return self._sqs.receive_message(**kwargs)


def send(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    bodies = [message(i) for i in range(1, count + 1)]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    return bodies


def test_normal_path_writes_each_consumed_line_and_deletes(wiring, sqs):
    sent = send(sqs, wiring.queue_url, 3)
    with install_stdout(working()) as stream:
        assert make_consumer(sqs).poll_once() == 3
        assert sorted(consumed_ids(stream.lines())) == sorted(b["id"] for b in sent)
    assert queue_depth(sqs, wiring.queue_url) == 0


@pytest.mark.parametrize("method", ["write", "flush"])
def test_message_whose_line_failed_is_left_and_earlier_ones_deleted(wiring, sqs, events, method):
    sqs.set_queue_attributes(QueueUrl=wiring.queue_url, Attributes={"VisibilityTimeout": "0"})  # redeliver at once
    send(sqs, wiring.queue_url, 3)
    with install_stdout(after_first_consumed(method)) as stream:
        with pytest.raises(OutputLost) as raised:
            make_consumer(sqs).poll_once()
        (written,) = consumed_ids(stream.lines())
    assert isinstance(raised.value.__cause__.__cause__, BrokenPipeError)
    # Only the written one was deleted; the one whose write failed, and the rest of the batch, were never counted
    # as handled (the second is the last line attempted: nothing is written after the failure).
    assert [e["id"] for e in events("consumed")][0] == written and len(events("consumed")) == 2
    assert events("deleted") == [{"event": "deleted", "count": 1}]
    assert raised.value.left == 2
    # At-least-once: the two come back to the next consumer, on their second receive.
    with install_stdout(working()) as stream:
        make_consumer(sqs).poll_once()
        again = [json.loads(line) for line in stream.lines()]
    redelivered = [doc for doc in again if doc["event"] == "consumed"]
    assert len(redelivered) == 2 and written not in {doc["id"] for doc in redelivered}
    assert {doc["receive_count"] for doc in redelivered} == {2}
    assert queue_depth(sqs, wiring.queue_url) == 0


@pytest.mark.parametrize("make_stream", BROKEN_STREAMS.values(), ids=BROKEN_STREAMS.keys())
def test_broken_stdout_deletes_nothing(wiring, sqs, make_stream):
    send(sqs, wiring.queue_url, 2)
    with install_stdout(make_stream()), pytest.raises(OutputLost):
        make_consumer(sqs).poll_once()
    assert queue_depth(sqs, wiring.queue_url) == 2  # in flight until the visibility timeout, then redelivered


def test_worker_stops_receiving_and_exits_1_after_its_output_is_lost(wiring, sqs, events):
    """No further receive after the failure (each would take messages it cannot handle); exit 1 through run_worker."""
    send(sqs, wiring.queue_url, 2)
    controls = Controls()
    counting = CountsReceives(sqs, controls)
    with install_stdout(after_first_consumed("write")):
        code = run_worker(make_consumer(counting, controls=controls), controls)
    assert code == 1 and counting.receives == 1
    (crash,) = events("worker_crashed")
    assert crash["error"].startswith("OutputLost(")
    assert events("deleted") == [{"event": "deleted", "count": 1}]


def test_output_lost_during_the_drain_still_exits_1(wiring, sqs):
    """A node shutting down in order: SIGTERM lands mid-batch and the copier is gone; the drain is not clean."""
    send(sqs, wiring.queue_url, 1)
    controls = Controls()

    class StopAfterReceive(CountsReceives):
        def receive_message(self, **kwargs: Any) -> Any:
            controls.stop.set()
            return super().receive_message(**kwargs)

    with install_stdout(BROKEN_STREAMS["pipe without reader, unbuffered"]()):
        code = run_worker(make_consumer(StopAfterReceive(sqs, controls), controls=controls), controls)
    assert code == 1
    assert queue_depth(sqs, wiring.queue_url) == 1


def test_broken_stdout_alone_does_not_stop_retries_of_an_outage(wiring, sqs, events):
    """Liveness is unchanged: an outage is retried with the heartbeat beating even when no line can be written;
    only a message whose line failed ends the worker."""
    flaky = Flaky(sqs, "receive_message", failures=3, error=EndpointConnectionError(endpoint_url="http://x"))
    beats: list[int] = []
    with install_stdout(BROKEN_STREAMS["write raises BrokenPipeError"]()):
        assert make_consumer(flaky, beats=beats).poll_once() == 0
    assert len(events("consume_retry")) == 3 and len(beats) >= 4


def test_line_in_a_pipe_nobody_read_yet_counts_as_written(wiring, sqs):
    """The limit of the check (docs/nodes.md, "Finding"): a write succeeds once the kernel's pipe buffer holds it.

    A copier that is still there but dies before reading loses the line after the message was deleted; nothing in
    the consumer's process can tell.
    """
    read_end, write_end = os.pipe()
    send(sqs, wiring.queue_url, 1)
    try:
        with install_stdout(io.TextIOWrapper(open(write_end, "wb", buffering=0), write_through=True)):
            assert make_consumer(sqs).poll_once() == 1
            assert queue_depth(sqs, wiring.queue_url) == 0  # deleted...
            unread = array.array("i", [0])
            fcntl.ioctl(read_end, termios.FIONREAD, unread)
            assert unread[0] > 0  # ...while its consumed line still sat unread in the pipe
    finally:
        os.close(read_end)  # the copier dies: what it had not read is gone with the pipe
