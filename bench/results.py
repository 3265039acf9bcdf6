"""Where and with what a benchmark ran, and its results as JSON and Markdown.

Numbers without the machine, date and versions they came from cannot be compared later, so every result file
carries them.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def environment() -> dict:
    versions = {}
    for package in ("boto3", "botocore", "moto", "requests", "tenacity"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "memory_gib": _memory_gib(),
            "os": platform.platform(),
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        },
        "python": platform.python_version(),
        "versions": versions,
        "commit": _commit(),
    }


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value * 1000:.1f}"


def markdown(result: dict) -> str:
    env, thr, lat, health = result["environment"], result["throughput"], result["latency"], result["health"]
    machine = env["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"{env['date']} · {machine['cpu']} · {machine['cores']} cores · {machine['memory_gib']} GiB · "
        f"load {machine['load_avg_1m_at_start']} at start · Python {env['python']} · commit {env['commit']}",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        "",
        "| measurement | result | goal |",
        "|---|---|---|",
        f"| raw boto3 receive+delete loop | {thr['raw']['rate_per_s']} msg/s ({thr['raw']['messages']} messages) | |",
        f"| consumer app.py | {thr['app']['rate_per_s']} msg/s ({thr['app']['messages']} messages) | |",
        f"| consumer / raw ratio | {thr['ratio']} | ≥ 0.8 |",
        f"| publish → consumed latency p50 / p99 | {_ms(lat['seconds']['p50'])} / {_ms(lat['seconds']['p99'])} ms "
        f"(n={lat['seconds']['n']}, publish interval {lat['publish_interval']} s) | |",
    ]
    for key, label in (("idle", "idle worker"), ("busy", "busy worker"), ("busy_single_client", "busy worker")):
        run = health[key]
        goal = "p99 < 10 ms" if key != "idle" else ""
        lines.append(
            f"| /health p50 / p99, {label}, {run['workers']} concurrent client(s) | "
            f"{_ms(run['seconds']['p50'])} / {_ms(run['seconds']['p99'])} ms (n={run['seconds']['n']}, "
            f"{run['errors']} errors) | {goal} |"
        )
    lines.append(f"| messages consumed during the busy runs | {health['consumed_during_busy']} | |")
    for name, starts in result["start_to_ready"].items():
        lines.append(
            f"| {name} start → /ready 200, median of {len(starts['seconds'])} | "
            f"{_ms(starts['median'])} ms (each: {', '.join(_ms(s) for s in starts['seconds'])}) | |"
        )
    lines += ["", "Emulator: moto server process on 127.0.0.1; every process on the same 2 cores.", ""]
    return "\n".join(lines)


def write(result: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "results.json", out / "results.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown(result), encoding="utf-8")
    return json_path, md_path
