"""Turn one fault run's evidence (followed logs, ledger, recovery) into a report record with its plot series.

Lives apart from the catalogue's steps so the tests stay short and the series logic (what window a picture shows,
which probe answers belong to which app) is in one place.
"""

from __future__ import annotations

import contextlib

from lab.kube import KubectlError
from lab.ledger import Ledger, LedgerResult
from lab.logfollow import LogFollower
from lab.report.model import FaultRecord
from lab.timeline import ProbeResult, Recovery, probe_results


def probes_of(logs: LogFollower, app: str) -> list[ProbeResult]:
    """Kubelet probe answers logged by every pod of ``app`` seen so far (for the report's probe lanes)."""
    return sorted(
        (p for pod, text in logs.texts().items() if pod.startswith(f"{app}-") for p in probe_results(text)),
        key=lambda p: p.at,
    )


def make_record(
    *,
    fault: str,
    expected: str,
    recovery: Recovery,
    ledger: Ledger,
    result: LedgerResult,
    logs: LogFollower,
    app: str,
    notes: str = "",
    since: float | None = None,
    checks: list[str] | None = None,
) -> FaultRecord:
    """A report record with the series around this fault (from ``since``, default 10 s before injection).

    ``checks``: the fault's own failed checks as problem sentences; `FaultRecord.problems` adds them to the
    detection and ledger verdict, which the fault tests assert empty when they record the run.
    """
    start = recovery.injected - 10 if since is None else since
    with contextlib.suppress(KubectlError):
        logs.scan()  # the latest Ready state and log attachments, not the last background tick's
    series = logs.ready_series(app)
    before = [(start, ready) for t, ready in series if t < start][-1:]  # the state the window opens with
    published = [t for t in (e.get("_t") for e in ledger.published.values()) if t is not None and t >= start]
    consumed = [t for t in (e.get("_t") for e in ledger.first_consumed.values()) if t is not None and t >= start]
    return FaultRecord(
        fault=fault,
        expected=expected,
        recovery=recovery,
        ledger=result,
        probes=[p for p in probes_of(logs, app) if p.at >= start],
        published=published,
        consumed=consumed,
        readiness=before + [(t, r) for t, r in series if t >= start],
        restarts=[t for t in (recovery.restarted,) if t is not None],
        notes=notes,
        checks=list(checks or []),
    )
