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


def enroll_with_history(*, patient, program, start_on, enrolled_by):
    """Enroll as of a past date and book the sessions since then, as a placement recorded after the fact.

    ``sync_placement_bookings`` books only sessions that have not started; the past
    sessions a test takes attendance for come from a backfill of history
    (``generate_sessions`` with an explicit ``from_on``).
    """
    placement = journey.enroll_in_iop(patient=patient, program=program, start_on=start_on, enrolled_by=enrolled_by)
    services.generate_sessions(from_on=start_on)
    return placement


@pytest.fixture
def running_group(iop, clinician, today):
    """A Mon/Wed/Thu evening group that began three weeks ago, sessions generated from then on."""
    start = monday_weeks_ago(today, 3)
    series = make_series(iop, clinician, starts_on=start)
    services.generate_sessions(series_ids=[series.pk], from_on=start)
    return series


@pytest.fixture
def enrolled(patient, iop, clinician, today):
    return enroll_with_history(patient=patient, program=iop, start_on=monday_weeks_ago(today, 3), enrolled_by=clinician)
