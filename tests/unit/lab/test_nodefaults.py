"""The node faults' pure parts: live settings parsed, bound windows, the kind config, and a cut-off pod's log from
its node's CRI file merged into the followed logs without counting a message twice."""

import json
from pathlib import Path

import pytest
import yaml

from lab.logfollow import LogFollower
from lab.multinode import MULTINODE, KindNodes, kind_config
from lab.nodefaults import NodeSettings, evicted_at, flag, go_duration, outside
from lab.nodelogs import cri_lines, missing_lines, rescue
from lab.providers import LabKindManager, LabMinikubeManager

SETTINGS = NodeSettings(grace=50, monitor_period=5, heartbeat=10, toleration=10)


@pytest.mark.parametrize(("text", "seconds"), [("50s", 50), ("1m0s", 60), ("500ms", 0.5), ("1h2m3s", 3723)])
def test_go_durations_parse_to_seconds(text, seconds):
    assert go_duration(text) == seconds


@pytest.mark.parametrize("text", ["50", "s", "5 s", "1x"])
def test_a_value_that_is_no_go_duration_is_refused(text):
    with pytest.raises(ValueError):
        go_duration(text)


def test_flags_are_read_in_both_spellings_and_missing_ones_are_none():
    command = ["kube-controller-manager", "--node-monitor-grace-period=20s", "--node-monitor-period", "2s"]
    assert flag(command, "node-monitor-grace-period") == "20s"
    assert flag(command, "node-monitor-period") == "2s"
    assert flag(command, "pod-eviction-timeout") is None


def test_notready_window_spans_one_heartbeat_before_to_two_monitor_periods_after():
    assert SETTINGS.notready_window(stop_took=3) == (40, 63)
    assert SETTINGS.eviction_window() == (10, 10)


def test_outside_allows_the_verdict_tolerance_and_names_a_miss():
    assert outside("x", 41.9, (40, 63)) == []
    assert outside("x", 38.5, (40, 63)) == []  # within the 2 s tolerance below
    assert outside("x", 65.5, (40, 63)) == ["x: 65.5 s, outside [40, 63] s ± 2 s"]
    assert outside("x", None, (40, 63)) == ["x: not observed"]


def test_eviction_time_is_the_deletion_stamp_less_the_grace_given():
    pod = {"metadata": {"deletionTimestamp": "2026-12-04T19:00:30Z", "deletionGracePeriodSeconds": 30}}
    assert evicted_at(pod) == evicted_at({"metadata": {"deletionTimestamp": "2026-12-04T19:00:00Z"}})
    assert evicted_at({"metadata": {}}) is None


def test_kind_config_has_one_control_plane_and_two_workers_on_the_e2e_node_image():
    config = kind_config("lab-nodes", "v1.34.12")
    assert config["name"] == "lab-nodes"
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in config["nodes"]} == {"kindest/node:v1.34.12"}


def test_only_kind_is_known_to_make_a_multi_node_cluster():
    assert MULTINODE[LabKindManager] is KindNodes
    assert LabMinikubeManager not in MULTINODE


def consumed(stamp: str, msg_id: str) -> str:
    return json.dumps({"ts": float(stamp), "event": "consumed", "id": msg_id})


CRI = (
    f"2026-12-04T19:00:01.5Z stdout F {consumed('1.5', 'a')}\n"
    f"2026-12-04T19:00:02.25Z stdout P {consumed('2.25', 'b')[:10]}\n"
    f"2026-12-04T19:00:02.26Z stdout F {consumed('2.25', 'b')[10:]}\n"
    '2026-12-04T19:00:03Z stderr F 10.0.0.1 - - [x] "GET /health HTTP/1.1" 200 -\n'
    "2026-12-04T19:00:04Z stdout"  # cut off mid-write
)


def test_cri_lines_become_kubectl_timestamped_lines_with_partials_joined():
    assert cri_lines(CRI) == [
        f"2026-12-04T19:00:01.5Z {consumed('1.5', 'a')}",
        f"2026-12-04T19:00:02.25Z {consumed('2.25', 'b')}",
        '2026-12-04T19:00:03Z 10.0.0.1 - - [x] "GET /health HTTP/1.1" 200 -',
    ]


def test_lines_the_follower_has_are_matched_by_stamp_and_text_not_spelling():
    node = cri_lines(CRI)
    followed = [f"2026-12-04T19:00:01.500000000Z {consumed('1.5', 'a')}"]  # the same instant, spelled longer
    assert missing_lines(node, followed) == node[1:]


def test_rescued_lines_join_the_ledger_once(tmp_path: Path):
    """The follower had message a; the node's file adds b; rescued twice, b is still counted once."""
    logs = LogFollower(None, tmp_path)  # type: ignore[arg-type]  # only the folder is used
    (tmp_path / "consumer-x.0.log").write_text(f"2026-12-04T19:00:01.5Z {consumed('1.5', 'a')}\n")
    assert rescue(logs, "consumer-x", {0: CRI}) == 2  # b and the access line
    assert rescue(logs, "consumer-x", {0: CRI}) == 2
    ledger = logs.ledger()
    assert dict(ledger.consumed) == {"a": 1, "b": 1}
    assert {e["_source"] for e in ledger.deliveries["b"]} == {"consumer-x"}


def test_without_the_node_copy_the_cut_off_consumers_message_is_missing(tmp_path: Path):
    """The premise: the follower alone does not know b, so a ledger would call it lost once it is published."""
    logs = LogFollower(None, tmp_path)  # type: ignore[arg-type]
    (tmp_path / "consumer-x.0.log").write_text(f"2026-12-04T19:00:01.5Z {consumed('1.5', 'a')}\n")
    assert "b" not in logs.ledger().consumed


def test_docs_state_the_defaults_and_the_windows_the_faults_use():
    """docs/nodes.md's settings table gives the defaults of `lab.nodefaults` and deploy/nodes' eviction delay."""
    from lab.nodefaults import DEFAULT_GRACE_PERIOD, DEFAULT_LEASE_SECONDS, DEFAULT_MONITOR_PERIOD, LEASE_RENEW_FRACTION
    from lab.nodes import NODE_TAINTS, OVERLAY_DIR, eviction_delay

    text = " ".join((Path(__file__).resolve().parents[3] / "docs" / "nodes.md").read_text().split())
    patch = yaml.safe_load((OVERLAY_DIR / "patch-consumer.yaml").read_text())  # the overlay's own, no kubectl here
    delay = eviction_delay(patch["spec"]["template"]["spec"], NODE_TAINTS[1])
    assert f"else the 1.34 default | {DEFAULT_GRACE_PERIOD:g} s (default) |" in text
    assert f"`--node-monitor-period`, else the default | {DEFAULT_MONITOR_PERIOD:g} s (default) |" in text
    assert (
        f"× {LEASE_RENEW_FRACTION:g} (the Lease renewal) | {DEFAULT_LEASE_SECONDS * LEASE_RENEW_FRACTION:g} s |" in text
    )
    assert f"| {delay:g} s (deploy/nodes) |" in text
    assert "grace − heartbeat" in text and "stop + grace + 2 × period" in text  # `NodeSettings.notready_window`
