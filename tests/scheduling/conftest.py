"""Schedules for the scheduling tests: series built through the service, on the shared personas."""

from __future__ import annotations

import datetime as dt

import pytest

from programs import services as journey
from scheduling import services
from scheduling.models import SessionKind


def make_series(program, facilitator, **overrides):
    values = {
        "program": program,
        "name": "Evening process group",
        "kind": SessionKind.GROUP_THERAPY,
        "rule": "FREQ=WEEKLY;BYDAY=MO,WE,TH",
        "start_time": dt.time(18, 0),
        "duration_minutes": 180,
        "facilitator": facilitator,
        "capacity": 12,
        "starts_on": dt.date(2027, 1, 4),
        "room": "Room 1",
    }
    values.update(overrides)
    return services.create_series(**values)


def monday_weeks_ago(today: dt.date, weeks: int) -> dt.date:
    return today - dt.timedelta(days=today.weekday(), weeks=weeks)


@pytest.fixture
def running_group(iop, clinician, today):
    """A Mon/Wed/Thu evening group that began three weeks ago, sessions generated from then on."""
    start = monday_weeks_ago(today, 3)
    series = make_series(iop, clinician, starts_on=start)
    services.generate_sessions(series_ids=[series.pk], from_on=start)
    return series


@pytest.fixture
def enrolled(patient, iop, clinician, today):
    return journey.enroll_in_iop(
        patient=patient, program=iop, start_on=monday_weeks_ago(today, 3), enrolled_by=clinician
    )
