"""A cut-off pod's log read from its node's files and added to the ledger's log folder.

Why: `lab.logfollow.LogFollower` reads ``kubectl logs -f``, which the API server fetches from the pod's kubelet.
With the kubelet stopped, or the node gone, nothing reaches it; a consumer that keeps working there (kubelet
stopped, containers running) would delete messages from the queue that no followed log shows, and the ledger would
call them lost. The container runtime writes every line to ``/var/log/pods/...`` on the node regardless (CRI log
format), so the node faults copy that file (`lab.multinode.KindNodes.pod_logs`) and `rescue` puts what the follower
missed next to its own files, as ``kubectl logs --timestamps`` would have printed it. Lines the follower already has
are left out (same runtime stamp and text), so no message is counted twice.
"""

from __future__ import annotations

from pathlib import Path

from lab.ledger import split_line
from lab.logfollow import LogFollower

NODE_SUFFIX = ".node"  # <pod>.<generation>.node.log: `LogFollower.generation_texts` reads it with the others


def cri_lines(text: str) -> list[str]:
    """CRI log lines (``STAMP STREAM TAG MESSAGE``, TAG ``P`` for a partial line, ``F`` for its end) as the lines
    ``kubectl logs --timestamps`` prints: ``STAMP MESSAGE``, a partial line joined to its end under its first stamp.
    A cut-off last line (no tag yet) is dropped, like the kubelet does."""
    out: list[str] = []
    partial: list[str] = []
    first = ""
    for raw in text.splitlines():
        parts = raw.split(" ", 3)
        if len(parts) < 3 or parts[1] not in ("stdout", "stderr") or parts[2][:1] not in ("P", "F"):
            continue
        stamp, tag, message = parts[0], parts[2], parts[3] if len(parts) == 4 else ""
        first = first or stamp
        partial.append(message)
        if tag.startswith("F"):
            out.append(f"{first} {''.join(partial)}")
            partial, first = [], ""
    return out


def _key(line: str) -> tuple[float | None, str]:
    parsed = split_line(line)
    return parsed.stamp, parsed.text


def missing_lines(node_lines: list[str], followed: list[str]) -> list[str]:
    """The node's lines the follower does not have (compared by parsed stamp and text, not by spelling)."""
    have = {_key(line) for line in followed}
    return [line for line in node_lines if _key(line) not in have]


def followed_lines(folder: Path, pod: str, generation: int) -> list[str]:
    """Every line the follower itself wrote for one container generation (its files, not a node copy)."""
    lines: list[str] = []
    for path in sorted(folder.glob(f"{pod}.{generation}*.log")):
        if not path.name.endswith(f"{NODE_SUFFIX}.log"):
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines


def rescue(logs: LogFollower, pod: str, files: dict[int, str]) -> int:
    """Add the lines of ``files`` (CRI text by container generation, from the node) that ``logs`` missed; return
    how many. Called again with a longer copy, it rewrites the node file: the result is the same union."""
    added = 0
    for generation, text in files.items():
        lines = missing_lines(cri_lines(text), followed_lines(logs.folder, pod, generation))
        path = logs.folder / f"{pod}.{generation}{NODE_SUFFIX}.log"
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        added += len(lines)
    return added
