"""The real consumer process whose stdout pipe loses its reader: the message is not deleted, the process exits 1.

What the unit tier shows with fakes, here with the kernel's own pipe and the image's PYTHONUNBUFFERED=1: the test
reads the consumer's stdout like the runtime's log copier does, then closes its end, as the copier does when it dies
before the consumer during an orderly node shutdown (docs/nodes.md, "Finding").
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from lab.emulator import free_port
from lab.processes import POLL_SECONDS, SERVICES, stop_process
from lab.waiting import wait_for
from shared.policy import CONNECT_TIMEOUT_SECONDS, SHORT_READ_TIMEOUT_SECONDS

# One batch delete after the failed line, then the process's exit: two short calls of the service's own bounds.
EXIT_AFTER_FAILURE_SECONDS = 2 * (CONNECT_TIMEOUT_SECONDS + SHORT_READ_TIMEOUT_SECONDS)


class PipeReader:
    """The read end of the consumer's stdout, read without blocking so every wait keeps its deadline."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._stream = proc.stdout
        os.set_blocking(self._stream.fileno(), False)
        self._data = b""

    def events(self, kind: str) -> list[dict[str, Any]]:
        try:
            while chunk := os.read(self._stream.fileno(), 65536):
                self._data += chunk
        except BlockingIOError:
            pass
        lines = self._data.decode(errors="replace").splitlines()
        return [
            doc for doc in map(json.loads, (line for line in lines if line.startswith("{"))) if doc["event"] == kind
        ]

    def close(self) -> None:
        """The copier is gone: the next write into the pipe fails with EPIPE."""
        self._stream.close()


def message(seq: int) -> str:
    return json.dumps({"id": str(uuid.uuid4()), "seq": seq, "ts": 0.0, "producer": "producer-0"})


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_consumer_whose_stdout_reader_died_leaves_the_message_and_exits_1(make_wiring, emulator, timing, tmp_path):
    # Message 2 must not come back before the final check: that check follows its receive within the process wait's
    # bound (the wait starts before the receive), so the visibility timeout outlasts that bound.
    wiring = make_wiring(visibility_timeout=math.ceil(timing.consume + EXIT_AFTER_FAILURE_SECONDS) + 1)
    sqs = emulator.client("sqs")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HEALTH_PORT": str(port),
        "POD_NAME": f"consumer-{port}",
        "PYTHONUNBUFFERED": "1",  # as the image runs it
        **emulator.env(),
        "QUEUE_NAME": wiring.queue_name,
        **timing.consumer_env,
    }
    app = SERVICES / "consumer" / "app.py"
    stderr = Path(tmp_path) / "consumer.err"
    with stderr.open("wb") as err:
        proc = subprocess.Popen([sys.executable, str(app)], cwd=app.parent, env=env, stdout=subprocess.PIPE, stderr=err)
    try:
        reader = PipeReader(proc)
        sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=message(1))
        wait_for(lambda: reader.events("deleted"), timing.start + timing.consume, POLL_SECONDS, "message 1 deleted")
        (first,) = reader.events("consumed")
        reader.close()
        sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=message(2))
        # The next long poll takes message 2; its line fails; the worker deletes nothing and ends.
        assert proc.wait(timeout=timing.consume + EXIT_AFTER_FAILURE_SECONDS) == 1
    finally:
        stop_process(proc)
    # Message 1 is gone; message 2 was received (in flight until the visibility timeout), never deleted.
    assert first["seq"] == 1
    assert queue_counts(sqs, wiring.queue_url) == (0, 1)
    assert "OutputLost: stdout lost" in stderr.read_text()  # logging's own report of the last lines, on stderr
