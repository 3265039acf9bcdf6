"""The network faults' sizes, bounds, removal proofs and measurements (lab/netfaults.py), without a cluster."""

import contextlib
import json

import pytest
import yaml

from consumer.config import ConsumerConfig
from lab.ledger import Ledger
from lab.netfaults import (
    BANDWIDTH_KB_PER_S,
    DEGRADATIONS,
    JITTER_MS,
    LATENCY_MS,
    OUTAGES,
    ReadinessTrip,
    configured_proxy,
    consume_delays,
    copies_since,
    hold_for,
    leftovers,
    logged,
    median,
    not_ready_since,
    proxy_down,
    ready_bound,
    unready_bound,
    visible_after,
)
from lab.offline import REPO
from lab.probes import Probe
from lab.proxyroute import OVERLAY, service_port
from lab.toxiproxy import Proxy, Toxic, ToxiproxyError
from lab.verdict import DETECTION_TOLERANCE_SECONDS
from shared.policy import PROBE_CONNECT_TIMEOUT_SECONDS, PROBE_READ_TIMEOUT_SECONDS, SHORT_READ_TIMEOUT_SECONDS
from shared.server import READINESS_CACHE_SECONDS

READINESS = Probe(initial_delay=0, period=1, timeout=4, failure_threshold=3)
LIVENESS = Probe(initial_delay=5, period=5, timeout=2, failure_threshold=3)


class FakeToxiproxy:
    """Proxies and toxics in memory; ``stuck`` keeps a proxy disabled whatever is asked."""

    def __init__(self, stuck: bool = False) -> None:
        self.enabled = {"localstack": True}
        self.listed: dict[str, list[Toxic]] = {"localstack": []}
        self.stuck = stuck
        self.calls: list[tuple[str, bool]] = []

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.calls.append((name, enabled))
        self.enabled[name] = enabled and not self.stuck

    def proxies(self) -> dict[str, Proxy]:
        return {n: Proxy(n, "0.0.0.0:4566", "localstack:4566", e) for n, e in self.enabled.items()}

    def toxics(self, name: str) -> list[Toxic]:
        return self.listed[name]


def test_latency_and_jitter_stay_under_half_the_tightest_read_timeout():
    tightest = min(PROBE_READ_TIMEOUT_SECONDS, SHORT_READ_TIMEOUT_SECONDS, ConsumerConfig().read_timeout)
    assert tightest / 2 >= (LATENCY_MS + JITTER_MS) / 1000
    latency = next(d for d in DEGRADATIONS if d.toxic.type == "latency")
    assert latency.floor == pytest.approx((LATENCY_MS - JITTER_MS) / 1000) and latency.floor > 0
    assert [o.name for o in OUTAGES if o.hung] == ["timeout"]


def test_the_proxy_is_the_one_the_overlay_creates_on_the_services_port():
    doc = next(d for d in yaml.safe_load_all((OVERLAY / "toxiproxy.yaml").read_text()) if d["kind"] == "ConfigMap")
    proxy = json.loads(doc["data"]["proxies.json"])[0]
    assert configured_proxy() == proxy["name"]
    assert int(proxy["listen"].rsplit(":", 1)[1]) == service_port("toxiproxy", "aws")


def test_readiness_bounds_add_the_cache_and_one_timed_out_check_to_the_probe():
    assert visible_after() == READINESS_CACHE_SECONDS + PROBE_CONNECT_TIMEOUT_SECONDS + PROBE_READ_TIMEOUT_SECONDS
    assert unready_bound(READINESS) == 1 * 3 + 4 + visible_after()
    assert ready_bound(READINESS) == 1 * 1 + 4 + visible_after()


def test_a_hung_socket_is_held_past_the_heartbeat_restart_bound_the_rest_past_the_readiness_bound():
    hung, down = next(o for o in OUTAGES if o.hung), next(o for o in OUTAGES if o.toxic is None)
    probes = {"producer": LIVENESS, "consumer": LIVENESS}
    ready, ages = {"producer": READINESS, "consumer": READINESS}, {"producer": 30.0, "consumer": 45.0}
    assert hold_for(hung, probes, ready, ages) == 5 * 3 + 2 + 45 + DETECTION_TOLERANCE_SECONDS
    assert hold_for(down, probes, ready, ages) == unready_bound(READINESS) + DETECTION_TOLERANCE_SECONDS


def test_readiness_trip_within_its_bounds_has_no_problem_and_late_or_missing_ones_do():
    ok = ReadinessTrip.measure("consumer", READINESS, went=105.0, back=203.0, injected=100.0, removed=200.0)
    assert (ok.unready, ok.ready_again, ok.problems()) == (5.0, 3.0, [])
    late = ReadinessTrip.measure("consumer", READINESS, 100.0 + unready_bound(READINESS) + 2, None, 100.0, 200.0)
    assert len(late.problems()) == 2 and "NotReady" in late.problems()[0] and "None" in late.problems()[1]


def test_proxy_down_enables_again_even_on_failure_and_proves_it():
    client = FakeToxiproxy()
    with pytest.raises(RuntimeError, match="inside"), proxy_down(client, "localstack"):
        assert client.enabled["localstack"] is False
        raise RuntimeError("inside")
    assert client.calls == [("localstack", False), ("localstack", True)] and leftovers(client) == []
    with pytest.raises(ToxiproxyError, match="still disabled"), proxy_down(FakeToxiproxy(stuck=True), "localstack"):
        pass


def test_leftovers_names_toxics_and_disabled_proxies():
    client = FakeToxiproxy()
    client.listed["localstack"].append(Toxic("slow", "latency"))
    client.enabled["localstack"] = False
    assert leftovers(client) == ["toxic slow (latency) left on proxy localstack", "proxy localstack left disabled"]


def test_consume_delays_time_the_producers_messages_created_and_consumed_inside_the_window():
    ledger = Ledger().add_events(
        [
            {"event": "published", "id": "early", "msg_ts": 9.0, "_t": 9.1},
            {"event": "published", "id": "in", "msg_ts": 10.5, "_t": 10.6},
            {"event": "published", "id": "late", "msg_ts": 11.0, "_t": 11.1},
            {"event": "published", "id": "burst", "_t": 10.2},  # the test's own: no msg_ts
            {"event": "consumed", "id": "early", "latency_seconds": 1.0, "_t": 10.0},
            {"event": "consumed", "id": "in", "latency_seconds": 0.4, "_t": 10.9},
            {"event": "consumed", "id": "late", "latency_seconds": 1.5, "_t": 12.5},
            {"event": "consumed", "id": "burst", "latency_seconds": 0.1, "_t": 10.3},
        ]
    )
    assert consume_delays(ledger, created_from=10.0, consumed_by=12.0) == [0.4]
    assert median([0.3, 0.1, 0.2]) == 0.2 and median([]) is None


def test_not_ready_since_reads_the_false_ready_condition():
    unready = {
        "status": {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "1970-01-01T00:01:40Z"}]}
    }
    assert not_ready_since(unready) == 100.0
    assert not_ready_since({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}) is None


def test_logged_keeps_the_kinds_asked_for_inside_the_window():
    text = "\n".join(
        json.dumps({"ts": ts, "event": kind})
        for ts, kind in [(1.0, "publish_retry"), (2.0, "publish_retry"), (2.5, "published"), (4.0, "consume_retry")]
    )
    assert [(e["event"], e["_t"]) for e in logged([text], ("publish_retry", "consume_retry"), 1.5, 3.0)] == [
        ("publish_retry", 2.0)
    ]


def test_an_outage_with_a_toxic_uses_the_clients_removal_proof_and_down_disables_the_proxy():
    used = []

    class Client(FakeToxiproxy):
        @contextlib.contextmanager
        def toxic(self, proxy, toxic):
            used.append((proxy, toxic.type))
            yield toxic

    client = Client()
    for outage in OUTAGES:
        with outage.injected(client, "localstack"):
            pass
    assert used == [("localstack", "timeout"), ("localstack", "reset_peer")]
    assert client.calls == [("localstack", False), ("localstack", True)]


def test_the_doc_states_these_sizes_and_the_bounds_of_the_lab_manifests():
    page = (REPO / "docs" / "faults-network-aws.md").read_text().split("## Measured on kind: network faults")[1]
    bounds = set()
    for app in ("producer", "consumer"):
        doc = yaml.safe_load((REPO / "candidate-project" / "kubernetes" / f"{app}.yaml").read_text())
        probe = Probe.from_pod_template(doc["spec"]["template"]["spec"], app, "readinessProbe")
        bounds.add((unready_bound(probe), ready_bound(probe)))
    ((unready, ready),) = bounds  # both services share the readiness settings the doc quotes
    slicer = next(d.toxic.attributes for d in DEGRADATIONS if d.toxic.type == "slicer")
    for text in (
        f"latency {LATENCY_MS} ms ± {JITTER_MS} ms jitter",
        f"bandwidth {BANDWIDTH_KB_PER_S} KB/s",
        f"slicer {slicer['average_size']} ± {slicer['size_variation']}-byte pieces {slicer['delay'] // 1000} ms apart",
        f"= {unready:g} s",
        f"= {ready:g} s",
    ):
        assert text in page, f"docs/faults-network-aws.md no longer states {text!r}"


def test_copies_since_counts_only_repeat_deliveries_inside_the_window():
    ledger = Ledger().add_events(
        [
            {"event": "consumed", "id": "a", "_t": 1.0},
            {"event": "consumed", "id": "a", "_t": 5.0},
            {"event": "consumed", "id": "b", "_t": 2.0},
            {"event": "consumed", "id": "b", "_t": 3.0},
            {"event": "consumed", "id": "c", "_t": 6.0},
        ]
    )
    assert copies_since(ledger, 4.0) == 1 and copies_since(ledger, 0.0) == 2
