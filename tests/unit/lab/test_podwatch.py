"""Restart → Ready from a pod watch: which updates mark the restart and the Ready again."""

from __future__ import annotations

from lab.podwatch import parse_update, restart_to_ready

STARTED = "2026-11-30T01:40:12Z"


def updates(*lines: tuple[float, str]):
    return [u for u in (parse_update(line, at) for at, line in lines) if u is not None]


def test_parse_update_reads_count_start_and_ready():
    update = parse_update(f"2|{STARTED}|True|2026-11-30T01:40:14Z\n", 100.0)
    assert update is not None
    assert (update.restarts, update.ready) == (2, True)
    assert update.ready_since is not None and update.started_at is not None
    assert update.ready_since - update.started_at == 2.0


def test_parse_update_skips_lines_without_a_container_status():
    assert parse_update("||False|2026-11-30T01:40:14Z", 1.0) is None
    assert parse_update("garbage", 1.0) is None


def test_restart_to_ready_is_timed_from_the_new_container_to_ready():
    seen = updates(
        (10.0, f"0|{STARTED}|True|{STARTED}"),  # before the kill
        (11.0, "0||False|2026-11-30T01:40:20Z"),  # terminated, NotReady
        (12.5, "1|2026-11-30T01:40:21Z|False|2026-11-30T01:40:20Z"),  # new container running
        (14.25, "1|2026-11-30T01:40:21Z|True|2026-11-30T01:40:23Z"),  # Ready
    )
    result = restart_to_ready(seen, restarts_before=0)
    assert result is not None
    assert result.seconds == 1.75
    assert result.api_seconds == 2.0


def test_restart_to_ready_is_none_until_both_ends_are_seen():
    seen = updates((10.0, f"0|{STARTED}|True|{STARTED}"), (12.5, "1|2026-11-30T01:40:21Z|False|x"))
    assert restart_to_ready(seen, restarts_before=0) is None
    # Ready of the old container does not count as Ready of the new one
    assert restart_to_ready(updates((10.0, f"0|{STARTED}|True|{STARTED}")), restarts_before=0) is None
