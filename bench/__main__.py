"""``python -m bench``: pipeline throughput and latency, /health latency under load, service start → Ready.

Everything runs on this machine: a moto server on 127.0.0.1 and the real ``app.py`` processes. Every loop is bounded
by a message count and a deadline, so a broken service makes the benchmark fail fast instead of hanging.
``python -m bench scaleout ...`` is the one benchmark that needs a cluster: a backlog drained by 1, 2 and 4 consumers
(bench/scaleout.py, ``--help`` there).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import measure
from bench.health import health_phase
from bench.results import environment, write
from lab.emulator import Emulator, create_resources
from lab.processes import SERVICES, Service
from shared.contract import QUEUE_NAME, TOPIC_NAME


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="throughput rounds, raw loop then consumer (10)")
    parser.add_argument("--batch", type=int, default=50, help="backlog drained per round (50)")
    parser.add_argument("--latency-messages", type=int, default=200, help="messages timed end to end (200)")
    parser.add_argument("--publish-interval", type=float, default=0.05, help="producer interval for latency (0.05)")
    parser.add_argument("--health-workers", type=int, default=8, help="concurrent /health clients (8)")
    parser.add_argument("--health-requests", type=int, default=200, help="requests per client (200)")
    parser.add_argument("--busy-interval", type=float, default=0.01, help="producer interval keeping it busy (0.01)")
    parser.add_argument("--starts", type=int, default=3, help="start → Ready repetitions per service (3)")
    parser.add_argument("--deadline", type=float, default=120.0, help="upper bound in seconds for any one phase")
    parser.add_argument(
        "--services", type=Path, default=SERVICES, help="folder holding producer/ and consumer/ (candidate-project)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="parent folder of results")
    args = parser.parse_args(argv)
    for name in (
        "rounds",
        "batch",
        "latency_messages",
        "health_workers",
        "health_requests",
        "starts",
    ):
        if getattr(args, name) < 2:
            parser.error(f"--{name.replace('_', '-')} must be at least 2")
    if min(args.publish_interval, args.busy_interval, args.deadline) <= 0:
        parser.error("--publish-interval, --busy-interval and --deadline must be positive")
    return args


def producer_env(emulator: Emulator, interval: float) -> dict[str, str]:
    return {**emulator.env(), "TOPIC_NAME": TOPIC_NAME, "PUBLISH_INTERVAL_SECONDS": str(interval)}


def consumer_env(emulator: Emulator) -> dict[str, str]:
    # RECEIVE_WAIT_SECONDS as in candidate-project/kubernetes/consumer.yaml: the long poll bounds each drain.
    return {**emulator.env(), "QUEUE_NAME": QUEUE_NAME, "LOG_LEVEL": "INFO", "RECEIVE_WAIT_SECONDS": "10"}


def run(args: argparse.Namespace, workdir: Path) -> dict:
    emulator = Emulator(workdir).start()
    services: list[Service] = []

    def start(name: str, env: dict[str, str]) -> Service:
        services.append(Service.start(name, workdir, env, args.services))
        return services[-1]

    try:
        made = create_resources(emulator.client("sns"), emulator.client("sqs"))
        topic_arn, queue_url = made.topic_arn, made.queue_url
        print(f"bench: throughput, {args.rounds} rounds of {args.batch} messages, raw loop vs consumer …", flush=True)
        thr = measure.throughput(
            emulator, topic_arn, queue_url, lambda: start("consumer", consumer_env(emulator)), args
        )
        print(
            f"bench: raw {thr['raw']['rate_per_s']} msg/s, consumer {thr['app']['rate_per_s']} msg/s; "
            "/health under load …",
            flush=True,
        )
        consumer = start("consumer", consumer_env(emulator))  # throughput rounds left the queue empty
        health = health_phase(consumer, lambda: start("producer", producer_env(emulator, args.busy_interval)), args)
        consumer.stop()
        print("bench: latency with the producer publishing …", flush=True)
        consumer = start("consumer", consumer_env(emulator))
        consumer.wait_ready(args.deadline)
        producer = start("producer", producer_env(emulator, args.publish_interval))
        lat = measure.latency(producer, consumer, args.latency_messages, args.deadline)
        lat["publish_interval"] = args.publish_interval
        producer.stop()
        consumer.stop()
        print("bench: start → Ready …", flush=True)
        starts = {}
        for name, env in (
            ("producer", {**emulator.env(), "TOPIC_NAME": TOPIC_NAME}),
            ("consumer", consumer_env(emulator)),
        ):
            seconds = []
            for _ in range(args.starts):
                service = start(name, env)
                seconds.append(round(service.wait_ready(args.deadline), 4))
                service.kill()  # nothing in flight that matters here; a drain would only wait out the long poll
            starts[name] = {"seconds": seconds, "median": statistics.median(seconds)}
        return {
            "environment": environment(),
            "parameters": vars(args) | {"out": str(args.out), "services": str(args.services)},
            "throughput": thr,
            "latency": lat,
            "health": health,
            "start_to_ready": starts,
        }
    finally:
        for service in services:
            service.stop()
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["scaleout"]:
        from bench import scaleout  # kubectl, pytest-kubernetes and matplotlib only for this one

        return scaleout.main(argv[1:])
    args = parse_args(argv)
    out = args.out / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
        try:
            result = run(args, Path(tmp))
        # AssertionError: a wait (lab.waiting.wait_for) passed its deadline.
        except (AssertionError, TimeoutError, RuntimeError, FileNotFoundError) as exc:
            print(f"bench: failed: {exc}", file=sys.stderr)
            return 1
    json_path, md_path = write(result, out)
    print(md_path.read_text(encoding="utf-8"))
    print(f"bench: wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
