"""A stand-in for a botocore client that fails first: shared by the producer, consumer and connection tests."""

from __future__ import annotations

from typing import Any


class Flaky:
    """Wraps a real client; the first ``failures`` calls of ``method`` raise ``error``; ``close`` calls are counted."""

    def __init__(self, real: Any, method: str, failures: int, error: Exception) -> None:
        self._real, self._method, self.left, self._error = real, method, failures, error
        self.calls = 0
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        self._real.close()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name != self._method:
            return attr

        def call(**kwargs: Any) -> Any:
            self.calls += 1
            if self.left > 0:
                self.left -= 1
                raise self._error
            return attr(**kwargs)

        return call
