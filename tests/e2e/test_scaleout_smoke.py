"""Smoke run of the scale-out benchmark's plumbing on the suite's cluster: a small backlog drained by 1 and 2 consumers
and by the raw in-cluster loop, every id accounted for in the consumers' logs.

No speed is asserted (issue 11: speed is measured by ``tox -e bench -- scaleout``, never as a timed test). What this
proves is what the benchmark's figures rest on: the queue filled directly is what the consumers drain, their logs
name every id, the cgroup CPU counters read from inside real pods, and the raw loop runs in a one-off pod.
"""

from __future__ import annotations

from bench import scaleout, scaleout_report
from bench.scaleout_runs import ceiling, drain, quiet
from lab import backlog

MESSAGES = 200  # small: the module must stay cheap in CI; the figures come from the benchmark's 10,000


def test_small_backlog_drained_by_one_and_two_consumers_and_the_raw_loop(deployed_lab, aws, cluster, kubectl):
    nodes = backlog.node_fit(kubectl.json("get", "nodes"), kubectl.json("get", "pods", "-A"))
    config = scaleout.config_of(deployed_lab, aws, cluster, nodes)
    assert (config["batch_size"], config["receive_wait_s"]) == (10, 10)  # the manifest's, read from the live object
    quiet(deployed_lab, aws, config)
    args = scaleout.parse_args(["--messages", str(MESSAGES), "--consumers", "1,2", "--ceiling-threads", "2"])
    runs = [drain(deployed_lab, aws, k, config, args, print) for k in args.consumer_counts]
    for k, run in zip(args.consumer_counts, runs, strict=True):
        assert (run["ledger"]["lost"], run["ledger"]["consumed"]) == (0, MESSAGES)
        assert sum(run["drain"]["per_pod"].values()) == MESSAGES + run["ledger"]["duplicates"]
        assert len(run["placement"]) == k and all(run["placement"].values())
        assert run["drain"]["time_to_empty_s"] >= run["drain"]["first_consumed_after_s"] > 0
        assert 1 <= run["drain"]["messages_per_receive"] <= config["batch_size"]
        assert run["cpu"]["machine_cores"] > 0 and len(run["cpu"]["consumers"]) == k
    (raw,) = [ceiling(deployed_lab, aws, threads, args) for threads in args.threads]
    assert (raw["messages"], raw["threads"]) == (MESSAGES, 2) and aws.in_flight() == 0
    result = {"environment": {"machine": {"cores": 2}}, "config": config, "runs": runs, "ceiling": [raw]}
    assert len(scaleout_report.limits(result)) == 2 and "| 2 | 200 |" in scaleout_report.table(result)
