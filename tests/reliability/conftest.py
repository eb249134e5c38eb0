"""The reliability suite: races and faults against the real PostgreSQL, Redis and a real Celery worker.

Each test adds a line to a summary (what it tried, what held, with figures) that is
printed at the end of the run, so a CI log shows more than a row of dots. The reminder
pipeline's fault scenarios (tests/reminders/test_pipeline.py) report into the same summary.
"""

from __future__ import annotations

from tests.findings import FINDINGS, Finding, report

__all__ = ["FINDINGS", "Finding", "report"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FINDINGS:
        return
    terminalreporter.section("reliability: what was tried and what held")
    for f in FINDINGS:
        terminalreporter.write_line(f"[{'held' if f.ok else 'FAILED'}] {f.scenario}")
        terminalreporter.write_line(f"    tried: {f.tried}")
        terminalreporter.write_line(f"    held:  {f.held}")
