"""Which enrollments a week's compliance judges, and how (mutation testing, issue 18).

Week W is last week (Monday to Sunday). The group meets Monday, Wednesday and Thursday for three
hours; every enrollment below is booked on it from its start.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from clinic import clock
from programs import services as journey
from scheduling import selectors, services
from scheduling.models import Attendance, Booking, Session
from tests.factories import PatientFactory, ProgramFactory
from tests.scheduling.conftest import make_series, monday_weeks_ago

pytestmark = pytest.mark.django_db
D = dt.timedelta


@pytest.fixture
def week(iop, clinician, today):
    w = monday_weeks_ago(today, 1)
    series = make_series(iop, clinician, starts_on=w - D(weeks=1))
    services.generate_sessions(series_ids=[series.pk], from_on=series.starts_on)
    return w


def _enroll(iop, clinician, start, *, name, ended_on=None):
    placement = journey.enroll_in_iop(
        patient=PatientFactory(legal_last_name=name, date_of_birth=dt.date(1980, 1, 1)),
        program=iop,
        start_on=start,
        enrolled_by=clinician,
    )
    services.generate_sessions(from_on=start)
    if ended_on is not None:
        journey.discharge(episode=placement.episode, on=ended_on, disposition="completed", decided_by=clinician)
        placement.refresh_from_db()
    return placement


def test_week_start_is_the_monday_of_the_week():
    assert selectors.week_start(dt.date(2027, 3, 8)) == dt.date(2027, 3, 8)  # a Monday
    assert selectors.week_start(dt.date(2027, 3, 14)) == dt.date(2027, 3, 8)  # the Sunday after
    assert selectors.week_start(dt.date(2027, 3, 15)) == dt.date(2027, 3, 15)


def test_the_enrollments_in_force_during_the_week_and_which_weeks_are_partial(iop, clinician, week):
    full = _enroll(iop, clinician, week - D(7), name="A-full")
    from_sunday = _enroll(iop, clinician, week + D(6), name="B-from-sunday")
    _enroll(iop, clinician, week + D(7), name="C-next-week")
    _enroll(iop, clinician, week - D(7), name="D-ended-on-monday", ended_on=week)
    left_tuesday = _enroll(iop, clinician, week - D(7), name="E-ended-tuesday", ended_on=week + D(1))
    to_sunday = _enroll(iop, clinician, week - D(7), name="F-ended-next-monday", ended_on=week + D(7))

    weeks = {w.enrollment: w for w in selectors.weekly_hours(week_of=week + D(2), programs=[iop])}

    assert set(weeks) == {full, from_sunday, left_tuesday, to_sunday}
    assert {e: (w.week_start, w.scheduled_hours, w.partial_week) for e, w in weeks.items()} == {
        full: (week, Decimal("9.00"), False),
        from_sunday: (week, Decimal("0.00"), True),
        left_tuesday: (week, Decimal("3.00"), True),  # Monday's group only; later bookings were released
        to_sunday: (week, Decimal("9.00"), False),  # ends the next Monday: the whole week was in it
    }
    # Partial weeks are left out of "below the minimum" unless asked for.
    assert [w.enrollment for w in selectors.below_minimum(week_of=week, programs=[iop])] == []
    partial = selectors.below_minimum(week_of=week, programs=[iop], include_partial_weeks=True)
    assert {w.enrollment for w in partial} == {from_sunday, left_tuesday}


def test_weekly_hours_of_one_patient_and_of_other_programs(iop, clinician, week, residential, other_site):
    mine = _enroll(iop, clinician, week - D(7), name="Mine")
    other = _enroll(iop, clinician, week - D(7), name="Other")
    assert [w.enrollment for w in selectors.weekly_hours(week_of=week, patient=mine.patient)] == [mine]
    assert selectors.weekly_hours(week_of=week, programs=[residential]) == []
    assert [w.enrollment for w in selectors.weekly_hours(week_of=week, programs=[iop])] == [mine, other]


def test_below_minimum_accepts_only_scheduled_or_attended(week):
    with pytest.raises(ValueError, match="scheduled' or 'attended"):
        selectors.below_minimum(basis="booked", week_of=week)


def test_consecutive_absences_need_a_run_of_at_least_one():
    with pytest.raises(ValueError, match="at least 1"):
        selectors.consecutive_absences(n=0)


def test_iop_below_minimum_is_the_flagged_enrollments_as_a_queryset(iop, clinician, week):
    # Two hours of a three-hour group are not enough for an adult (minimum 9 hours a week).
    enrolled = _enroll(iop, clinician, week - D(7), name="Under")
    assert list(selectors.iop_below_minimum(basis="attended", week_of=week, programs=[iop])) == [enrolled]
    assert list(selectors.iop_below_minimum(basis="scheduled", week_of=week, programs=[iop])) == []


def test_errors_say_exactly_what_is_accepted(week):
    with pytest.raises(ValueError, match=r"^basis is 'scheduled' or 'attended'$"):
        selectors.below_minimum(basis="booked", week_of=week)
    with pytest.raises(ValueError, match=r"^n is at least 1$"):
        selectors.consecutive_absences(n=0)


def test_an_enrollment_starting_on_the_monday_has_a_full_week(iop, clinician, week):
    from_monday = _enroll(iop, clinician, week, name="Monday")
    [hours] = selectors.weekly_hours(week_of=week, programs=[iop])
    assert hours.enrollment == from_monday and not hours.partial_week
    assert hours.scheduled_hours == Decimal("9.00")


def test_a_cancelled_session_is_not_scheduled_time(iop, clinician, week):
    enrollment = _enroll(iop, clinician, week - D(7), name="A")
    next_week = week + D(14)  # sessions not started yet can be cancelled
    monday = Session.objects.filter(series__program=iop, local_date=next_week).get()
    services.cancel_session(session=monday, reason="Facilitator ill")
    [hours] = selectors.weekly_hours(week_of=next_week, programs=[iop])
    assert hours.enrollment == enrollment and hours.scheduled_hours == Decimal("6.00")


def test_only_active_iop_programs_are_judged(iop, clinician, week, bed, residential):
    _enroll(iop, clinician, week - D(7), name="A")
    journey.admit_to_residential(patient=PatientFactory(), bed=bed, admitted_on=week - D(7), admitted_by=clinician)
    assert [w.enrollment.kind for w in selectors.weekly_hours(week_of=week)] == ["iop"]
    type(iop).objects.filter(pk=iop.pk).update(is_active=False)
    assert selectors.weekly_hours(week_of=week) == []


def test_weekly_hours_are_ordered_by_program_then_last_name_in_two_queries(
    iop, site, clinician, week, django_assert_num_queries
):
    second_program = ProgramFactory(site=site, iop=True, name="Morning IOP")
    make_series(second_program, clinician, starts_on=week - D(weeks=1))
    zed = _enroll(iop, clinician, week - D(7), name="Zed")
    abe = _enroll(iop, clinician, week - D(7), name="Abe")
    other = _enroll(second_program, clinician, week - D(7), name="Aaron")
    with django_assert_num_queries(2):
        weeks = selectors.weekly_hours(week_of=week)
        assert [(w.enrollment, w.patient.legal_last_name, w.enrollment.program.name) for w in weeks] == [
            (abe, "Abe", iop.name),
            (zed, "Zed", iop.name),
            (other, "Aaron", "Morning IOP"),
        ]


def test_the_flags_of_one_program_leave_the_others_out(iop, site, clinician, week):
    other_program = ProgramFactory(site=site, iop=True, name="Morning IOP")
    mine = _enroll(iop, clinician, week - D(7), name="Mine")  # 9 of 9 hours scheduled, none attended
    _enroll(other_program, clinician, week - D(7), name="Theirs")  # no group at all: 0 hours
    assert [w.enrollment for w in selectors.below_minimum(week_of=week, programs=[iop])] == []
    assert [w.enrollment for w in selectors.below_minimum(basis="attended", week_of=week, programs=[iop])] == [mine]
    assert [w.enrollment.program for w in selectors.below_minimum(week_of=week)] == [other_program]
    assert list(selectors.iop_below_minimum(basis="scheduled", week_of=week, programs=[iop])) == []
    assert selectors.above_maximum(week_of=week, programs=[other_program]) == []


# --- The default week, weeks back, the maximum, and absence runs (second mutation pass) -----------


def _group(program, clinician, starts_on, rule="FREQ=WEEKLY;BYDAY=MO,WE,TH"):
    series = make_series(program, clinician, starts_on=starts_on, rule=rule)
    services.generate_sessions(series_ids=[series.pk], from_on=starts_on)
    return series


@pytest.mark.instant("2027-03-08T03:00:00Z")  # Monday in London, still Sunday evening in New York
def test_by_default_each_program_is_judged_in_its_own_current_week(iop, site, clinician):
    london = ProgramFactory(site=site, iop=True, name="London IOP", time_zone="Europe/London")
    for program in (iop, london):
        _group(program, clinician, dt.date(2027, 2, 15))
    new_york = _enroll(iop, clinician, dt.date(2027, 2, 15), name="New York")
    uk = _enroll(london, clinician, dt.date(2027, 2, 15), name="London")
    nine = Decimal("9.00")

    current = {w.enrollment: (w.week_start, w.scheduled_hours) for w in selectors.weekly_hours()}
    assert current == {new_york: (dt.date(2027, 3, 1), nine), uk: (dt.date(2027, 3, 8), nine)}
    last = {w.enrollment: (w.week_start, w.scheduled_hours) for w in selectors.weekly_hours(weeks_back=1)}
    assert last == {new_york: (dt.date(2027, 2, 22), nine), uk: (dt.date(2027, 3, 1), nine)}


@pytest.mark.instant("2027-03-10T15:00:00Z")  # a Wednesday; the current week began on Monday 8 March
def test_the_minimum_is_judged_in_the_week_asked_for(iop, clinician):
    # No group at all: every full week in force is under the minimum.
    ongoing = _enroll(iop, clinician, dt.date(2027, 2, 15), name="Ongoing")
    from_this_monday = _enroll(iop, clinician, dt.date(2027, 3, 8), name="This week")
    left_this_monday = _enroll(iop, clinician, dt.date(2027, 2, 15), name="Left", ended_on=dt.date(2027, 3, 8))

    def flagged(**kwargs):
        return set(selectors.iop_below_minimum(basis="scheduled", programs=[iop], **kwargs))

    assert flagged() == {ongoing, from_this_monday}
    assert flagged(weeks_back=1) == {ongoing, left_this_monday}
    assert flagged(week_of=dt.date(2027, 3, 2)) == {ongoing, left_this_monday}
    assert {w.enrollment for w in selectors.below_minimum(weeks_back=1)} == {ongoing, left_this_monday}
    assert {w.week_start for w in selectors.below_minimum(weeks_back=1)} == {dt.date(2027, 3, 1)}
    assert {w.week_start for w in selectors.below_minimum()} == {dt.date(2027, 3, 8)}


@pytest.mark.instant("2027-03-10T15:00:00Z")
def test_above_the_maximum_in_the_week_and_programs_asked_for(site, clinician):
    band = {"iop_min_weekly_hours_adult": Decimal("3"), "iop_min_weekly_hours_adolescent": Decimal("3"),
            "iop_max_weekly_hours": Decimal("9")}  # fmt: skip
    first = ProgramFactory(site=site, iop=True, name="First IOP", **band)
    second = ProgramFactory(site=site, iop=True, name="Second IOP", **band)
    for program in (first, second):
        _group(program, clinician, dt.date(2027, 2, 15), rule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH")  # 12 hours a week
    left = _enroll(first, clinician, dt.date(2027, 2, 15), name="Left", ended_on=dt.date(2027, 3, 8))
    _enroll(second, clinician, dt.date(2027, 2, 15), name="Stays")

    over = selectors.above_maximum(week_of=dt.date(2027, 3, 1), programs=[first])
    assert [(w.enrollment, w.scheduled_hours) for w in over] == [(left, Decimal("12.00"))]
    assert selectors.above_maximum(programs=[first]) == []  # this week the enrollment has ended


@pytest.mark.instant("2027-03-10T15:00:00Z")  # a Wednesday, before the evening group
def test_absence_runs_name_the_missed_sessions_latest_first(
    iop, site, clinician, running_group, django_assert_num_queries
):
    start = running_group.starts_on
    twice, once, discharged = (_enroll(iop, clinician, start, name=n) for n in ("Twice", "Once", "Discharged"))
    latest, before = Session.objects.filter(series=running_group, ends_at__lt=clock.now()).order_by("-starts_at")[:2]
    services.record_attendance(
        session=before,
        marks=[services.Mark(e.patient_id, Attendance.ABSENT) for e in (twice, once, discharged)],
        recorded_by=clinician,
    )
    services.record_attendance(
        session=latest,
        marks=[
            services.Mark(twice.patient_id, Attendance.ABSENT),
            services.Mark(once.patient_id, Attendance.EXCUSED),
            services.Mark(discharged.patient_id, Attendance.ABSENT),
        ],
        recorded_by=clinician,
    )
    journey.discharge(episode=discharged.episode, on=clock.today(), disposition="completed", decided_by=clinician)

    with django_assert_num_queries(2):
        runs = selectors.consecutive_absences()
        names = [(r.enrollment.patient.legal_last_name, r.enrollment.program.site.name) for r in runs]
    assert names == [("Twice", site.name)]
    [run] = runs
    assert (run.enrollment, run.absences, run.last_absent_at) == (twice, 2, latest.starts_at)
    assert run.absent_at == (latest.starts_at, before.starts_at)
    # With n=1, the latest counted absence orders the runs: the excused session is skipped.
    assert [(r.enrollment, r.last_absent_at) for r in selectors.consecutive_absences(n=1)] == [
        (twice, latest.starts_at),
        (once, before.starts_at),
    ]
    other = ProgramFactory(site=site, iop=True, name="Morning IOP")
    assert selectors.consecutive_absences(programs=[other]) == []
    assert [r.enrollment for r in selectors.consecutive_absences(programs=[iop])] == [twice]
    assert set(selectors.iop_consecutive_absences(programs=[iop])) == {twice}
    assert set(selectors.iop_consecutive_absences(n=1, programs=[iop])) == {twice, once}
    assert list(selectors.iop_consecutive_absences(programs=[other])) == []


@pytest.mark.instant("2027-03-10T15:00:00Z")  # a Wednesday, before the evening group
def test_absences_of_a_residential_stay_or_a_reversed_step_down_are_not_iop_runs(
    iop, residential, bed, other_bed, clinician, today, running_group
):
    start = running_group.starts_on
    house_group = _group(residential, clinician, start)
    in_house = journey.admit_to_residential(patient=PatientFactory(), bed=bed, admitted_on=start, admitted_by=clinician)
    stay = journey.admit_to_residential(
        patient=PatientFactory(), bed=other_bed, admitted_on=start, admitted_by=clinician
    )
    step = journey.step_down(stay=stay, to_program=iop, on=today - D(10), reason="Stable", decided_by=clinician)
    services.generate_sessions(from_on=start)
    for series in (running_group, house_group):
        for session in Session.objects.filter(series=series, ends_at__lt=clock.now()).order_by("-starts_at")[:2]:
            patients = [b.patient_id for b in session.bookings.filter(cancelled_at=None)]
            marks = [services.Mark(pid, Attendance.ABSENT) for pid in patients]
            services.record_attendance(session=session, marks=marks, recorded_by=clinician)
    assert {r.enrollment for r in selectors.consecutive_absences(n=2)} == {step.to_placement}
    journey.reverse_transition(transition=step, reason="Recorded in error", reversed_by=clinician)
    assert selectors.consecutive_absences(n=2) == []
    # The residential stay missed its last two groups too: absent, but not from an IOP.
    assert Booking.objects.filter(placement=in_house, attendance=Attendance.ABSENT).count() == 2


def _rows_in_heap_order(*placements) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM programs_placement WHERE id = ANY(%s) ORDER BY ctid", [[p.pk for p in placements]]
        )
        return [row[0] for row in cursor.fetchall()]


def test_namesakes_of_one_program_are_listed_in_the_order_they_enrolled(iop, clinician, week):
    first = _enroll(iop, clinician, week - D(7), name="Nguyen")
    second = _enroll(iop, clinician, week - D(7), name="Nguyen")
    # Rewrite the first enrollment's row so that its live version lies after the second's in the table:
    # a scan then meets the second first, and without the id in the ordering the namesakes would come
    # out the other way round (so a page could swap them from one load to the next). The start moves
    # and comes back: an indexed column changed, so the index entries point at the new version too
    # (an update leaving every indexed column alone is a HOT update, still reached through the old slot).
    with connection.cursor() as cursor:
        for step in ("- 1", "+ 1"):
            cursor.execute(f"UPDATE programs_placement SET start_on = start_on {step} WHERE id = %s", [first.pk])
    assert _rows_in_heap_order(first, second) == [second.pk, first.pk]
    weeks = selectors.weekly_hours(week_of=week, programs=[iop])
    assert [w.enrollment for w in weeks] == [first, second]


def test_enrollments_given_are_judged_only_if_open_outpatient_and_of_an_active_program(iop, site, bed, clinician, week):
    from programs.models import Placement

    kept = _enroll(iop, clinician, week - D(7), name="Kept")
    cancelled = _enroll(iop, clinician, week - D(7), name="Cancelled")
    Placement.objects.filter(pk=cancelled.pk).update(cancelled_at=clock.now())
    closed_program = ProgramFactory(site=site, iop=True, name="Closed IOP")
    closed = _enroll(closed_program, clinician, week - D(7), name="Closed")
    type(closed_program).objects.filter(pk=closed_program.pk).update(is_active=False)
    stay = journey.admit_to_residential(
        patient=PatientFactory(legal_last_name="Resident"), bed=bed, admitted_on=week - D(3), admitted_by=clinician
    )
    given = list(
        Placement.objects.select_related("program", "patient").filter(
            pk__in=[kept.pk, cancelled.pk, closed.pk, stay.pk]
        )
    )
    assert len(given) == 4

    weeks = selectors.weekly_hours(week_of=week, enrollments=given)

    assert [w.enrollment for w in weeks] == [kept]
