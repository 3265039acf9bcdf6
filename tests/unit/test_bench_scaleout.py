"""The scale-out benchmark's pieces without a cluster: the backlog the consumer must accept, the CPU counters, the
raw ceiling loop, and the arithmetic, table, limits and plot that docs/scaleout.md is made of."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from bench import rawdrain, scaleout, scaleout_report
from bench.__main__ import main as bench_main
from consumer.config import ConsumerConfig
from consumer.worker import Consumer
from lab import backlog
from shared.policy import RetryPolicy
from shared.runtime import Controls

V1 = "nr_periods 200\nnr_throttled 50\nthrottled_time 2500000000\nusage_ns 7000000000\n"
V2 = "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_periods 10\nnr_throttled 0\nthrottled_usec 0\n"


def test_backlog_is_what_the_real_consumer_handles_and_the_ledger_accounts_for(wiring, sqs, events):
    published = backlog.backlog_events(25, "scaleout-k1-test", clock=lambda: 1000.0)
    backlog.fill(sqs, wiring.queue_url, published, workers=2)
    assert [e["seq"] for e in published] == list(range(1, 26)) and len({e["id"] for e in published}) == 25
    consumer = Consumer(
        ConsumerConfig(retry=RetryPolicy(initial=0.001, cap=0.005), receive_wait=0),
        Controls(),
        beat=lambda: None,
        sqs=sqs,
        probe_sqs=sqs,
    )
    while sum(consumer.poll_once() for _ in range(5)):
        pass
    ledger = backlog.Ledger().add_events(published).add_events(events("consumed"))
    result = ledger.check()
    assert (result.consumed, result.lost, result.unknown, result.seq_gaps, result.poison) == (25, [], [], {}, 0)
    assert not events("poison")


def test_fill_reports_refused_entries():
    class Refusing:
        def send_message_batch(self, **kwargs: Any) -> dict:
            return {"Failed": [{"Id": "0", "Code": "Throttled"}]}

    with pytest.raises(RuntimeError, match="refused 2 entries"):
        backlog.fill(Refusing(), "url", backlog.backlog_events(11, "p"), workers=1)


def test_cgroup_v1_and_v2_counters():
    v1 = backlog.parse_cpu_stat(V1)
    assert (v1.usage, v1.periods, v1.throttled_periods, v1.throttled, v1.throttled_share) == (7.0, 200, 50, 2.5, 0.25)
    v2 = backlog.parse_cpu_stat(V2)
    assert (v2.usage, v2.throttled_share) == (3.0, 0.0)
    assert v1.minus(backlog.CpuStat(5.0, 100, 0, 0.0)) == backlog.CpuStat(2.0, 100, 50, 2.5)
    assert backlog.CpuStat(1.0).throttled_share is None  # no CPU limit: no periods
    with pytest.raises(ValueError):
        backlog.parse_cpu_stat("cat: no such file")


def test_host_cpu_counts_idle_and_iowait_as_not_busy():
    busy, total = backlog.host_cpu("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n")
    assert (busy, total) == (1.5, 10.0)


def test_cpu_quantities_limits_and_node_fit():
    assert [backlog.millicores(q) for q in ("2", "1500m", "0.5", None, 1)] == [2000, 1500, 500, 0, 1000]
    spec = {"containers": [{"name": "consumer", "resources": {"limits": {"cpu": "500m"}}}, {"name": "side"}]}
    assert backlog.cpu_limit(spec, "consumer") == 500 and backlog.cpu_limit(spec, "side") == 0
    nodes = {"items": [{"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "2"}}}]}

    def pod(node: str | None, cpu: str, phase: str = "Running") -> dict:
        return {
            "spec": {"nodeName": node, "containers": [{"resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": phase},
        }

    pods = {"items": [pod("n1", "25m"), pod("n1", "200m"), pod("n1", "1", "Succeeded"), pod(None, "25m")]}
    assert backlog.node_fit(nodes, pods) == [{"node": "n1", "allocatable_m": 2000, "requested_m": 225}]


def test_raw_ceiling_loop_drains_exactly_the_backlog(wiring, sqs):
    import boto3

    backlog.fill(sqs, wiring.queue_url, backlog.backlog_events(40, "raw"), workers=2)
    # One thread: moto's receive is not atomic across threads (it handed one message to two threads once).
    out = rawdrain.drain(lambda: boto3.client("sqs", region_name="us-east-1"), wiring.queue_name, 40, 1, 30)
    assert (out["messages"], out["threads"], out["receives"]) == (40, 1, 4)
    assert sqs.receive_message(QueueUrl=wiring.queue_url).get("Messages") is None


class LockedQueue:
    """A thread-safe stand-in for SQS (one lock around a list), shared by every thread's "client"."""

    def __init__(self, count: int) -> None:
        self.lock, self.bodies, self.deleted = threading.Lock(), [json.dumps({"n": i}) for i in range(count)], 0

    def get_queue_url(self, QueueName: str) -> dict:  # noqa: N803 (boto3's argument names)
        return {"QueueUrl": QueueName}

    def receive_message(self, QueueUrl: str, MaxNumberOfMessages: int, WaitTimeSeconds: int) -> dict:  # noqa: N803
        with self.lock:
            got, self.bodies = self.bodies[:MaxNumberOfMessages], self.bodies[MaxNumberOfMessages:]
        return {"Messages": [{"Body": b, "ReceiptHandle": str(i)} for i, b in enumerate(got)]}

    def delete_message_batch(self, QueueUrl: str, Entries: list) -> dict:  # noqa: N803
        with self.lock:
            self.deleted += len(Entries)
        return {}


def test_raw_ceiling_threads_share_the_count_and_stop_at_it():
    queue = LockedQueue(95)
    out = rawdrain.drain(lambda: queue, "q", 95, 4, 30)
    assert (out["messages"], queue.deleted, queue.bodies) == (95, 95, [])
    assert out["receives"] >= 10  # 10 batches at least; a thread may meet the emptied queue once before it stops


def consumed(t: float, pod: str) -> dict:
    return {"event": "consumed", "_t": t, "_source": pod}


def test_summary_excludes_startup_from_the_rate_and_times_empty_by_the_last_delete():
    events = [consumed(102.0 + i * 0.1, "c-a" if i % 2 else "c-b") for i in range(21)]
    events += [{"event": "deleted", "count": 10, "_t": 103.0}, {"event": "deleted", "count": 11, "_t": 104.5}]
    events += [{"event": "deleted", "count": 0, "_t": 120.0}]  # an empty receive's delete of nothing: not a batch
    s = scaleout_report.summarize(21, 2, 100.0, events)
    assert s["rate_per_s"] == 10.0  # 20 intervals over 2 s
    assert (s["time_to_empty_s"], s["first_consumed_after_s"], s["drain_s"]) == (4.5, 2.0, 2.0)
    assert s["messages_per_receive"] == 10.5 and s["per_pod"] == {"c-a": 10, "c-b": 11}


def run(k: int, rate: float, ls_cores: float, machine: float, per_receive: float = 10.0, throttled: float = 0.0):
    drain = {
        "consumers": k,
        "messages": 1000,
        "time_to_empty_s": 1000 / rate + 3,
        "first_consumed_after_s": 3.0,
        "rate_per_s": rate,
        "messages_per_receive": per_receive,
    }
    consumers = {f"c{i}": {"cpu_s": 1.0, "throttled_share": throttled} for i in range(k)}
    cpu = {
        "localstack_cores": ls_cores,
        "localstack_throttled_share": 0.0,
        "consumer_cores": 0.3 * k,
        "consumers": consumers,
        "machine_cores": machine,
    }
    return {"drain": drain, "cpu": cpu, "ledger": {"lost": 0, "duplicates": 0}}


RESULT = {
    "environment": {
        "date": "2026-12-04T20:00:00+00:00",
        "machine": {"cpu": "Xeon", "cores": 2, "memory_gib": 23.5, "load_avg_1m_at_start": 1.5},
        "commit": "abc1234",
    },
    "config": {
        "localstack_cpu_limit_m": 1000,
        "consumer_cpu_limit_m": 500,
        "batch_size": 10,
        "receive_wait_s": 10,
        "visibility_timeout_s": 30,
        "cluster": "LabKindManager, 1 node(s)",
        "kubernetes": "v1.34.12",
        "emulator_image": "localstack/localstack:4.14.0",
    },
    "runs": [run(1, 100.0, 0.5, 0.9), run(2, 150.0, 0.9, 1.2, throttled=0.3), run(4, 160.0, 0.95, 1.9, 6.0)],
    "ceiling": [{"threads": 4, "rate_per_s": 170.0, "messages": 1000, "receives": 100, "localstack_cores": 0.97}],
}


def test_table_rows_and_speedup_against_one_consumer():
    text = scaleout_report.table(RESULT)
    assert "| 1 | 1000 | 13.0 | 3.0 | 100.0 | 1.00× | 10.0 | 0.50 | 0.30 | 0% | 0.90 | 0 / 0 |" in text
    assert "| 2 | 1000 | 9.7 | 3.0 | 150.0 | 1.50× |" in text and "| 30% |" in text
    assert "Raw in-cluster loop, 4 thread(s), no CPU limit: 170.0 msg/s" in text


def test_limits_name_only_what_the_measurements_show():
    one, two, four = scaleout_report.limits(RESULT)
    assert one == "- 1 consumer(s), 100.0 msg/s: no resource at its limit (latency-bound: calls in series)."
    assert "LocalStack at 0.90 of its 1-core limit" in two and "1 consumer" not in two
    assert "2 consumer(s) throttled by their 500m limit" in two
    assert "the machine at 1.90 of 2 cores" in four and "receives returning 6.0 of up to 10 messages" in four


def test_plot_and_render_entry_write_a_png(tmp_path):
    path = scaleout_report.plot(RESULT, tmp_path / "img" / "scaleout.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    source = tmp_path / "in.json"
    source.write_text(json.dumps(RESULT))
    assert bench_main(["scaleout", "--render", str(source), "--out", str(tmp_path / "out")]) == 0
    (written,) = (tmp_path / "out").glob("scaleout-*/scaleout.md")
    assert scaleout_report.table(RESULT) in written.read_text()


def test_arguments_default_to_ten_thousand_and_reject_bad_counts(capsys):
    args = scaleout.parse_args([])
    assert (args.messages, args.consumer_counts, args.threads) == (10_000, [1, 2, 4], [4])
    assert scaleout.parse_args(["--messages", "200", "--ceiling-threads", ""]).threads == []
    for bad in (["--consumers", "1,x"], ["--consumers", "0,2"], ["--messages", "1"]):
        with pytest.raises(SystemExit) as exc:
            scaleout.parse_args(bad)
        assert exc.value.code == 2
    assert "comma-separated" in capsys.readouterr().err


def test_generated_block_replaces_only_itself():
    block = scaleout_report.generated(RESULT)
    assert block.startswith(scaleout_report.BEGIN) and block.endswith(scaleout_report.END)
    assert "Xeon (2 cores, 23.5 GiB)" in block and "Kubernetes v1.34.12" in block and "long poll 10 s" in block
    page = f"# Title\n\nprose before\n\n{scaleout_report.BEGIN}\nold\n{scaleout_report.END}\n\nprose after\n"
    new = scaleout_report.replace_block(page, block)
    assert new == f"# Title\n\nprose before\n\n{block}\n\nprose after\n"
    assert scaleout_report.replace_block(new, block) == new
    with pytest.raises(ValueError):
        scaleout_report.replace_block("no block here", block)


def test_raw_loop_pod_counts_as_finished_only_when_succeeded_or_failed():
    from types import SimpleNamespace

    from bench.scaleout_runs import finished

    phases = iter(["Pending", "Running", "Failed", "Succeeded"])
    lab = SimpleNamespace(kube=SimpleNamespace(json=lambda *args: {"status": {"phase": next(phases)}}))
    assert [finished(lab, "p") for _ in range(4)] == [None, None, "Failed", "Succeeded"]
