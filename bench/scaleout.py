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

from bench import scaleout_report
from bench.results import environment
from bench.scaleout_runs import ceiling, drain, quiet
from lab import backlog
from lab import cluster as lab_cluster
from lab.aws import QUEUE, Aws, localstack
from lab.deploy import Lab, registry_images
from lab.kube import Kube, KubectlError
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
    }


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
            config["kubernetes"] = kube.json("version")["serverVersion"]["gitVersion"]
            config["emulator_image"] = ", ".join(registry_images())
            quiet(lab, aws, config)
            result = {"environment": environment(), "config": config, "messages": args.messages, "runs": []}
            partial = args.out / "scaleout-partial.json"  # a later failure keeps the runs measured so far
            for k in args.consumer_counts:
                result["runs"].append(drain(lab, aws, k, config, args, say))
                partial.parent.mkdir(parents=True, exist_ok=True)
                partial.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
            result["ceiling"] = [ceiling(lab, aws, threads, args) for threads in args.threads]
        return result
    finally:
        try:
            kube("delete", "namespace", namespace, "--wait=false", "--ignore-not-found")
        except KubectlError as exc:  # a broken cluster must still be deleted below
            say(f"could not delete namespace {namespace}: {exc}")
        cluster.teardown(keep=args.keep_cluster)


def write(result: dict[str, Any], out: Path, docs: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "scaleout.json", out / "scaleout.md", out / "scaleout.png"]
    paths[0].write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(scaleout_report.generated(result) + "\n", encoding="utf-8")
    scaleout_report.plot(result, paths[2])
    if docs:
        (DOCS / "scaleout.json").write_text(paths[0].read_text(), encoding="utf-8")
        paths.append(scaleout_report.plot(result, DOCS / "images" / "scaleout.png"))
        page = DOCS / "scaleout.md"
        page.write_text(scaleout_report.replace_block(page.read_text(), scaleout_report.generated(result)))
        paths.append(page)
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
