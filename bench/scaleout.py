"""``python -m bench scaleout``: a backlog drained by 1, 2 and 4 consumers on a real cluster, timed and explained.

For each consumer count k: the producer and the consumer at 0 replicas, N messages put on the queue with
SendMessageBatch (`lab.backlog`), then ``kubectl scale deployment/consumer --replicas=k`` and a wait until the queue
holds nothing visible or in flight. The consumers' own logs then confirm it: every id consumed (the ledger: lost 0,
duplicates counted) and the times of the first and last message. CPU comes from cgroups (LocalStack's, each
consumer's, with throttling) and from the machine's /proc/stat; the emulator's own ceiling from a raw receive/delete
loop in a pod without CPU limit (`bench.rawdrain`). A benchmark, not a timed test (issue 11): it fails only when a
message is lost or a bounded wait passes, never on a speed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from bench import rawdrain, scaleout_report
from bench.results import environment
from lab import backlog
from lab import cluster as lab_cluster
from lab.aws import QUEUE, Aws, localstack
from lab.deploy import Lab, registry_images
from lab.kube import Kube, wait_for
from lab.ledger import parse_events
from lab.offline import stderr_say

DOCS = Path(__file__).resolve().parent.parent / "docs"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench scaleout", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="backlog size N (10000)")
    parser.add_argument("--consumers", default="1,2,4", help="consumer counts, comma-separated (1,2,4)")
    parser.add_argument("--ceiling-threads", default="4", help="threads of the raw in-cluster loop; '' skips it (4)")
    parser.add_argument(
        "--min-rate", type=float, default=10.0, help="msg/s below which a drain counts as stuck: bounds each wait (10)"
    )
    parser.add_argument("--k8s-provider", default=None, help="kind, minikube or offline (as the e2e suite)")
    parser.add_argument("--k8s-kubeconfig-override", default=None, help="an existing cluster's kubeconfig")
    parser.add_argument("--k8s-version", default=None, help="Kubernetes version of a created cluster (the pin)")
    parser.add_argument("--cluster-name", default="lab-scaleout")
    parser.add_argument("--keep-cluster", action="store_true", help="leave a cluster this run created")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="parent folder of results")
    parser.add_argument(
        "--docs", action="store_true", help="also write docs/scaleout.json and docs/images/scaleout.png"
    )
    parser.add_argument("--render", type=Path, default=None, help="only re-render table and plot from a results JSON")
    args = parser.parse_args(argv)
    args.consumer_counts = counts(parser, "--consumers", args.consumers)
    args.threads = counts(parser, "--ceiling-threads", args.ceiling_threads) if args.ceiling_threads else []
    if args.messages < 2 or args.min_rate <= 0:
        parser.error("--messages must be at least 2 and --min-rate positive")
    return args


def counts(parser: argparse.ArgumentParser, flag: str, text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        parser.error(f"{flag} takes comma-separated whole numbers, got {text!r}")
    if any(v < 1 for v in values):
        parser.error(f"{flag} values must be at least 1")
    return values


def int_env(lab: Lab, app: str, name: str) -> int:
    value = lab.env(app, name)
    if value is None:
        raise LookupError(f"{app} sets no {name}")
    return int(value)


def config_of(lab: Lab, aws: Aws, cluster: lab_cluster.LabCluster, nodes: list[dict]) -> dict[str, Any]:
    """The settings that shape the curve, read from the live objects (not the YAML files)."""
    spec = {app: lab.kube.deployment(app)["spec"]["template"]["spec"] for app in ("consumer", "localstack")}
    return {
        "cluster": f"{cluster.choice.provider.__name__}, {len(nodes)} node(s)",
        "nodes": nodes,
        "receive_wait_s": int_env(lab, "consumer", "RECEIVE_WAIT_SECONDS"),
        "batch_size": int_env(lab, "consumer", "RECEIVE_BATCH_SIZE"),
        "visibility_timeout_s": int(aws.queue_attributes(QUEUE)["VisibilityTimeout"]),
        "consumer_cpu_limit_m": backlog.cpu_limit(spec["consumer"], "consumer"),
        "localstack_cpu_limit_m": backlog.cpu_limit(spec["localstack"], "localstack"),
        "consumer_grace_s": int(spec["consumer"].get("terminationGracePeriodSeconds", 30)),
    }


def no_consumers(lab: Lab, config: dict[str, Any]) -> None:
    """Wait until no consumer pod exists, not even a terminating one: an old pod must not take the new backlog."""
    # A terminating consumer drains within its grace period; 30 s more covers the kubelet's and API's bookkeeping.
    wait_for(
        lambda: not lab.kube.json("get", "pods", "-l", "app=consumer")["items"],
        config["consumer_grace_s"] + 30,
        1.0,
        "no consumer pod left",
    )


def quiet(lab: Lab, aws: Aws, config: dict[str, Any]) -> None:
    """Producer stopped and what it published consumed, then the consumer at 0: the queue holds only backlogs."""
    lab.scale("producer", 0)
    # The producer's grace period bounds its stop; 30 s more covers the kubelet's and API's bookkeeping.
    grace = int(lab.kube.deployment("producer")["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30))
    wait_for(lambda: not lab.kube.json("get", "pods", "-l", "app=producer")["items"], grace + 30, 1.0, "producer gone")
    # The running consumer takes the rest within one long poll; a message received just before is redelivered
    # after the visibility timeout at worst.
    bound = config["receive_wait_s"] + config["visibility_timeout_s"]
    wait_for(lambda: aws.in_flight() == 0, bound, 0.5, "the producer's messages consumed")
    lab.scale("consumer", 0)


def loaded(aws: Aws, lab: Lab, events: list[dict], args: argparse.Namespace) -> None:
    """Fill the queue with ``events`` and wait until SQS counts all of them visible."""
    url = aws.queue_url(QUEUE)
    backlog.fill(aws.sqs, url, events)
    deadline = len(events) / args.min_rate
    wait_for(lambda: aws.in_flight() >= len(events), deadline, 0.5, f"{len(events)} messages on the queue")


def drain(lab: Lab, aws: Aws, k: int, config: dict[str, Any], args: argparse.Namespace, say) -> dict[str, Any]:
    no_consumers(lab, config)
    events = backlog.backlog_events(args.messages, f"scaleout-k{k}-{secrets.token_hex(3)}")
    loaded(aws, lab, events, args)
    ls_pod = lab.pod("localstack")
    ls_before, host_before = backlog.container_cpu(lab.kube, ls_pod, "localstack"), backlog.host_cpu()
    scaled_at = time.time()
    lab.scale("consumer", k)
    # Bound: the Deployment's own rollout bound for the pods to start, plus N at the slowest rate still a drain.
    bound = lab.progress_deadline("consumer") + args.messages / args.min_rate
    wait_for(lambda: aws.in_flight() == 0, bound, 0.5, f"queue empty with {k} consumer(s)")
    polled_empty = time.time()
    ls_cpu, host_after = backlog.container_cpu(lab.kube, ls_pod, "localstack").minus(ls_before), backlog.host_cpu()
    pods = [p["metadata"]["name"] for p in lab.kube.pods("consumer")]
    consumer_cpu = {pod: backlog.container_cpu(lab.kube, pod, "consumer") for pod in pods}

    def complete() -> tuple[dict[str, str], Any] | None:
        logs = {pod: lab.kube.logs(pod, "consumer") for pod in pods}
        ledger = backlog.ledger_of(events, logs)
        return (logs, ledger) if not ledger.missing() else None

    # The last message is logged before its delete; kubectl logs reads the file containerd appends to as the
    # container writes, so one long poll of the consumer's loop is ample for the final lines to be readable.
    logs, ledger = wait_for(complete, config["receive_wait_s"], 1.0, "every backlog id in the consumers' logs")
    result = ledger.check()
    parsed = [e for pod, text in logs.items() for e in parse_events(text, pod)]
    summary = scaleout_report.summarize(args.messages, k, scaled_at, parsed)
    wall = polled_empty - scaled_at
    cpu = {
        "localstack_cores": scaleout_report.cores(ls_cpu.usage, wall),
        "localstack_throttled_share": ls_cpu.throttled_share,
        "consumer_cores": scaleout_report.cores(sum(c.usage for c in consumer_cpu.values()), wall),
        "consumers": {
            p: {"cpu_s": round(c.usage, 2), "throttled_share": c.throttled_share} for p, c in consumer_cpu.items()
        },
        "machine_cores": scaleout_report.cores(host_after[0] - host_before[0], wall),
    }
    fit = backlog.node_fit(lab.kube.json("get", "nodes"), lab.kube.json("get", "pods", "-A"))
    placed = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in lab.kube.pods("consumer")}
    say(f"k={k}: {summary['rate_per_s']} msg/s, empty after {summary['time_to_empty_s']} s; {result.summary()}")
    lab.scale("consumer", 0)
    if result.lost or result.unknown:
        raise RuntimeError(f"k={k}: ledger {result.summary()}")
    return {
        "drain": summary,
        "polled_empty_after_s": round(wall, 2),
        "cpu": cpu,
        "ledger": {"lost": len(result.lost), "duplicates": result.duplicates, "consumed": result.consumed},
        "placement": placed,
        "node_fit": fit,
    }


def ceiling(lab: Lab, aws: Aws, threads: int, config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The raw loop of `bench.rawdrain` in a one-off pod of the consumer image, on a backlog of the same N."""
    no_consumers(lab, config)  # a consumer still long-polling would take part of the backlog
    events = backlog.backlog_events(args.messages, f"scaleout-raw{threads}-{secrets.token_hex(3)}")
    loaded(aws, lab, events, args)
    ls_pod = lab.pod("localstack")
    before = backlog.container_cpu(lab.kube, ls_pod, "localstack")
    name = f"rawdrain-{threads}-{secrets.token_hex(2)}"
    deadline = args.messages / args.min_rate
    lab.kube(
        "run", name, "--image=consumer", "--image-pull-policy=Never", "--restart=Never",
        "--env=AWS_ENDPOINT_URL=http://localstack:4566", "--env=AWS_DEFAULT_REGION=us-east-1",
        "--env=AWS_ACCESS_KEY_ID=test", "--env=AWS_SECRET_ACCESS_KEY=test", "--command", "--",
        "python", "-c", Path(rawdrain.__file__).read_text(), QUEUE, str(args.messages), str(threads), str(deadline),
    )  # fmt: skip
    # The pod's own deadline ends the loop; the progress deadline covers scheduling and the image's start.
    lab.kube.wait("jsonpath={.status.phase}=Succeeded", deadline + lab.progress_deadline("consumer"), f"pod/{name}")
    used = backlog.container_cpu(lab.kube, ls_pod, "localstack").minus(before)
    out = json.loads(lab.kube.logs(name, name).strip().splitlines()[-1])
    lab.kube("delete", "pod", name, "--wait=false")
    # LocalStack's CPU over the loop's own span (first to last handled): the pod's start costs LocalStack nothing.
    return {**out, "localstack_cores": scaleout_report.cores(used.usage, out["seconds"])}


def measure(args: argparse.Namespace, say) -> dict[str, Any]:
    """Choose and start the cluster as the e2e suite does, deploy the lab in a namespace of its own, measure."""
    choice = lab_cluster.choose(
        {"provider": args.k8s_provider, "kubeconfig_override": args.k8s_kubeconfig_override, "kubeconfig": None}
    )
    cluster = lab_cluster.start(choice, args.cluster_name, args.k8s_version, say)
    namespace = f"lab-scaleout-{secrets.token_hex(3)}"
    kube = Kube(cluster.manager)
    try:
        cluster.build_images()
        cluster.load_images(extra=registry_images())
        kube("create", "namespace", namespace)
        lab = Lab(kube.in_namespace(namespace))
        lab.apply()
        lab.wait_rolled_out()
        nodes = backlog.node_fit(kube.json("get", "nodes"), kube.json("get", "pods", "-A"))
        with localstack(lab) as aws:
            config = config_of(lab, aws, cluster, nodes)
            quiet(lab, aws, config)
            env = environment()
            runs = [drain(lab, aws, k, config, args, say) for k in args.consumer_counts]
            ceilings = [ceiling(lab, aws, threads, config, args) for threads in args.threads]
        return {"environment": env, "config": config, "messages": args.messages, "runs": runs, "ceiling": ceilings}
    finally:
        kube("delete", "namespace", namespace, "--wait=false", "--ignore-not-found")
        cluster.teardown(keep=args.keep_cluster)


def write(result: dict[str, Any], out: Path, docs: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "scaleout.json", out / "scaleout.md", out / "scaleout.png"]
    paths[0].write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    text = scaleout_report.table(result) + "\n\n" + "\n".join(scaleout_report.limits(result)) + "\n"
    paths[1].write_text(text, encoding="utf-8")
    scaleout_report.plot(result, paths[2])
    if docs:
        (DOCS / "scaleout.json").write_text(paths[0].read_text(), encoding="utf-8")
        paths.append(scaleout_report.plot(result, DOCS / "images" / "scaleout.png"))
    return paths


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.render:
        result = json.loads(args.render.read_text())
    else:
        try:
            result = measure(args, stderr_say)
        # AssertionError: a wait (lab.waiting.wait_for) passed its deadline; RuntimeError: a command or the ledger.
        except (AssertionError, TimeoutError, RuntimeError, LookupError, ValueError) as exc:
            print(f"bench scaleout: failed: {exc}", file=sys.stderr)
            return 1
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    paths = write(result, args.out / f"scaleout-{stamp}", args.docs)
    print((args.out / f"scaleout-{stamp}" / "scaleout.md").read_text())
    print("bench scaleout: wrote " + ", ".join(map(str, paths)))
    return 0
