"""A small typed client for Toxiproxy's HTTP API (v2.5.0), for the network faults of the fault catalogue.

Why our own instead of a PyPI client: the Python client on PyPI (toxiproxy-python 0.1.1) was last released in
January 2019, and the API used here is a few small calls on the lab's pinned `requests`. Every call is bounded by a
timeout, and errors carry Toxiproxy's own message. ``toxic()`` is the shape fault tests should use: it adds a toxic,
yields, removes it in all cases and then lists the proxy's toxics to prove none is left behind (the most common
complaint about chaos tools).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lab.jsonapi import JsonApi

# The API answers from memory; 5 s only guards against a hung or unreachable server.
API_TIMEOUT_SECONDS = 5.0
# Toxic types Toxiproxy 2.5.0 ships (toxics/*.go), so a typo fails here, not as a 400 in the middle of a fault run.
TOXIC_TYPES = ("latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data")


class ToxiproxyError(RuntimeError):
    """An API call Toxiproxy refused: the HTTP status and its error text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"toxiproxy: HTTP {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool = True

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Proxy:
        return cls(data["name"], data["listen"], data["upstream"], bool(data.get("enabled", True)))


@dataclass(frozen=True)
class Toxic:
    """One toxic. ``stream`` is the direction (``downstream``: to the client), ``toxicity`` the share of connections."""

    name: str
    type: str
    attributes: dict[str, int] = field(default_factory=dict)
    stream: str = "downstream"
    toxicity: float = 1.0

    def __post_init__(self) -> None:
        if self.type not in TOXIC_TYPES:
            raise ValueError(f"unknown toxic type {self.type!r}; Toxiproxy 2.5.0 has {', '.join(TOXIC_TYPES)}")
        if self.stream not in ("upstream", "downstream"):
            raise ValueError(f"stream must be upstream or downstream, got {self.stream!r}")
        if not 0 <= self.toxicity <= 1:
            raise ValueError(f"toxicity must be in [0, 1], got {self.toxicity!r}")

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": self.attributes,
        }

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Toxic:
        return cls(data["name"], data["type"], dict(data.get("attributes") or {}), data["stream"], data["toxicity"])


class Toxiproxy(JsonApi):
    """``Toxiproxy("http://127.0.0.1:8474")``: proxies, toxics, reset."""

    def __init__(self, url: str, timeout: float = API_TIMEOUT_SECONDS) -> None:
        super().__init__(url, timeout)

    def refused(self, method: str, path: str, status: int, message: str) -> Exception:
        return ToxiproxyError(status, message)

    def version(self) -> str:
        response = self._session.get(f"{self.url}/version", timeout=self._timeout)
        response.raise_for_status()
        return response.text.strip()

    def create_proxy(self, name: str, listen: str, upstream: str) -> Proxy:
        return Proxy.from_api(self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream}))

    def proxies(self) -> dict[str, Proxy]:
        return {name: Proxy.from_api(data) for name, data in self._call("GET", "/proxies").items()}

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """``enabled=False`` is Toxiproxy's "down": the listener closes and every connection is refused or cut."""
        return Proxy.from_api(self._call("POST", f"/proxies/{name}", {"enabled": enabled}))

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")

    def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        return Toxic.from_api(self._call("POST", f"/proxies/{proxy}/toxics", toxic.to_api()))

    def toxics(self, proxy: str) -> list[Toxic]:
        return [Toxic.from_api(data) for data in self._call("GET", f"/proxies/{proxy}/toxics")]

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Re-enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    @contextmanager
    def toxic(self, proxy: str, toxic: Toxic) -> Iterator[Toxic]:
        """Add ``toxic`` for the ``with`` block; afterwards remove it and prove by listing that it is gone."""
        added = self.add_toxic(proxy, toxic)
        try:
            yield added
        finally:
            self.remove_toxic(proxy, added.name)
            left = [t.name for t in self.toxics(proxy) if t.name == added.name]
            if left:
                raise ToxiproxyError(200, f"toxic {added.name} still listed on proxy {proxy} after removal")
