"""jsonlog's stdout handler: a checked line tells its caller when it was not written and flushed.

Why: handling a message is writing its ``consumed`` line; ``logging`` swallows a failed write (at most a traceback on
stderr), so without the check the consumer deletes a message whose only trace went nowhere (docs/nodes.md, "Finding").
"""

from __future__ import annotations

import json
import logging

import pytest

from shared.jsonlog import LOGGER_NAME, LineNotWritten, log_event, log_event_checked
from tests.unit.stdout_streams import BROKEN_STREAMS, Breaks, broken, install_stdout


def test_checked_line_is_written_flushed_and_unchanged():
    with install_stdout(Breaks("flush", BrokenPipeError())) as stream:
        log_event_checked("consumed", id="a", seq=1)
        (line,) = stream.lines()  # flushed, not only written: a block-buffered stdout delivers it at once
    parsed = json.loads(line)
    assert {k: parsed[k] for k in ("level", "event", "service", "pod", "id", "seq")} == {
        "level": "INFO",
        "event": "consumed",
        "service": "consumer",
        "pod": "consumer-0",
        "id": "a",
        "seq": 1,
    }
    assert list(parsed)[:3] == ["ts", "level", "event"]


@pytest.mark.parametrize("make_stream", BROKEN_STREAMS.values(), ids=BROKEN_STREAMS.keys())
def test_checked_line_that_was_not_written_raises_with_the_cause(make_stream):
    with install_stdout(make_stream()), pytest.raises(LineNotWritten) as raised:
        log_event_checked("consumed", id="a", seq=1)
    assert isinstance(raised.value.__cause__, OSError | ValueError)
    assert raised.value.event == "consumed"


def test_unchecked_line_keeps_logging_s_behaviour(capsys):
    """log_event (every other line, and all of the producer's) still never raises; logging reports on stderr."""
    with install_stdout(broken(Breaks("write", BrokenPipeError(32, "Broken pipe")))):
        log_event("deleted", count=1)
    assert "--- Logging error ---" in capsys.readouterr().err


def test_checked_line_reports_only_to_its_caller(capsys):
    """The caller decides what a lost line means; logging adds no stderr traceback of its own."""
    with install_stdout(broken(Breaks("write", BrokenPipeError(32, "Broken pipe")))), pytest.raises(LineNotWritten):
        log_event_checked("consumed", id="a")
    assert "Logging error" not in capsys.readouterr().err


def test_checked_line_below_the_log_level_is_not_a_failure():
    """LOG_LEVEL=WARNING drops INFO lines by the operator's choice: nothing was attempted, so nothing failed."""
    with install_stdout(broken(Breaks("write", BrokenPipeError()))) as stream:
        logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)
        log_event_checked("consumed", id="a")
        assert stream.pending == stream.delivered == ""
