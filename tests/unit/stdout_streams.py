"""Streams that break the way a container's stdout breaks, and the services' stdout handler installed on one.

The reader of the pipe is gone (BrokenPipeError, on the write of an unbuffered stream or on the flush of a
block-buffered one), the device fails (EIO), or the stream was closed (ValueError). Shared by the jsonlog and the
consumer tests.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable, Iterator
from typing import IO

from shared.jsonlog import LOGGER_NAME, JsonFormatter, JsonLineHandler


class Breaks(io.TextIOBase):
    """A stream whose ``method`` ("write" or "flush") raises ``error`` once ``broken`` is set.

    Text counts as delivered (``lines``) once written in "write" mode, once flushed in "flush" mode (a block-buffered
    stream: what a failed flush leaves in the buffer never arrives). ``break_after`` (optional) sets ``broken`` right
    after delivering text it accepts: the reader dying between two lines of one batch.
    """

    def __init__(self, method: str, error: Exception, break_after: Callable[[str], bool] | None = None) -> None:
        super().__init__()
        self.method, self.error, self.broken, self.break_after = method, error, False, break_after
        self.delivered, self.pending = "", ""

    def write(self, text: str) -> int:
        if self.broken and self.method == "write":
            raise self.error
        self.pending += text
        if self.method == "write":
            self._deliver()
        return len(text)

    def flush(self) -> None:
        if self.broken and self.method == "flush":
            raise self.error
        self._deliver()

    def _deliver(self) -> None:
        text, self.pending = self.pending, ""
        self.delivered += text
        if self.break_after is not None and self.break_after(text):
            self.broken = True

    def lines(self) -> list[str]:
        return self.delivered.splitlines()


def working() -> Breaks:
    """A stdout that never breaks (and keeps what it was given)."""
    return Breaks("write", BrokenPipeError())


def broken(stream: Breaks) -> Breaks:
    stream.broken = True
    return stream


def closed_string_io() -> IO[str]:
    stream = io.StringIO()
    stream.close()
    return stream


def reader_gone_pipe(buffered: bool) -> IO[str]:
    """A real pipe whose read end is closed, as the write end looks once the runtime's log copier has exited.

    Buffered, a write lands in Python's buffer and the flush fails (stdout on a pipe without PYTHONUNBUFFERED);
    unbuffered (what the images set), the write itself fails. Python ignores SIGPIPE, so both raise BrokenPipeError.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    if buffered:
        return open(write_end, "w")  # noqa: SIM115 - closed by install_stdout
    return io.TextIOWrapper(open(write_end, "wb", buffering=0), write_through=True)


BROKEN_STREAMS: dict[str, Callable[[], IO[str]]] = {
    "write raises BrokenPipeError": lambda: broken(Breaks("write", BrokenPipeError(32, "Broken pipe"))),
    "flush raises BrokenPipeError": lambda: broken(Breaks("flush", BrokenPipeError(32, "Broken pipe"))),
    "write raises OSError EIO": lambda: broken(Breaks("write", OSError(5, "Input/output error"))),
    "closed stream (ValueError)": closed_string_io,
    "pipe without reader, buffered": lambda: reader_gone_pipe(buffered=True),
    "pipe without reader, unbuffered": lambda: reader_gone_pipe(buffered=False),
}


@contextlib.contextmanager
def install_stdout(stream: IO[str], level: int = logging.INFO) -> Iterator[IO[str]]:
    """The handler ``setup_logging`` installs, on ``stream``, beside pytest's capture handler (which the
    ``events`` fixture reads); removed and the stream closed afterwards."""
    handler = JsonLineHandler(stream)
    handler.setFormatter(JsonFormatter("consumer", "consumer-0"))
    logger, root = logging.getLogger(LOGGER_NAME), logging.getLogger()
    previous = logger.level
    root.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        logger.setLevel(previous)
        with contextlib.suppress(OSError):  # a buffered pipe without reader fails its last flush here too
            stream.close()
