"""Resiliency report: per-fault tables and timeline pictures written by ``pytest tests/e2e --lab-report``.

``FaultRecord`` is what a fault test hands over; ``write_report`` renders all records of a session into
``reports/<timestamp>/report.md`` with one PNG timeline per run.
"""

from lab.report.model import FaultRecord, Stat, summarize
from lab.report.writer import write_report

__all__ = ["FaultRecord", "Stat", "summarize", "write_report"]
