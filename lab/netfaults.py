"""Network faults through Toxiproxy for the fault catalogue: the toxics, their sizes, their bounds and their undoing.

Sizes come from the services' own client timeouts (``shared.policy``), never retyped. The tightest read timeout on
the path is the readiness probe client's (PROBE_READ_TIMEOUT_SECONDS): a slowed answer must stay well inside it, and
the integration tier found a latency at the full timeout timing out now and then, so latency + jitter stays under
half of it.

Bounds for the outages: a dependency fault shows in ``/ready``'s answer at the latest after the cached answer expires
(``shared.server.READINESS_CACHE_SECONDS``) plus one check whose probe client waits out its connect and read
timeouts (``visible_after``). From there the readiness probe needs ``periodSeconds × failureThreshold +
timeoutSeconds`` to take the pod out, and, once the fault is gone (the check in flight and the cached failure count
in ``visible_after`` again), ``periodSeconds × successThreshold + timeoutSeconds`` to put it back.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import yaml

from lab.kube import Kube, container_status
from lab.ledger import Ledger, parse_events
from lab.probes import Probe
from lab.proxyroute import OVERLAY
from lab.timeline import ready_since
from lab.times import parse_time
from lab.toxiproxy import Toxic, Toxiproxy, ToxiproxyError
from lab.verdict import DETECTION_TOLERANCE_SECONDS
from shared.policy import PROBE_CONNECT_TIMEOUT_SECONDS, PROBE_READ_TIMEOUT_SECONDS
from shared.server import READINESS_CACHE_SECONDS

LATENCY_MS = round(PROBE_READ_TIMEOUT_SECONDS * 1000 / 5)
JITTER_MS = LATENCY_MS // 3
# Bandwidth and slicer stretch an answer instead of delaying it: 8 KB/s puts a ~1 KB readiness answer at ~0.1 s and
# a 10-message receive (a few KB) at well under a second; 64-byte slices 1 ms apart split the same answers into tens
# of TCP writes. Both keep every answer far inside the clients' read timeouts: calls slow down, none fails.
BANDWIDTH_KB_PER_S = 8
SLICE = {"average_size": 64, "size_variation": 32, "delay": 1000}  # bytes, bytes, microseconds


@dataclass(frozen=True)
class Degradation:
    """A toxic that slows calls without failing them; ``floor`` is the least delay it adds to every answer (s)."""

    toxic: Toxic
    floor: float = 0.0


@dataclass(frozen=True)
class Outage:
    """A toxic that fails calls (``toxic``), or the proxy disabled (``toxic=None``, Toxiproxy's "down").
    ``hung``: calls hang until the client's read timeout instead of failing at once."""

    name: str
    toxic: Toxic | None
    hung: bool = False

    @contextmanager
    def injected(self, client: Toxiproxy, proxy: str) -> Iterator[None]:
        if self.toxic is None:
            with proxy_down(client, proxy):
                yield
        else:
            with client.toxic(proxy, self.toxic):
                yield


DEGRADATIONS = (
    Degradation(Toxic("slow", "latency", {"latency": LATENCY_MS, "jitter": JITTER_MS}), (LATENCY_MS - JITTER_MS) / 1e3),
    Degradation(Toxic("narrow", "bandwidth", {"rate": BANDWIDTH_KB_PER_S})),
    Degradation(Toxic("pieces", "slicer", dict(SLICE))),
)
OUTAGES = (
    Outage("timeout", Toxic("hang", "timeout", {"timeout": 0}), hung=True),
    Outage("reset_peer", Toxic("reset", "reset_peer", {"timeout": 0})),
    Outage("down", None),
)


def configured_proxy() -> str:
    """The proxy the overlay's Toxiproxy creates at start (ConfigMap ``toxiproxy-config``): the services' route."""
    for doc in yaml.safe_load_all((OVERLAY / "toxiproxy.yaml").read_text()):
        if doc and doc.get("kind") == "ConfigMap" and doc["metadata"]["name"] == "toxiproxy-config":
            return str(json.loads(doc["data"]["proxies.json"])[0]["name"])
    raise LookupError(f"{OVERLAY / 'toxiproxy.yaml'}: no ConfigMap toxiproxy-config")


@contextmanager
def proxy_down(client: Toxiproxy, proxy: str) -> Iterator[None]:
    """Disable ``proxy`` for the block; afterwards enable it and prove by listing that it is enabled."""
    client.set_enabled(proxy, False)
    try:
        yield
    finally:
        client.set_enabled(proxy, True)
        if not client.proxies()[proxy].enabled:
            raise ToxiproxyError(200, f"proxy {proxy} still disabled after enabling it")


def leftovers(client: Toxiproxy) -> list[str]:
    """Anything a fault left behind on the server, as problem sentences: toxics still listed, proxies still down."""
    found = []
    for name, proxy in client.proxies().items():
        found += [f"toxic {t.name} ({t.type}) left on proxy {name}" for t in client.toxics(name)]
        if not proxy.enabled:
            found.append(f"proxy {name} left disabled")
    return found


def visible_after() -> float:
    """Longest a dependency fault (or its end) takes to show in /ready: the cache's age plus one timed-out check."""
    return READINESS_CACHE_SECONDS + PROBE_CONNECT_TIMEOUT_SECONDS + PROBE_READ_TIMEOUT_SECONDS


def unready_bound(readiness: Probe) -> float:
    """Latest NotReady after the fault: the fault visible, then failureThreshold failed probes."""
    return readiness.detection_bound(visible_after(), from_start=False)


def ready_bound(readiness: Probe) -> float:
    """Latest Ready again after the fault is removed: the stale failure gone, then successThreshold passing probes."""
    return readiness.period * readiness.success_threshold + readiness.timeout + visible_after()


@dataclass(frozen=True)
class ReadinessTrip:
    """One pod's NotReady → Ready across an outage: NotReady seconds after the injection, Ready again seconds after
    the removal (API times: whole seconds), each against its bound with the verdict's DETECTION_TOLERANCE_SECONDS."""

    app: str
    unready: float | None
    unready_bound: float
    ready_again: float | None
    ready_bound: float

    @classmethod
    def measure(
        cls, app: str, readiness: Probe, went: float | None, back: float | None, injected: float, removed: float
    ) -> ReadinessTrip:
        unready = None if went is None else round(went - injected, 1)
        again = None if back is None else round(back - removed, 1)
        return cls(app, unready, unready_bound(readiness), again, ready_bound(readiness))

    def problems(self) -> list[str]:
        found = []
        if self.unready is None or self.unready >= self.unready_bound + DETECTION_TOLERANCE_SECONDS:
            found.append(f"{self.app}: NotReady {self.unready} s after the fault, bound {self.unready_bound:g} s")
        if self.ready_again is None or self.ready_again >= self.ready_bound + DETECTION_TOLERANCE_SECONDS:
            found.append(f"{self.app}: Ready {self.ready_again} s after the removal, bound {self.ready_bound:g} s")
        return found

    def __str__(self) -> str:
        return (
            f"{self.app}: NotReady +{self.unready} s (bound {self.unready_bound:g}), Ready +{self.ready_again} s "
            f"after removal (bound {self.ready_bound:g})"
        )


def consume_delays(ledger: Ledger, created_from: float, consumed_by: float) -> list[float]:
    """Publish→consume delays (the consumer's own ``latency_seconds``) of the producer's messages created at or after
    ``created_from`` and first consumed by ``consumed_by``, sorted. Only the producer logs ``msg_ts`` (its body's
    creation time), so the test's bursts, published in batches, stay out of the comparison."""
    delays = []
    for msg_id, event in ledger.first_consumed.items():
        created = ledger.published.get(msg_id, {}).get("msg_ts")
        delay, when = event.get("latency_seconds"), event.get("_t")
        if created is None or delay is None or when is None:
            continue
        if created >= created_from and when <= consumed_by:
            delays.append(float(delay))
    return sorted(delays)


def hold_for(
    outage: Outage, liveness: dict[str, Probe], readiness: dict[str, Probe], max_age: dict[str, float]
) -> float:
    """How long an outage is kept, from its injection: a hung socket for the liveness bound plus the heartbeat's max
    age (by then a stalled heartbeat would have restarted a pod), any other for longer than `unready_bound`."""
    if outage.hung:
        longest = max(probe.detection_bound(max_age[app], from_start=False) for app, probe in liveness.items())
    else:
        longest = max(unready_bound(probe) for probe in readiness.values())
    return longest + DETECTION_TOLERANCE_SECONDS


def pod_states(kube: Kube, apps: Iterable[str]) -> dict[str, tuple[str, bool, int]]:
    """Per app: its one live pod, whether it is Ready, its restartCount (what a fault must or must not change)."""
    states = {}
    for app in apps:
        pod = kube.pod(app)
        restarts = int(container_status(pod, app).get("restartCount", 0))
        states[app] = (pod["metadata"]["name"], ready_since(pod) is not None, restarts)
    return states


def not_ready_since(pod: dict) -> float | None:
    """When the pod last turned NotReady, or None while it is Ready (whole seconds, like every API time)."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "False":
            return parse_time(cond.get("lastTransitionTime"))
    return None


def logged(texts: Iterable[str], kinds: Iterable[str], start: float, end: float) -> list[dict]:
    """Application events of ``kinds`` (e.g. ``publish_retry``) logged in [start, end], from the pods' log texts."""
    wanted = set(kinds)
    return [
        e
        for text in texts
        for e in parse_events(text)
        if e["event"] in wanted and e["_t"] is not None and start <= e["_t"] <= end
    ]


def copies_since(ledger: Ledger, since: float) -> int:
    """Deliveries at or after ``since`` of messages already consumed before (duplicates this window added)."""
    return sum(
        1 for events in ledger.deliveries.values() for e in events[1:] if e.get("_t") is not None and e["_t"] >= since
    )


def median(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    return round(statistics.median(ordered), 3) if ordered else None
