"""One PNG per fault run: what the kubelet saw and did, and whether messages kept flowing, on one time axis.

Top panel: liveness and readiness probe answers (green ok, red failed) and Ready transitions, with the recovery
milestones as vertical lines. Bottom panel: cumulative published and consumed messages, so a stall or a loss shows as
the two curves parting. Time 0 is the injection. The Agg backend renders without a display (CI, containers).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen before pyplot is imported)
from matplotlib.ticker import MaxNLocator  # noqa: E402

from lab.report.model import FaultRecord  # noqa: E402

MILESTONES = (
    ("first_failed_probe", "first failed probe", "tab:orange"),
    ("killed", "killed", "tab:red"),
    ("restarted", "restarted", "tab:blue"),
    ("ready", "Ready", "tab:green"),
    ("first_consumed", "first consumed", "tab:purple"),
)
LANES = {"liveness": 3, "readiness": 2, "Ready": 1}


def _cumulative(times: list[float], zero: float) -> tuple[list[float], list[int]]:
    xs = sorted(t - zero for t in times)
    return xs, list(range(1, len(xs) + 1))


def plot_record(record: FaultRecord, path: Path, liveness_path: str = "/health") -> Path:
    """Render ``record`` to ``path`` and return it."""
    zero = record.recovery.injected
    fig, (lanes, flow) = plt.subplots(2, 1, sharex=True, figsize=(9, 4.8), height_ratios=(1, 1.2))
    for probe in record.probes:
        lane = LANES["liveness"] if probe.path == liveness_path else LANES["readiness"]
        lanes.scatter(probe.at - zero, lane, marker="|", s=160, color="tab:green" if probe.ok else "tab:red")
    if record.readiness:
        xs = [t - zero for t, _ in record.readiness]
        ys = [LANES["Ready"] + (0.3 if ready else -0.3) for _, ready in record.readiness]
        lanes.step(xs, ys, where="post", color="tab:gray")
    for restart in record.restarts:
        lanes.axvline(restart - zero, color="tab:blue", linestyle=":", linewidth=1)
    lanes.set_yticks(list(LANES.values()), [f"{name} probe" if name != "Ready" else name for name in LANES])
    lanes.set_ylim(0.4, 3.6)
    for ax in (lanes, flow):
        ax.axvline(0, color="black", linewidth=1.5, label="injected" if ax is lanes else None)
        for attr, label, color in MILESTONES:
            value = getattr(record.recovery, attr)
            if value is not None:
                ax.axvline(value - zero, color=color, linestyle="--", linewidth=1, label=label if ax is lanes else None)
    bound = record.recovery.bound
    if bound is not None:
        lanes.axvspan(0, bound, color="tab:orange", alpha=0.08, label=f"bound {bound:g} s")
    for times, label, color in (
        (record.published, "published", "tab:gray"),
        (record.consumed, "consumed", "tab:purple"),
    ):
        if times:
            offsets, counts = _cumulative(times, zero)
            flow.step(offsets, counts, where="post", label=label, color=color)
    flow.yaxis.set_major_locator(MaxNLocator(integer=True))
    flow.set_ylabel("messages (cumulative)")
    flow.set_xlabel("seconds since injection")
    if record.published or record.consumed:
        flow.legend(loc="upper left", fontsize="small")
    lanes.legend(loc="upper center", bbox_to_anchor=(0.5, 1.45), ncol=4, fontsize="small", frameon=False)
    lanes.set_title(f"{record.fault}: {record.outcome}", pad=48, fontsize="medium")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
