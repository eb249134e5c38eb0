"""Sessions come from the rule in the program's local time, once each, around closures and edits."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.errors import DomainError
from scheduling import services
from scheduling.models import Attendance, Booking, Session, SessionSeries, SessionStatus
from tests.factories import PatientFactory, ProgramFactory
from tests.scheduling.conftest import enroll_with_history, make_series, monday_weeks_ago

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")


def local_starts(series):
    return [
        (s.starts_at.astimezone(NEW_YORK).date(), s.starts_at.astimezone(NEW_YORK).time(), s.starts_at.hour)
        for s in Session.objects.filter(series=series).order_by("starts_at")
    ]


def test_a_session_at_18_stays_at_18_local_across_the_spring_change(iop, clinician):
    # America/New_York springs forward on Sunday 14 March 2027.
    series = make_series(
        iop, clinician, rule="FREQ=DAILY", starts_on=dt.date(2027, 3, 12), ends_on=dt.date(2027, 3, 16)
    )
    services.generate_sessions(series_ids=[series.pk], from_on=dt.date(2027, 3, 1), until=dt.date(2027, 3, 31))

    starts = local_starts(series)
    assert [day.day for day, _, _ in starts] == [12, 13, 14, 15, 16]
    assert {time for _, time, _ in starts} == {dt.time(18, 0)}
    # 18:00 EST is 23:00 UTC; 18:00 EDT is 22:00 UTC.
    assert [utc_hour for _, _, utc_hour in starts] == [23, 23, 22, 22, 22]


def test_a_session_at_18_stays_at_18_local_across_the_autumn_change(iop, clinician):
    # America/New_York falls back on Sunday 7 November 2027.
    series = make_series(
        iop, clinician, rule="FREQ=DAILY", starts_on=dt.date(2027, 11, 5), ends_on=dt.date(2027, 11, 9)
    )
    services.generate_sessions(series_ids=[series.pk], from_on=dt.date(2027, 11, 1), until=dt.date(2027, 11, 30))

    starts = local_starts(series)
    assert {time for _, time, _ in starts} == {dt.time(18, 0)}
    assert [utc_hour for _, _, utc_hour in starts] == [22, 22, 23, 23, 23]
    assert all(s.ends_at - s.starts_at == dt.timedelta(hours=3) for s in Session.objects.filter(series=series))


def test_generation_is_idempotent_and_rolls_to_the_horizon(iop, clinician, today, settings):
    settings.SCHEDULING_HORIZON_WEEKS = 8
    series = make_series(iop, clinician, starts_on=today)
    count = Session.objects.filter(series=series).count()
    assert 23 <= count <= 25  # three a week for eight weeks, give or take the edges of the window

    again = services.generate_sessions(series_ids=[series.pk])

    assert again.sessions_created == 0
    assert Session.objects.filter(series=series).count() == count
    series.refresh_from_db()
    assert series.generated_until >= today + dt.timedelta(weeks=8) - dt.timedelta(days=1)


def test_every_other_week_rule_is_anchored_on_the_first_date(iop, clinician):
    series = make_series(
        iop, clinician, rule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", starts_on=dt.date(2027, 1, 5), capacity=1,
        books_enrolled=False,
    )  # fmt: skip
    services.generate_sessions(series_ids=[series.pk], from_on=dt.date(2027, 1, 1), until=dt.date(2027, 2, 28))
    # Creating the series also generates its horizon from today, which after January 2027 lies past
    # this window: only the window's own sessions are checked.
    days = list(
        Session.objects.filter(series=series, local_date__lte=dt.date(2027, 2, 28))
        .order_by("local_date")
        .values_list("local_date", flat=True)
    )
    assert days == [dt.date(2027, 1, 5), dt.date(2027, 1, 19), dt.date(2027, 2, 2), dt.date(2027, 2, 16)]


def test_a_closed_day_has_no_session_and_closing_later_cancels_it(iop, clinician, patient, today):
    from programs import services as journey

    journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    first = today + dt.timedelta(days=7 - today.weekday())  # next Monday
    services.add_closure(site=iop.site, date=first + dt.timedelta(days=2), reason="Independence Day")  # Wednesday
    series = make_series(iop, clinician, starts_on=first)

    days = set(Session.objects.filter(series=series).values_list("local_date", flat=True))
    assert first + dt.timedelta(days=2) not in days and first in days

    thursday = Session.objects.get(series=series, local_date=first + dt.timedelta(days=3))
    assert thursday.bookings.active().count() == 1
    services.add_closure(site=iop.site, date=thursday.local_date, reason="Snow day")

    thursday.refresh_from_db()
    assert thursday.status == SessionStatus.CANCELLED and thursday.booked_count == 0
    assert thursday.bookings.get().cancel_reason == "session_cancelled"
    services.generate_sessions(series_ids=[series.pk])
    assert Session.objects.filter(series=series, local_date=thursday.local_date).count() == 1


def test_a_moved_occurrence_keeps_its_bookings_and_is_not_generated_again(iop, clinician, patient, today):
    from programs import services as journey

    journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    series = make_series(iop, clinician, starts_on=today + dt.timedelta(days=1))
    # A Monday's session moves to Tuesday, a day without a group (Mon/Wed/Thu), at every instant.
    session = Session.objects.filter(series=series, local_date__week_day=2).order_by("starts_at")[0]
    original = session.starts_at
    new_start = (session.starts_at + dt.timedelta(days=1)).replace(minute=30)

    services.move_session(session=session, starts_at=new_start, reason="Room repainted")
    services.generate_sessions(series_ids=[series.pk])

    session.refresh_from_db()
    assert session.starts_at == new_start and session.occurrence_start == original and session.is_moved
    assert not Session.objects.filter(series=series, starts_at=original).exists()
    booking = session.bookings.active().get()
    assert (booking.starts_at, booking.ends_at) == (session.starts_at, session.ends_at)


def test_a_move_outside_the_series_dates_or_onto_a_closed_day_is_refused(iop, clinician, today):
    series = make_series(iop, clinician, starts_on=today + dt.timedelta(days=1), ends_on=today + dt.timedelta(days=30))
    session = Session.objects.filter(series=series).first()

    with pytest.raises(DomainError) as outside:
        services.move_session(session=session, starts_at=session.starts_at + dt.timedelta(days=60))
    assert outside.value.code == "outside_series"

    closed_day = session.local_date + dt.timedelta(days=1)
    services.add_closure(site=iop.site, date=closed_day, reason="Staff training")
    with pytest.raises(DomainError) as closed:
        services.move_session(session=session, starts_at=session.starts_at + dt.timedelta(days=1))
    assert closed.value.code == "site_closed"
    session.refresh_from_db()
    assert session.starts_at == session.occurrence_start


def test_editing_a_series_from_a_date_leaves_the_past_and_attended_sessions_alone(iop, clinician, today):

    # Daily at local midnight, so today's session has always started when the test runs.
    start = monday_weeks_ago(today, 2)
    series = make_series(iop, clinician, rule="FREQ=DAILY", start_time=dt.time(0, 0), duration_minutes=60,
                         starts_on=start)  # fmt: skip
    services.generate_sessions(series_ids=[series.pk], from_on=start)
    patient = PatientFactory()
    enroll_with_history(patient=patient, program=iop, start_on=start, enrolled_by=clinician)
    local_today = services.local_today(iop.time_zone)
    todays = Session.objects.get(series=series, local_date=local_today)
    services.record_attendance(
        session=todays, marks=[services.Mark(patient_id=patient.pk, attendance=Attendance.PRESENT)],
        recorded_by=clinician,
    )  # fmt: skip
    past = {s.pk: (s.starts_at, s.room) for s in Session.objects.filter(series=series, local_date__lt=local_today)}

    change = services.change_series(
        series=series, from_on=local_today, changed_by=clinician, start_time=dt.time(19, 0), room="Room 9"
    )

    new = change.series
    assert new.pk != series.pk and new.replaces == series and new.starts_on == local_today
    series.refresh_from_db()
    assert series.ends_on == local_today - dt.timedelta(days=1)
    assert {s.pk: (s.starts_at, s.room) for s in Session.objects.filter(pk__in=past)} == past
    todays.refresh_from_db()
    assert todays.series_id == series.pk and todays.room == "Room 1"  # attended: kept as it was
    assert change.kept_sessions == 1 and change.removed_sessions > 0
    future = Session.objects.filter(series=new).order_by("starts_at")
    assert future.exists()
    assert {s.starts_at.astimezone(ZoneInfo(iop.time_zone)).time() for s in future} == {dt.time(19, 0)}
    assert {s.room for s in future} == {"Room 9"}
    assert not Session.objects.filter(series=series, local_date__gt=local_today).exists()
    # The enrolled patient follows the track onto the new sessions.
    assert Booking.objects.active().filter(patient=patient, session__series=new).count() == future.count()


def test_a_series_cannot_be_changed_in_the_past(running_group, clinician, today):
    with pytest.raises(DomainError) as error:
        services.change_series(series=running_group, from_on=today - dt.timedelta(days=3), changed_by=clinician,
                               room="Room 2")  # fmt: skip
    assert error.value.code == "invalid_schedule"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"rule": "FREQ=SOMETIMES"}, "rule"),
        ({"rule": "not a rule at all"}, "rule"),
        ({"rule": ""}, "rule"),
        ({"rule": "DTSTART:20270101T180000\nRRULE:FREQ=DAILY"}, "rule"),
        ({"rule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rule"),  # never happens
        ({"rule": "FREQ=DAILY;UNTIL=20260101T000000"}, "rule"),  # ends before the first date
        ({"capacity": 0}, "capacity"),
        ({"capacity": -3}, "capacity"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": -60}, "duration_minutes"),
        ({"ends_on": dt.date(2026, 12, 1)}, "ends_on"),
    ],
)
def test_bad_series_input_is_refused_and_nothing_is_written(iop, clinician, overrides, field):
    with pytest.raises(DomainError) as error:
        make_series(iop, clinician, **overrides)
    assert error.value.code == "invalid_schedule" and error.value.field == field
    assert not SessionSeries.objects.exists() and not Session.objects.exists()


def test_generating_twelve_weeks_for_many_series_takes_a_fixed_number_of_queries(
    clinician, today, django_assert_max_num_queries
):
    from programs import services as journey

    programs = [ProgramFactory(iop=True) for _ in range(4)]
    for program in programs:
        for _ in range(3):
            journey.enroll_in_iop(patient=PatientFactory(), program=program, start_on=today, enrolled_by=clinician)
    series = SessionSeries.objects.bulk_create(
        SessionSeries(
            program=programs[i % 4], name=f"Group {i}", kind="group_therapy", rule="FREQ=WEEKLY;BYDAY=MO,WE,TH",
            start_time=dt.time(9 + i % 10), duration_minutes=60, facilitator=clinician, capacity=10,
            starts_on=dt.date(2027, 1, 4),
        )
        for i in range(60)
    )  # fmt: skip
    # 2,160 sessions and their bookings: load the series, one INSERT of sessions (weekly rules are expanded by
    # PostgreSQL, so no closures to load), lock the sessions, one INSERT of bookings, one UPDATE of the series,
    # and the savepoint pair; then one INSERT planning the reminders of new bookings inside the planning horizon
    # (when the test runs close enough to these dates).
    with django_assert_max_num_queries(8):
        result = services.generate_sessions(
            series_ids=[s.pk for s in series], from_on=dt.date(2027, 1, 4), until=dt.date(2027, 3, 28)
        )

    assert result.sessions_created == 60 * 36 == Session.objects.count()
    # Each session's three enrolled patients, except where one patient's groups overlap (same hour, same day).
    assert result.bookings_created == Booking.objects.count() > 0
    assert all(s.booked_count <= 3 for s in Session.objects.all())


@pytest.mark.parametrize(
    "start_time, dst_day, utc_start",
    [
        (dt.time(18, 0), dt.date(2027, 11, 7), dt.datetime(2027, 11, 7, 23, 0, tzinfo=dt.UTC)),
        # 01:30 happens twice on the fall-back night: the first one (EDT), as zoneinfo's fold=0 reads it.
        (dt.time(1, 30), dt.date(2027, 11, 7), dt.datetime(2027, 11, 7, 5, 30, tzinfo=dt.UTC)),
        # 02:30 never happens on the spring-forward night: read with the offset before the change (03:30 EDT).
        (dt.time(2, 30), dt.date(2027, 3, 14), dt.datetime(2027, 3, 14, 7, 30, tzinfo=dt.UTC)),
    ],
)
def test_weekly_rules_expanded_in_sql_give_the_rows_dateutil_gives(iop, clinician, start_time, dst_day, utc_start):
    # Two series alike but for how the rule is written: the plain weekly rule is expanded by PostgreSQL,
    # the same rule with INTERVAL=1 spelt out by dateutil. Both run across both DST changes and two closures.
    in_sql, by_dateutil = "FREQ=WEEKLY;BYDAY=SU,WE", "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU,WE"
    assert services.weekday_mask(in_sql) is not None and services.weekday_mask(by_dateutil) is None
    closed = [dt.date(2027, 3, 10), dt.date(2027, 11, 3)]  # Wednesdays beside each change
    for day in closed:
        services.add_closure(site=iop.site, date=day, reason="Holiday")
    common = {"start_time": start_time, "duration_minutes": 90, "starts_on": dt.date(2027, 3, 1),
              "ends_on": dt.date(2027, 11, 30), "books_enrolled": False}  # fmt: skip
    sql_series = make_series(iop, clinician, rule=in_sql, **common)
    dateutil_series = make_series(iop, clinician, rule=by_dateutil, **common)
    services.generate_sessions(
        series_ids=[sql_series.pk, dateutil_series.pk], from_on=dt.date(2027, 3, 1), until=dt.date(2027, 11, 30)
    )

    def rows(series):
        return list(
            Session.objects.filter(series=series)
            .order_by("occurrence_start")
            .values_list("local_date", "occurrence_start", "starts_at", "ends_at", "duration_minutes", "capacity")
        )

    assert rows(sql_series) == rows(dateutil_series)
    assert len(rows(sql_series)) == 2 * 39 - len(closed)  # 39 weeks from 1 March to 30 November 2027
    days = {row[0]: row[2] for row in rows(sql_series)}
    assert not set(closed) & set(days)
    assert days[dst_day] == utc_start
    assert all(
        s.starts_at.astimezone(NEW_YORK).date() == s.local_date for s in Session.objects.filter(series=sql_series)
    )
