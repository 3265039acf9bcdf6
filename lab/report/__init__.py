"""Resiliency report: per-fault tables and timeline pictures written by ``pytest tests/e2e --lab-report``.

``FaultRecord`` is what a fault test hands over; ``lab.report.writer.write_report`` renders all records of a session
into ``reports/<timestamp>/report.md`` with one PNG timeline per run. The writer (and matplotlib) is imported only
when a report is written, so running the fault catalogue does not need a plotting stack. ``write_junit`` (standard
library only) writes the same records as JUnit XML for CI, with or without a report.
"""

from lab.report.junit import junit_xml, write_junit
from lab.report.model import FaultRecord, Stat, summarize

__all__ = ["FaultRecord", "Stat", "junit_xml", "summarize", "write_junit"]
