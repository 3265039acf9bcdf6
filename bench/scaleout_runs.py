"""One drain of the scale-out benchmark, and the raw ceiling: what happens on the cluster between two results.

Why CPU is counted from "all k consumers Ready" to "queue empty" and not from the scale command: before the pods
run, LocalStack idles and the machine is busy starting containers, so a window from the scale command would mix
start-up into the drain's cost. Each counter is read with its own time stamps (one ``kubectl exec`` takes a moment),
so every figure is CPU seconds over its own window.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import rawdrain, scaleout_report
from lab import backlog
from lab.aws import QUEUE, Aws
from lab.deploy import Lab
from lab.kube import wait_for
from lab.ledger import parse_events

Sample = tuple[float, backlog.CpuStat]


def no_pods(lab: Lab, app: str) -> None:
    """Wait until no pod of ``app`` exists, not even a terminating one: an old consumer must not take a backlog."""
    spec = lab.kube.deployment(app)["spec"]["template"]["spec"]
    # A terminating pod stops within its grace period; 30 s more covers the kubelet's and the API's bookkeeping.
    bound = int(spec.get("terminationGracePeriodSeconds", 30)) + 30
    wait_for(lambda: not lab.kube.json("get", "pods", "-l", f"app={app}")["items"], bound, 1.0, f"no {app} pod left")


def quiet(lab: Lab, aws: Aws, config: dict[str, Any]) -> None:
    """Producer stopped and what it published consumed, then the consumer at 0: the queue holds only backlogs."""
    lab.scale("producer", 0)
    no_pods(lab, "producer")
    # The running consumer takes the rest within one long poll; a message received just before is redelivered
    # after the visibility timeout at worst.
    bound = config["receive_wait_s"] + config["visibility_timeout_s"]
    wait_for(lambda: aws.in_flight() == 0, bound, 0.5, "the producer's messages consumed")
    lab.scale("consumer", 0)


def loaded(aws: Aws, events: list[dict], args: argparse.Namespace) -> None:
    """Fill the queue with ``events`` and wait until SQS counts all of them."""
    backlog.fill(aws.sqs, aws.queue_url(QUEUE), events)
    deadline = len(events) / args.min_rate  # the fill is one call per 10 messages: far faster than any drain
    wait_for(lambda: aws.in_flight() >= len(events), deadline, 0.5, f"{len(events)} messages on the queue")


def sample(lab: Lab, pod: str, container: str) -> Sample:
    return time.time(), backlog.container_cpu(lab.kube, pod, container)


def host_sample() -> Sample:
    now, (busy, _) = time.time(), backlog.host_cpu()
    return now, backlog.CpuStat(busy)


def used(before: Sample, after: Sample) -> tuple[float, backlog.CpuStat]:
    """Wall seconds between two samples and the counters' difference."""
    return after[0] - before[0], after[1].minus(before[1])


def drain(
    lab: Lab, aws: Aws, k: int, config: dict[str, Any], args: argparse.Namespace, say: Callable[[str], None]
) -> dict[str, Any]:
    """Backlog of N with no consumer, scale to ``k``, wait for an empty queue, then check every id in the logs."""
    no_pods(lab, "consumer")
    events = backlog.backlog_events(args.messages, f"scaleout-k{k}-{secrets.token_hex(3)}")
    loaded(aws, events, args)
    ls_pod = lab.pod("localstack")
    scaled_at = time.time()
    lab.scale("consumer", k)
    start_bound = lab.progress_deadline("consumer")  # the Deployment's own bound for its pods to come up
    wait_for(lambda: len(lab.kube.pods("consumer")) == k, start_bound, 0.2, f"{k} consumer pod(s) created")
    lab.kube.wait("condition=Ready", start_bound, "pod", "-l", "app=consumer")
    pods = [p["metadata"]["name"] for p in lab.kube.pods("consumer")]
    before = {"localstack": sample(lab, ls_pod, "localstack"), "machine": host_sample()}
    before |= {pod: sample(lab, pod, "consumer") for pod in pods}
    # N at the slowest rate that is still a drain (--min-rate) bounds the wait for an empty queue.
    wait_for(lambda: aws.in_flight() == 0, args.messages / args.min_rate, 0.5, f"queue empty with {k} consumer(s)")
    polled_empty = time.time()
    after = {"localstack": sample(lab, ls_pod, "localstack"), "machine": host_sample()}
    after |= {pod: sample(lab, pod, "consumer") for pod in pods}
    delta = {name: used(before[name], after[name]) for name in before}

    def complete() -> tuple[dict[str, str], Any] | None:
        logs = {pod: lab.kube.logs(pod, "consumer") for pod in pods}
        ledger = backlog.ledger_of(events, logs)
        return (logs, ledger) if not ledger.missing() else None

    # Each message is logged before its delete, and kubectl logs reads the file containerd appends to as the
    # container writes: one long poll of the consumer's loop is ample for the last lines to be readable.
    logs, ledger = wait_for(complete, config["receive_wait_s"], 1.0, "every backlog id in the consumers' logs")
    result = ledger.check()
    summary = scaleout_report.summarize(
        args.messages, k, scaled_at, [e for pod, text in logs.items() for e in parse_events(text, pod)]
    )
    consumers = {pod: delta[pod] for pod in pods}
    cpu = {
        "window_s": round(delta["machine"][0], 2),
        "localstack_cores": scaleout_report.cores(delta["localstack"][1].usage, delta["localstack"][0]),
        "localstack_throttled_share": delta["localstack"][1].throttled_share,
        "consumer_cores": round(sum(scaleout_report.cores(c.usage, wall) for wall, c in consumers.values()), 2),
        "consumers": {
            p: {"cpu_s": round(c.usage, 2), "throttled_share": c.throttled_share} for p, (_, c) in consumers.items()
        },
        "machine_cores": scaleout_report.cores(delta["machine"][1].usage, delta["machine"][0]),
    }
    fit = backlog.node_fit(lab.kube.json("get", "nodes"), lab.kube.json("get", "pods", "-A"))
    placed = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in lab.kube.pods("consumer")}
    say(f"k={k}: {summary['rate_per_s']} msg/s, empty after {summary['time_to_empty_s']} s; {result.summary()}")
    lab.scale("consumer", 0)
    if result.lost or result.unknown:
        raise RuntimeError(f"k={k}: ledger {result.summary()}")
    return {
        "drain": summary,
        "polled_empty_after_s": round(polled_empty - scaled_at, 2),
        "cpu": cpu,
        "ledger": {"lost": len(result.lost), "duplicates": result.duplicates, "consumed": result.consumed},
        "placement": placed,
        "node_fit": fit,
    }


def ceiling(lab: Lab, aws: Aws, threads: int, args: argparse.Namespace) -> dict[str, Any]:
    """The raw loop of `bench.rawdrain` in a one-off pod of the consumer image, on a backlog of the same N."""
    no_pods(lab, "consumer")  # a consumer still long-polling would take part of the backlog
    loaded(aws, backlog.backlog_events(args.messages, f"scaleout-raw{threads}-{secrets.token_hex(3)}"), args)
    ls_pod = lab.pod("localstack")
    before = sample(lab, ls_pod, "localstack")
    name = f"rawdrain-{threads}-{secrets.token_hex(2)}"
    deadline = args.messages / args.min_rate
    lab.kube(
        "run", name, "--image=consumer", "--image-pull-policy=Never", "--restart=Never",
        "--env=AWS_ENDPOINT_URL=http://localstack:4566", "--env=AWS_DEFAULT_REGION=us-east-1",
        "--env=AWS_ACCESS_KEY_ID=test", "--env=AWS_SECRET_ACCESS_KEY=test", "--command", "--",
        "python", "-c", Path(rawdrain.__file__).read_text(), QUEUE, str(args.messages), str(threads), str(deadline),
    )  # fmt: skip
    # The loop's own deadline ends it; the progress deadline covers scheduling and the image's start. A pod that
    # failed ends the wait at once (a `kubectl wait` for Succeeded would sit out the whole bound).
    bound = deadline + lab.progress_deadline("consumer")
    phase = wait_for(lambda: finished(lab, name), bound, 0.5, f"raw loop pod {name} finished")
    wall, cpu = used(before, sample(lab, ls_pod, "localstack"))
    if phase != "Succeeded":
        raise RuntimeError(f"raw loop pod {name} {phase}: {lab.kube.logs(name, name)[-2000:]}")
    out = json.loads(lab.kube.logs(name, name).strip().splitlines()[-1])
    lab.kube("delete", "pod", name, "--wait=false")
    # LocalStack's CPU over the loop's own span (first to last handled): while the pod starts LocalStack idles.
    return {**out, "localstack_cores": scaleout_report.cores(cpu.usage, out["seconds"] or wall)}


def finished(lab: Lab, pod: str) -> str | None:
    """The pod's phase once it is Succeeded or Failed, else None (still pending or running)."""
    phase = lab.kube.json("get", "pod", pod).get("status", {}).get("phase")
    return phase if phase in ("Succeeded", "Failed") else None
