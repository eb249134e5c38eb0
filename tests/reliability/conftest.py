"""The reliability suite: races and faults against the real PostgreSQL, Redis and a real Celery worker.

Each test adds a line to a summary (what it tried, what held, with figures) that is
printed at the end of the run, so a CI log shows more than a row of dots.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class Finding:
    scenario: str
    tried: str
    held: str
    ok: bool


FINDINGS: list[Finding] = []


@pytest.fixture
def report():
    """Record what a test tried and what held: ``report(scenario, tried, held, ok)``."""

    def add(scenario: str, tried: str, held: str, ok: bool) -> None:
        FINDINGS.append(Finding(scenario, tried, held, ok))

    return add


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FINDINGS:
        return
    terminalreporter.section("reliability: what was tried and what held")
    for f in FINDINGS:
        terminalreporter.write_line(f"[{'held' if f.ok else 'FAILED'}] {f.scenario}")
        terminalreporter.write_line(f"    tried: {f.tried}")
        terminalreporter.write_line(f"    held:  {f.held}")
