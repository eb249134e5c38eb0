"""A session that has already started is history: no change, generation or booking adds it to anyone's hours.

Issue 11, defect 1: a series edited "from today" at 14:00 created this morning's
09:00 session and booked the track into it. Every test here runs at a chosen
instant, Wednesday 13 January 2027 at 14:00 in New York (the program's zone).
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from clinic.errors import DomainError
from programs import services as journey
from scheduling import services
from scheduling.models import Booking, Session
from tests.scheduling.conftest import make_series

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY = dt.date(2027, 1, 13)
AT_14 = dt.datetime(2027, 1, 13, 14, 0, tzinfo=NEW_YORK)


@pytest.fixture
def at_14():
    with time_machine.travel(AT_14, tick=True):
        yield AT_14


# Every day, written so that dateutil expands it, and so that PostgreSQL does (a plain weekly rule).
EVERY_DAY = pytest.mark.parametrize("rule", ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU"])


def _local_days(queryset):
    return sorted(queryset.values_list("local_date", flat=True))


@EVERY_DAY
def test_a_series_changed_from_today_to_a_time_already_past_starts_tomorrow(at_14, iop, clinician, patient, rule):
    series = make_series(iop, clinician, rule=rule, start_time=dt.time(18, 0), duration_minutes=60,
                         starts_on=dt.date(2027, 1, 11))  # fmt: skip
    journey.enroll_in_iop(patient=patient, program=iop, start_on=dt.date(2027, 1, 11), enrolled_by=clinician)
    assert Booking.objects.active().filter(patient=patient, session__local_date=WEDNESDAY).count() == 1  # 18:00

    change = services.change_series(series=series, from_on=WEDNESDAY, changed_by=clinician, start_time=dt.time(9, 0))

    new_sessions = Session.objects.filter(series=change.series)
    assert new_sessions.exists()
    assert min(_local_days(new_sessions)) == WEDNESDAY + dt.timedelta(days=1)
    assert all(s.starts_at > at_14 for s in new_sessions)
    # Today's 18:00 (not started) is gone and 09:00 (already past) was never made: nothing today.
    assert not Booking.objects.active().filter(patient=patient, session__local_date=WEDNESDAY).exists()
    assert not Session.objects.filter(series__program=iop, local_date=WEDNESDAY).exists()


@EVERY_DAY
def test_a_series_changed_in_place_does_not_bring_back_a_started_occurrence(at_14, iop, clinician, patient, rule):
    # A series that starts today is changed in place (no split): its new 09:00 today has already started.
    series = make_series(iop, clinician, rule=rule, start_time=dt.time(18, 0), duration_minutes=60,
                         starts_on=WEDNESDAY)  # fmt: skip
    journey.enroll_in_iop(patient=patient, program=iop, start_on=WEDNESDAY, enrolled_by=clinician)

    change = services.change_series(series=series, from_on=WEDNESDAY, changed_by=clinician, start_time=dt.time(9, 0))

    assert change.series.pk == series.pk
    assert WEDNESDAY not in _local_days(Session.objects.filter(series=series))
    assert not Booking.objects.filter(patient=patient, starts_at__lte=at_14).exists()


def test_a_series_created_at_14_has_no_session_this_morning(at_14, iop, clinician):
    series = make_series(iop, clinician, rule="FREQ=DAILY", start_time=dt.time(9, 0), duration_minutes=60,
                         starts_on=WEDNESDAY)  # fmt: skip

    days = _local_days(Session.objects.filter(series=series))
    assert days[0] == WEDNESDAY + dt.timedelta(days=1)
    # The nightly run does not add it either.
    services.generate_sessions(series_ids=[series.pk])
    assert not Session.objects.filter(series=series, local_date=WEDNESDAY).exists()


def test_a_placement_starting_today_is_not_booked_into_this_mornings_group(at_14, iop, clinician, patient):
    series = make_series(iop, clinician, rule="FREQ=DAILY", start_time=dt.time(9, 0), duration_minutes=60,
                         starts_on=dt.date(2027, 1, 4))  # fmt: skip
    services.generate_sessions(series_ids=[series.pk], from_on=dt.date(2027, 1, 4))  # history: the groups that ran
    assert Session.objects.filter(series=series, local_date=WEDNESDAY).exists()

    journey.enroll_in_iop(patient=patient, program=iop, start_on=WEDNESDAY, enrolled_by=clinician)

    booked = sorted(Booking.objects.active().filter(patient=patient).values_list("session__local_date", flat=True))
    assert booked and booked[0] == WEDNESDAY + dt.timedelta(days=1)
    assert not Booking.objects.filter(patient=patient, starts_at__lte=at_14).exists()


def test_a_one_off_booking_into_a_started_session_is_refused(at_14, iop, clinician, patient):
    series = make_series(iop, clinician, rule="FREQ=DAILY", start_time=dt.time(13, 30), duration_minutes=60,
                         starts_on=dt.date(2027, 1, 4), books_enrolled=False)  # fmt: skip
    services.generate_sessions(series_ids=[series.pk], from_on=dt.date(2027, 1, 4))
    journey.enroll_in_iop(patient=patient, program=iop, start_on=dt.date(2027, 1, 11), enrolled_by=clinician)
    under_way = Session.objects.get(series=series, local_date=WEDNESDAY)  # 13:30 to 14:30: under way

    with pytest.raises(DomainError) as error:
        services.book_session(session=under_way, patient=patient)

    assert error.value.code == "session_locked"
    assert not Booking.objects.filter(patient=patient).exists()
