"""What the reliability scenarios tried and what held, wherever they live (tests/reliability, tests/reminders).

A test takes the ``report`` fixture and adds a line; ``tests/reliability/conftest.py``
prints them all at the end of the run, so a CI log shows more than a row of dots.
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
