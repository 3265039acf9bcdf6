"""What the services were doing when a wait on the message flow ran out.

Why: CI shows only the failing assertion's text, and the run's artifacts stay on the machine that ran it. A timed-out
"flow resumed" wait (CI, 2026-12-03: the emulator fault, not reproduced in 7 runs since) said nothing about which
side stalled: the producer not publishing, the consumer not receiving, the delivery between them, or the log
follower no longer streaming. The summary names, per pod, each event kind logged since the injection with its count,
the last event and its age, the last retry's error, and the state of every log stream, so the next failure explains
itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from lab.ledger import parse_events

DETAIL_CHARS = 160


def pod_summary(pod: str, text: str, since: float, now: float) -> str:
    """One pod's events since ``since``: ``pod: publish_retry×3 published×12; last published 2.0 s ago; ...``."""
    events = [e for e in parse_events(text, pod) if e.get("_t") is not None and e["_t"] >= since]
    if not events:
        return f"{pod}: no event since the injection"
    counts = Counter(e["event"] for e in events)
    kinds = " ".join(f"{kind}×{n}" for kind, n in sorted(counts.items()))
    last = events[-1]
    summary = f"{pod}: {kinds}; last {last['event']} {now - last['_t']:.1f} s ago"
    retry = next((e for e in reversed(events) if str(e["event"]).endswith("_retry")), None)
    if retry is not None:
        detail = str(retry.get("detail") or "")[:DETAIL_CHARS]
        what = " ".join(str(part) for part in (retry.get("operation"), retry.get("error")) if part)
        summary += f"; last retry {now - retry['_t']:.1f} s ago: {what}"
        summary += f" ({detail})" if detail else ""
    return summary


def flow_summary(texts: Mapping[str, str], streams: Mapping[str, str], since: float, now: float) -> str:
    """Every pod's summary, then the log streams (``pod.generation: following`` or how the stream ended)."""
    pods = [pod_summary(pod, text, since, now) for pod, text in sorted(texts.items())]
    lines = ", ".join(f"{name}: {state}" for name, state in sorted(streams.items()))
    return " | ".join([*pods, f"log streams: {lines or 'none'}"])
