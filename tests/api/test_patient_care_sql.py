"""/me/care/ reads the journey and this week's hours in one statement (issue 17); these hold it to the ORM selectors.

``scheduling.selectors.patient_care`` must answer what ``programs.selectors.patient_journey`` and
``scheduling.selectors.weekly_hours`` answer, for every patient of the API's world, with the week's
attendance, a cancelled booking and a cancelled session in it, at instants either side of a week's edge.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic import clock
from programs import selectors as journey_selectors
from scheduling import selectors
from scheduling.models import Attendance, Booking, CancelReason, Session, SessionStatus

pytestmark = pytest.mark.django_db


def _expected(patient):
    steps = [
        (s.kind, s.program.name, s.start_on, s.end_on, s.how_it_began)
        for s in journey_selectors.patient_journey(patient=patient)
    ]
    weeks = selectors.weekly_hours(enrollments=journey_selectors.patient_placements(patient=patient))
    week = max(weeks, key=lambda w: w.enrollment.start_on) if weeks else None
    return steps, week and (week.week_start, week.scheduled_hours, week.attended_hours, week.minimum_hours)


def _actual(patient, now=None):
    care = selectors.patient_care(patient=patient, now=now)
    steps = [(s.kind, s.program_name, s.start_on, s.end_on, s.how_it_began) for s in care.steps]
    week = care.this_week
    return steps, week and (week.week_start, week.scheduled_hours, week.attended_hours, week.minimum_hours)


def _this_weeks_bookings(world):
    monday = selectors.week_start(clock.local_today(world.iop.time_zone))
    return Booking.objects.active().filter(
        patient=world.patient, session__local_date__gte=monday, session__local_date__lt=monday + dt.timedelta(days=7)
    )


def test_the_one_statement_answers_as_the_orm_selectors_for_every_patient(world):
    this_week = list(_this_weeks_bookings(world).order_by("starts_at"))
    assert this_week, "the world books Alex into this week's groups"
    # Attendance on one, a cancelled booking and (if there is a third) a cancelled session: each moves the hours.
    # Written as rows the services leave behind (they refuse to cancel what has started, and this week's
    # sessions may have, at the instant the suite runs): the readers must agree on any such week.
    Booking.objects.filter(pk=this_week[0].pk).update(attendance=Attendance.PRESENT, minutes_attended=170)
    if len(this_week) > 1:
        Booking.objects.filter(pk=this_week[1].pk).update(cancelled_at=clock.now(), cancel_reason=CancelReason.STAFF)
    if len(this_week) > 2:
        Session.objects.filter(pk=this_week[2].session_id).update(
            status=SessionStatus.CANCELLED, cancelled_at=clock.now()
        )

    patients = [world.patient, world.discharged_patient, world.resident, world.newcomer]
    answers = {p.pk: _actual(p) for p in patients}
    assert answers == {p.pk: _expected(p) for p in patients}
    # Not vacuous: Alex has a week with attended minutes, Sam a journey ending in aftercare, Nia nothing.
    assert answers[world.patient.pk][1][2] > 0
    assert [step[0] for step in answers[world.discharged_patient.pk][0]] == ["iop", "aftercare"]
    assert answers[world.newcomer.pk] == ([], None)


@pytest.mark.parametrize("minutes", [-1, 1, 3 * 24 * 60])
def test_the_week_is_the_programs_own_at_the_instant_asked(world, monkeypatch, minutes):
    # Either side of this week's Monday midnight in the program's zone, and mid-week: both readers at one instant.
    zone = ZoneInfo(world.iop.time_zone)
    monday = selectors.week_start(clock.local_today(zone))
    instant = dt.datetime.combine(monday, dt.time(0, 0), tzinfo=zone) + dt.timedelta(minutes=minutes)
    monkeypatch.setattr(clock, "now", lambda: instant)
    assert _actual(world.patient) == _expected(world.patient)
    week = _actual(world.patient)[1]
    assert week is None or week[0] == selectors.week_start(instant.astimezone(zone).date())
    if minutes > 0:
        assert week is not None and week[0] == monday


def test_the_care_page_costs_three_queries_the_caller_the_care_and_the_audit(world, api, patient_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework_simplejwt.tokens import RefreshToken

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(patient_user).access_token}")
    api.get("/api/v1/me/care/")  # what a first request sets up lazily is not counted
    with CaptureQueriesContext(connection) as captured:
        assert api.get("/api/v1/me/care/").json()["this_week"] is not None
    statements = [q["sql"].split(None, 1)[0].upper() for q in captured]
    assert statements == ["SELECT", "SELECT", "INSERT"], [q["sql"][:80] for q in captured]
