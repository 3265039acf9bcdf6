"""docs/scaleout.md states the scale-out figures: its block, plot and claims must be the recorded results' own.

The block between the markers is what `bench.scaleout_report.generated` makes of docs/scaleout.json; the prose
below it names limits and ratios, each checked here against the same file, so a re-measurement that changes the
picture fails this test until the prose is rewritten.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import scaleout, scaleout_report

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def result() -> dict:
    return json.loads((DOCS / "scaleout.json").read_text())


@pytest.fixture(scope="module")
def page() -> str:
    return (DOCS / "scaleout.md").read_text()


def test_block_is_generated_from_the_recorded_results(result, page):
    assert scaleout_report.generated(result) in page


def test_plot_is_there_and_a_png(page):
    assert "](images/scaleout.png)" in page
    assert (DOCS / "images" / "scaleout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_recorded_run_is_the_default_one_and_lost_nothing(result):
    assert result["messages"] == 10_000
    assert [r["drain"]["consumers"] for r in result["runs"]] == [1, 2, 4]
    for run in result["runs"]:
        assert run["ledger"]["lost"] == 0 and run["ledger"]["consumed"] == result["messages"]


def by_k(result) -> dict[int, dict]:
    return {r["drain"]["consumers"]: r for r in result["runs"]}


def ceilings(result) -> dict[int, dict]:
    return {c["threads"]: c for c in result["ceiling"]}


def test_claim_the_machine_is_the_limit_and_more_consumers_do_not_help(result, page):
    cores = result["environment"]["machine"]["cores"]
    runs = by_k(result)
    assert all(r["cpu"]["machine_cores"] >= 1.93 and r["cpu"]["machine_cores"] <= cores for r in runs.values())
    assert "busy at ≥ 1.93 of its 2 cores" in page and cores == 2
    one, two, four = (runs[k]["drain"] for k in (1, 2, 4))
    assert abs(two["rate_per_s"] / one["rate_per_s"] - 1) < 0.05 and four["rate_per_s"] < one["rate_per_s"]
    assert f"({two['rate_per_s']} vs {one['rate_per_s']} msg/s)" in page and f"({four['rate_per_s']} msg/s)" in page
    starts = " → ".join(f"{d['first_consumed_after_s']:.1f} s" for d in (one, two, four))
    assert f"(first message {starts} after the scale command)" in page.replace("\n", " ")
    assert one["first_consumed_after_s"] < two["first_consumed_after_s"] < four["first_consumed_after_s"]


def test_claim_not_the_emulator_nor_the_consumers_cpu_limit(result, page):
    runs = by_k(result).values()
    ls = [r["cpu"]["localstack_cores"] for r in runs]
    assert f"LocalStack used {min(ls):.2f}–{max(ls):.2f} cores of its 1-core limit" in page
    assert max(ls) < 0.5 * result["config"]["localstack_cpu_limit_m"] / 1000
    assert all(r["cpu"]["localstack_throttled_share"] == 0 for r in runs)
    used = [r["cpu"]["consumer_cores"] for r in runs]
    assert f"consumers together used {min(used):.2f}–{max(used):.2f} cores" in page
    assert all(c["throttled_share"] == 0 for r in runs for c in r["cpu"]["consumers"].values())
    assert result["config"]["consumer_cpu_limit_m"] == 500


def test_claim_the_raw_ceiling_and_the_share_one_consumer_reaches(result, page):
    raw = ceilings(result)
    assert raw[1]["rate_per_s"] > raw[4]["rate_per_s"]
    assert f"{raw[1]['rate_per_s']} msg/s on 1 thread and {raw[4]['rate_per_s']} msg/s on 4 threads" in page
    ls = sorted(c["localstack_cores"] for c in raw.values())
    assert f"LocalStack at {ls[0]:.2f}–{ls[-1]:.2f} cores" in page
    share = by_k(result)[1]["drain"]["rate_per_s"] / raw[1]["rate_per_s"]
    assert f"one consumer reaches {share * 100:.0f} % of it" in page
    assert all(c["messages"] == result["messages"] for c in raw.values())


def test_claim_full_batches_and_the_long_poll_setting(result, page):
    assert all(r["drain"]["messages_per_receive"] == result["config"]["batch_size"] == 10 for r in result["runs"])
    assert result["config"]["receive_wait_s"] == 10 and "(`RECEIVE_WAIT_SECONDS` 10)" in page


def test_claim_where_the_rest_went_and_no_duplicates(result, page):
    runs = result["runs"]
    known = [r["cpu"]["localstack_cores"] + r["cpu"]["consumer_cores"] for r in runs]
    busy = [r["cpu"]["machine_cores"] for r in runs]
    assert f"account for {min(known):.2f}–{max(known):.2f} of\n  the {min(busy):.2f}–{max(busy):.2f} busy cores" in page
    assert all(r["ledger"]["duplicates"] == 0 for r in runs) and result["config"]["visibility_timeout_s"] == 30
    assert f"load average {result['environment']['machine']['load_avg_1m_at_start']} at the start" in page


def test_claim_all_four_fit_on_the_one_node(result, page):
    runs = by_k(result)
    assert [n["allocatable_m"] for n in result["config"]["nodes"]] == [2000] and "1 node(s)" in result["config"][
        "cluster"
    ]
    requested = [runs[k]["node_fit"][0]["requested_m"] for k in (1, 2, 4)]
    assert f"{requested[0]}m with 1 consumer, {requested[1]}m with 2 and {requested[2]}m with 4" in page
    assert len(set(runs[4]["placement"].values())) == 1 and len(runs[4]["placement"]) == 4


def test_method_constants_are_the_codes(page):
    text = page.replace("\n", " ")
    assert scaleout_report.SATURATED == 0.85 and "used at ≥ 85 % of its capacity" in text
    assert scaleout_report.THROTTLED == 0.25 and "throttled in ≥ 25 % of its CFS periods" in text
    assert "fewer than 85 % of the batch size" in text
    args = scaleout.parse_args([])
    assert (args.min_rate, args.threads, args.messages) == (10.0, [4], 10_000)
    assert "(10 msg/s) for a drain" in text and "(default 4;" in text
