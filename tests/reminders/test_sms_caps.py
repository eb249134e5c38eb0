"""The SMS caps count the patient's own local day (issue 18), not the UTC day.

A patient in Los Angeles reads 23:30 on their clock while UTC is already 07:30 the next day; the
daily cap must still count the text they had that morning, and must not count last night's text
after their own midnight. The instants are built from a named local wall-clock time, so the tests
hold at any real hour.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from reminders import dispatch, services
from reminders.models import Reason, Reminder, ReminderStatus
from tests.reminders.conftest import reminder_for

pytestmark = pytest.mark.django_db
LOS_ANGELES = "America/Los_Angeles"
ALWAYS_AWAKE = {"quiet_hours_start": dt.time(0, 0), "quiet_hours_end": dt.time(0, 0)}


def la(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(LOS_ANGELES)).astimezone(dt.UTC)


@pytest.fixture
def texts(make_checkin, today, settings, locmem_channels):
    """A patient in Los Angeles with one text already sent at ``sent_at`` and another due at ``now``."""
    settings.REMINDERS_CHANNELS = ["sms"]

    def make(*, sent_at: dt.datetime, now: dt.datetime) -> Reminder:
        checkin = make_checkin(due_on=today + dt.timedelta(days=5), time_zone=LOS_ANGELES, **ALWAYS_AWAKE)
        services.plan_for(target="checkin", ids=[checkin.pk], now=la(today, 9))
        earlier = reminder_for(checkin, channel="sms", kind="day_before")
        Reminder.objects.filter(pk=earlier.pk).update(status=ReminderStatus.SENT, sent_at=sent_at, cleared_at=sent_at)
        due = reminder_for(checkin, channel="sms", kind="morning_of")
        Reminder.objects.filter(pk=due.pk).update(
            send_after=now - dt.timedelta(minutes=1), due_at=now, event_at=now + dt.timedelta(hours=12)
        )
        return due

    return make


def deliver(now: dt.datetime) -> dispatch.BatchResult:
    return dispatch.Dispatcher(now=now).deliver(dispatch.claim_due(limit=100, now=now))


def test_a_second_text_at_23_30_local_counts_the_morning_text_though_utc_is_the_next_day(texts, today, locmem_channels):
    day = today + dt.timedelta(days=1)
    now = la(day, 23, 30)
    assert now.date() == day + dt.timedelta(days=1)  # in UTC it is already tomorrow
    due = texts(sent_at=la(day, 10), now=now)  # 10:00 local: the same local day, the previous UTC day
    deliver(now)
    due.refresh_from_db()
    assert (due.status, due.status_reason) == (ReminderStatus.SUPPRESSED, Reason.DAILY_CAP)
    assert locmem_channels == []


def test_after_local_midnight_last_nights_text_no_longer_counts(texts, today, locmem_channels):
    day = today + dt.timedelta(days=1)
    now = la(day + dt.timedelta(days=1), 0, 30)  # 00:30 local, 08:30 UTC
    due = texts(sent_at=la(day, 23, 0), now=now)  # 23:00 local yesterday, but 07:00 UTC the same UTC day
    assert due.patient.time_zone == LOS_ANGELES
    deliver(now)
    due.refresh_from_db()
    assert due.status == ReminderStatus.SENT
    assert [m.channel for m in locmem_channels] == ["sms"]


def test_the_local_day_starts_at_local_midnight_to_the_minute(texts, today, locmem_channels):
    # A text cleared at 00:00 local counts towards the day; one at 23:59 the evening before does not.
    day = today + dt.timedelta(days=1)
    now = la(day, 12)
    at_midnight = texts(sent_at=la(day, 0, 0), now=now)
    deliver(now)
    at_midnight.refresh_from_db()
    assert at_midnight.status_reason == Reason.DAILY_CAP
    before_midnight = texts(sent_at=la(day, 0, 0) - dt.timedelta(minutes=1), now=now + dt.timedelta(minutes=5))
    deliver(now + dt.timedelta(minutes=5))
    before_midnight.refresh_from_db()
    assert before_midnight.status == ReminderStatus.SENT
