"""Weekly hours per IOP enrollment against the ASAM 2.1 band, and runs of absences."""

import datetime as dt
from decimal import Decimal

import pytest

from scheduling import selectors, services
from scheduling.models import Attendance, Booking, Session
from scheduling.services import Mark
from tests.factories import PatientFactory
from tests.scheduling.conftest import enroll_with_history, make_series, monday_weeks_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def last_week(today):
    return monday_weeks_ago(today, 1)


def _enroll(iop, clinician, *, start, born):
    patient = PatientFactory(date_of_birth=born)
    return enroll_with_history(patient=patient, program=iop, start_on=start, enrolled_by=clinician)


def _record(session, marks, clinician):
    services.record_attendance(session=session, marks=marks, recorded_by=clinician)


def test_an_adults_week_scheduled_and_attended(iop, clinician, today, last_week):
    series = make_series(iop, clinician, starts_on=last_week - dt.timedelta(weeks=1))  # Mon/Wed/Thu, 3 hours
    services.generate_sessions(series_ids=[series.pk], from_on=series.starts_on)
    adult = _enroll(iop, clinician, start=last_week - dt.timedelta(days=7), born=dt.date(1980, 1, 1))
    monday, wednesday, thursday = Session.objects.filter(
        series=series, local_date__gte=last_week, local_date__lt=last_week + dt.timedelta(days=7)
    ).order_by("starts_at")
    pid = adult.patient_id
    _record(monday, [Mark(pid, Attendance.PRESENT)], clinician)
    _record(wednesday, [Mark(pid, Attendance.LATE, 120)], clinician)
    _record(thursday, [Mark(pid, Attendance.ABSENT)], clinician)

    [week] = selectors.weekly_hours(week_of=last_week + dt.timedelta(days=3), programs=[iop])

    assert week.week_start == last_week
    assert (week.scheduled_hours, week.attended_hours) == (Decimal("9.00"), Decimal("5.00"))
    assert (week.minimum_hours, week.maximum_hours, week.adolescent) == (Decimal("9"), Decimal("19"), False)
    assert not week.below_minimum_scheduled and week.below_minimum_attended and not week.above_maximum
    assert [w.enrollment for w in selectors.below_minimum(basis="attended", week_of=last_week)] == [adult]
    assert selectors.below_minimum(basis="scheduled", week_of=last_week) == []


def test_an_adolescent_is_judged_by_age_on_the_weeks_monday(iop, clinician, today, last_week):
    series = make_series(iop, clinician, rule="FREQ=WEEKLY;BYDAY=TU,TH", starts_on=last_week - dt.timedelta(weeks=1))
    services.generate_sessions(series_ids=[series.pk], from_on=series.starts_on)
    start = last_week - dt.timedelta(days=7)
    # Turns 18 on the Tuesday: still an adolescent for the whole week.
    turning_18 = _enroll(iop, clinician, start=start, born=(last_week + dt.timedelta(days=1)).replace(
        year=last_week.year - 18))  # fmt: skip
    adult = _enroll(iop, clinician, start=start, born=dt.date(1990, 6, 1))

    weeks = {w.enrollment: w for w in selectors.weekly_hours(week_of=last_week, programs=[iop])}

    teen, grown = weeks[turning_18], weeks[adult]
    assert teen.adolescent and not grown.adolescent
    assert teen.scheduled_hours == grown.scheduled_hours == Decimal("6.00")
    assert teen.minimum_hours == Decimal("6") and not teen.below_minimum_scheduled
    assert grown.minimum_hours == Decimal("9") and grown.below_minimum_scheduled
    assert [w.enrollment for w in selectors.below_minimum(week_of=last_week)] == [adult]


def test_above_the_maximum(iop, clinician, today, last_week):
    start = last_week - dt.timedelta(weeks=1)
    for hour in (9, 14):  # two daily 2-hour groups: 28 hours a week
        series = make_series(iop, clinician, name=f"Day {hour}", rule="FREQ=DAILY", start_time=dt.time(hour),
                             duration_minutes=120, starts_on=start)  # fmt: skip
        services.generate_sessions(series_ids=[series.pk], from_on=start)
    enrollment = _enroll(iop, clinician, start=start, born=dt.date(1985, 1, 1))

    [week] = selectors.above_maximum(week_of=last_week)

    assert week.enrollment == enrollment and week.scheduled_hours == Decimal("28.00")


def test_consecutive_absences(iop, clinician, today, running_group):
    start = running_group.starts_on
    absent_twice, excused_between, came_back = (
        _enroll(iop, clinician, start=start, born=dt.date(1980, 1, 1)) for _ in range(3)
    )
    recent = list(Session.objects.filter(series=running_group, ends_at__lt=services.timezone.now())
                  .order_by("-starts_at")[:3])  # fmt: skip
    latest, before, earliest = recent
    _record(earliest, [Mark(e.patient_id, Attendance.PRESENT) for e in (absent_twice, excused_between, came_back)],
            clinician)  # fmt: skip
    _record(before, [Mark(absent_twice.patient_id, Attendance.ABSENT), Mark(excused_between.patient_id,
            Attendance.ABSENT), Mark(came_back.patient_id, Attendance.ABSENT)], clinician)  # fmt: skip
    _record(latest, [Mark(absent_twice.patient_id, Attendance.ABSENT), Mark(excused_between.patient_id,
            Attendance.EXCUSED), Mark(came_back.patient_id, Attendance.PRESENT)], clinician)  # fmt: skip

    assert [run.enrollment for run in selectors.consecutive_absences()] == [absent_twice]
    assert selectors.consecutive_absences(n=3) == []
    one = {run.enrollment for run in selectors.consecutive_absences(n=1)}
    assert one == {absent_twice, excused_between}  # an excused absence is left out, not counted
    assert Booking.objects.filter(attendance=Attendance.ABSENT).count() == 4
