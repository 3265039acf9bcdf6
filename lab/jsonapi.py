"""The shared shape of the lab's small HTTP/JSON control clients (Toxiproxy's API, faultproxy's control port).

Why a base of our own: both clients are a handful of calls on the pinned `requests`, each bounded by a timeout, and a
refused call must carry the server's own error text; written once here, each client keeps only its calls and the
exception type its callers catch.
"""

from __future__ import annotations

from typing import Any

import requests


class JsonApi:
    """``_call(method, path, payload)`` against ``url``; an HTTP status ≥ 400 raises `refused`'s exception."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()

    def refused(self, method: str, path: str, status: int, message: str) -> Exception:
        """The exception for a refused call (subclasses name their own type)."""
        return RuntimeError(f"{self.url}: {method} {path}: HTTP {status}: {message}")

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self._session.request(method, f"{self.url}{path}", json=payload, timeout=self._timeout)
        if response.status_code >= 400:
            try:
                message = str(response.json().get("error", response.text))
            except ValueError:
                message = response.text.strip()
            raise self.refused(method, path, response.status_code, message)
        return response.json() if response.content else None
