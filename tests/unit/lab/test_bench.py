"""The benchmark's arithmetic: a wrong percentile or rate would put false numbers into the docs."""

import json

import pytest

from bench.__main__ import parse_args
from bench.measure import percentiles, rate
from bench.results import markdown


def test_percentiles_inclusive_on_a_known_sample():
    stats = percentiles([float(i) for i in range(1, 101)])
    assert stats == {"n": 100, "p50": 50.5, "p99": 99.01, "max": 100.0}


def test_percentiles_need_two_samples():
    assert percentiles([1.0])["p99"] is None


def test_rate_excludes_startup_and_sums_rounds():
    # Round 1: 11 messages over 1 s (10 intervals); round 2: 6 messages over 0.5 s (5 intervals) -> 15 / 1.5.
    rounds = [[100.0 + i * 0.1 for i in range(11)], [200.0 + i * 0.1 for i in range(6)]]
    assert rate(rounds) == 10.0
    assert rate([[5.0]]) is None


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["--batch", "1"])
    assert exc.value.code == 2
    assert "--batch must be at least 2" in capsys.readouterr().err


def test_markdown_states_machine_versions_and_goals():
    result = {
        "environment": {
            "date": "2026-11-28T05:00:00+00:00",
            "machine": {"cpu": "Xeon", "cores": 2, "memory_gib": 23.5, "load_avg_1m_at_start": 0.5},
            "python": "3.11.7",
            "versions": {"boto3": "1.44.8", "moto": "5.2.5"},
            "commit": "abc1234",
        },
        "throughput": {
            "raw": {"rate_per_s": 300.0, "messages": 500},
            "app": {"rate_per_s": 270.0, "messages": 500},
            "ratio": 0.9,
        },
        "latency": {"seconds": {"n": 200, "p50": 0.012, "p99": 0.05, "max": 0.06}, "publish_interval": 0.05},
        "health": {
            "idle": {"seconds": {"n": 1600, "p50": 0.001, "p99": 0.004, "max": 0.01}, "workers": 8, "errors": 0},
            "busy": {"seconds": {"n": 1600, "p50": 0.002, "p99": 0.008, "max": 0.02}, "workers": 8, "errors": 0},
            "busy_single_client": {
                "seconds": {"n": 200, "p50": 0.001, "p99": 0.002, "max": 0.003},
                "workers": 1,
                "errors": 0,
            },
            "consumed_during_busy": 150,
        },
        "start_to_ready": {"consumer": {"seconds": [1.0, 1.2, 1.1], "median": 1.1}},
    }
    text = markdown(result)
    json.dumps(result)
    assert "Xeon · 2 cores" in text and "moto 5.2.5" in text
    assert "| consumer / raw ratio | 0.9 | ≥ 0.8 |" in text
    assert (
        "| /health p50 / p99, busy worker, 8 concurrent client(s) | 2.0 / 8.0 ms (n=1600, 0 errors) | p99 < 10 ms |"
        in text
    )
    assert "| messages consumed during the busy runs | 150 | |" in text
    assert "1100.0 ms" in text
