"""The scale-out figures from one benchmark's raw measurements: per-run summary, the table, the limits, the plot.

Pure functions of the results JSON, so the unit tier checks the arithmetic and docs/scaleout.md's table and limit
lines are re-derived from docs/scaleout.json by a test (a doc that disagrees with its own data fails the unit tier).
Rates follow bench.measure: (n − 1) / (last − first handled), so pod start-up is excluded from the throughput and
shown on its own as "first consumed after".
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bench.measure import rate

# A resource is "the limit" when it is used at least this share of its capacity during the drain: below it there is
# headroom the run did not take, at or above it more of the others would not help.
SATURATED = 0.85
# Throttled in at least this share of CFS periods: the container's CPU limit, not its demand, set its speed.
THROTTLED = 0.25
# docs/scaleout.md's generated part sits between these lines; `python -m bench scaleout --docs` rewrites it.
RAW_STYLES = (("red", "--"), ("darkorange", "-."), ("purple", ":"))  # one line per raw-loop thread count
BEGIN, END = "<!-- scaleout results: generated from docs/scaleout.json -->", "<!-- end of scaleout results -->"


def summarize(messages: int, consumers: int, scaled_at: float, events: list[dict[str, Any]]) -> dict[str, Any]:
    """One drain from the consumers' own log events (``consumed`` per message, ``deleted`` per batch)."""
    consumed = [e for e in events if e.get("event") == "consumed"]
    deleted = [e for e in events if e.get("event") == "deleted" and e.get("count")]
    times = sorted(e["_t"] for e in consumed)
    empty_at = max(e["_t"] for e in deleted)
    return {
        "consumers": consumers,
        "messages": messages,
        "time_to_empty_s": round(empty_at - scaled_at, 2),
        "first_consumed_after_s": round(times[0] - scaled_at, 2),
        "drain_s": round(times[-1] - times[0], 2),
        "rate_per_s": rate([times]),
        "messages_per_receive": round(sum(e["count"] for e in deleted) / len(deleted), 2),
        "per_pod": dict(sorted(Counter(e["_source"] for e in consumed).items())),
    }


def cores(cpu_seconds: float, wall_seconds: float) -> float:
    return round(cpu_seconds / wall_seconds, 2) if wall_seconds > 0 else 0.0


def run_row(run: dict[str, Any], base_rate: float | None) -> str:
    d, cpu = run["drain"], run["cpu"]
    speedup = f"{d['rate_per_s'] / base_rate:.2f}×" if base_rate and d["rate_per_s"] else ""
    throttled = max((p["throttled_share"] or 0.0 for p in cpu["consumers"].values()), default=0.0)
    return (
        f"| {d['consumers']} | {d['messages']} | {d['time_to_empty_s']:.1f} | {d['first_consumed_after_s']:.1f} | "
        f"{d['rate_per_s']} | {speedup} | {d['messages_per_receive']} | {cpu['localstack_cores']:.2f} | "
        f"{cpu['consumer_cores']:.2f} | {throttled:.0%} | {cpu['machine_cores']:.2f} | "
        f"{run['ledger']['lost']} / {run['ledger']['duplicates']} |"
    )


def table(result: dict[str, Any]) -> str:
    """Markdown: one row per consumer count, then the in-cluster raw ceiling rows."""
    runs = result["runs"]
    base = runs[0]["drain"]["rate_per_s"] if runs and runs[0]["drain"]["consumers"] == 1 else None
    lines = [
        "| consumers | messages | time to empty (s) | first consumed after (s) | throughput (msg/s) | vs 1 | "
        "msgs per receive | LocalStack CPU (cores) | consumers' CPU (cores) | max consumer throttled | "
        "machine CPU (cores) | lost / duplicated |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(run_row(run, base) for run in runs),
    ]
    for ceiling in result.get("ceiling", []):
        lines.append(
            f"\nRaw in-cluster loop, {ceiling['threads']} thread(s), no CPU limit: {ceiling['rate_per_s']} msg/s "
            f"({ceiling['messages']} messages, {ceiling['receives']} receives), LocalStack "
            f"{ceiling['localstack_cores']:.2f} cores."
        )
    return "\n".join(lines)


def limits(result: dict[str, Any]) -> list[str]:
    """What bounded each run, by the rules above (`SATURATED`, `THROTTLED`), one sentence per run."""
    config = result["config"]
    ls_limit = config["localstack_cpu_limit_m"] / 1000
    machine = result["environment"]["machine"]["cores"]
    out = []
    for run in result["runs"]:
        d, cpu = run["drain"], run["cpu"]
        found = []
        if ls_limit and cpu["localstack_cores"] >= SATURATED * ls_limit:
            found.append(f"LocalStack at {cpu['localstack_cores']:.2f} of its {ls_limit:g}-core limit")
        if (cpu["localstack_throttled_share"] or 0) >= THROTTLED:
            found.append(f"LocalStack throttled in {cpu['localstack_throttled_share']:.0%} of CFS periods")
        if cpu["machine_cores"] >= SATURATED * machine:
            found.append(f"the machine at {cpu['machine_cores']:.2f} of {machine} cores")
        hot = [p for p, s in cpu["consumers"].items() if (s["throttled_share"] or 0) >= THROTTLED]
        if hot:
            found.append(f"{len(hot)} consumer(s) throttled by their {config['consumer_cpu_limit_m']}m limit")
        if d["messages_per_receive"] < SATURATED * config["batch_size"]:
            found.append(f"receives returning {d['messages_per_receive']} of up to {config['batch_size']} messages")
        what = "; ".join(found) if found else "no resource at its limit (latency-bound: calls in series)"
        out.append(f"- {d['consumers']} consumer(s), {d['rate_per_s']} msg/s: {what}.")
    return out


def plot(result: dict[str, Any], path: Path) -> Path:
    """Throughput and time to empty against the consumer count, with linear scaling and the raw ceiling drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r["drain"] for r in result["runs"]]
    ks = [d["consumers"] for d in runs]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(ks, [d["rate_per_s"] for d in runs], "o-", label="consumers (measured)")
    if runs and runs[0]["consumers"] == 1 and runs[0]["rate_per_s"]:
        left.plot(ks, [runs[0]["rate_per_s"] * k for k in ks], ":", color="grey", label="linear from 1 consumer")
    for ceiling, (color, style) in zip(result.get("ceiling", []), RAW_STYLES, strict=False):
        left.axhline(
            ceiling["rate_per_s"] or 0,
            linestyle=style,
            color=color,
            label=f"raw in-cluster loop, {ceiling['threads']} thread(s)",
        )
    left.set(xlabel="consumers", ylabel="messages / s", title="Drain throughput", xticks=ks)
    left.set_ylim(bottom=0)
    left.legend(fontsize=8)
    right.plot(ks, [d["time_to_empty_s"] for d in runs], "o-", color="tab:green")
    right.set(
        xlabel="consumers",
        ylabel="seconds",
        title=f"Time to empty {runs[0]['messages'] if runs else ''} messages (from scale-up)",
        xticks=ks,
    )
    right.set_ylim(bottom=0)
    env = result["environment"]
    fig.suptitle(f"{env['date']} · {env['machine']['cores']} cores · {result['config']['cluster']}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def generated(result: dict[str, Any]) -> str:
    """The measured part of the doc: when and where, the table, the limit of each run."""
    env, config = result["environment"], result["config"]
    machine = env["machine"]
    head = (
        f"Measured {env['date']} on {machine['cpu']} ({machine['cores']} cores, {machine['memory_gib']} GiB), "
        f"load {machine['load_avg_1m_at_start']} at start; cluster {config['cluster']}, Kubernetes "
        f"{config['kubernetes']}, {config['emulator_image']}; commit {env['commit']}. Consumer: batch "
        f"{config['batch_size']}, long poll {config['receive_wait_s']} s, CPU limit {config['consumer_cpu_limit_m']}m; "
        f"LocalStack CPU limit {config['localstack_cpu_limit_m']}m; "
        f"visibility timeout {config['visibility_timeout_s']} s."
    )
    return "\n".join([BEGIN, head, "", table(result), "", "What bounded each run:", "", *limits(result), END])


def replace_block(text: str, block: str) -> str:
    """``text`` with its generated block (BEGIN … END) replaced by ``block``; the block must exist once."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start or text.count(BEGIN) != 1:
        raise ValueError("the document has no single generated block to replace")
    return text[:start] + block + text[end + len(END) :]
