"""Restart → Ready from a pod watch: which updates mark the restart and the Ready again."""

from __future__ import annotations

import json

from lab.podwatch import parse_update, restart_to_ready, split_objects


def pod(restarts: int, started: str | None, ready: bool, since: str) -> dict:
    state = {"running": {"startedAt": started}} if started else {"waiting": {"reason": "ContainerCreating"}}
    return {
        "kind": "Pod",
        "metadata": {"labels": {"app": "app"}},
        "status": {
            "containerStatuses": [{"name": "app", "restartCount": restarts, "state": state}],
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": since},
            ],
        },
    }


def updates(*seen: tuple[float, dict]):
    return [u for u in (parse_update(obj, at) for at, obj in seen) if u is not None]


def test_parse_update_reads_count_start_and_ready():
    update = parse_update(pod(2, "2026-11-30T01:40:12Z", True, "2026-11-30T01:40:14Z"), 100.0)
    assert update is not None
    assert (update.restarts, update.ready, update.at) == (2, True, 100.0)
    assert update.ready_since is not None and update.started_at is not None
    assert update.ready_since - update.started_at == 2.0


def test_parse_update_skips_a_pod_without_container_status():
    assert parse_update({"kind": "Pod", "status": {"phase": "Pending"}}, 1.0) is None


def test_split_objects_reads_kubectls_pretty_printed_stream():
    first, second = pod(0, "2026-11-30T01:40:12Z", True, "x"), pod(1, None, False, "y")
    stream = json.dumps(first, indent=4) + "\n" + json.dumps(second, indent=4) + "\n"
    objects, rest = split_objects(stream[:-20])
    assert objects == [first] and rest  # the second object is still incomplete
    objects, rest = split_objects(stream)
    assert objects == [first, second] and rest == ""


def test_restart_to_ready_is_timed_from_the_new_container_to_ready():
    seen = updates(
        (10.0, pod(0, "2026-11-30T01:40:12Z", True, "2026-11-30T01:40:12Z")),  # before the kill
        (11.0, pod(0, None, False, "2026-11-30T01:40:20Z")),  # terminated, NotReady
        (12.5, pod(1, "2026-11-30T01:40:21Z", False, "2026-11-30T01:40:20Z")),  # new container running
        (14.25, pod(1, "2026-11-30T01:40:21Z", True, "2026-11-30T01:40:23Z")),  # Ready
    )
    result = restart_to_ready(seen, restarts_before=0)
    assert result is not None
    assert result.seconds == 1.75
    assert result.api_seconds == 2.0


def test_restart_to_ready_is_none_until_both_ends_are_seen():
    ready_before = (10.0, pod(0, "2026-11-30T01:40:12Z", True, "2026-11-30T01:40:12Z"))
    seen = updates(ready_before, (12.5, pod(1, "2026-11-30T01:40:21Z", False, "x")))
    assert restart_to_ready(seen, restarts_before=0) is None
    # Ready of the old container does not count as Ready of the new one
    assert restart_to_ready(updates(ready_before), restarts_before=0) is None


def test_parse_update_times_the_apps_container_not_a_sidecar_listed_first():
    """The container is looked up by name (`lab.kube.container_status`), not taken as the first status."""
    obj = pod(2, "2026-11-30T01:40:12Z", True, "2026-11-30T01:40:14Z")
    obj["status"]["containerStatuses"].insert(0, {"name": "sidecar", "restartCount": 7, "state": {}})
    update = parse_update(obj, 100.0)
    assert update is not None and update.restarts == 2
    assert parse_update(obj, 100.0, container="sidecar").restarts == 7
    assert parse_update(obj, 100.0, container="missing") is None
