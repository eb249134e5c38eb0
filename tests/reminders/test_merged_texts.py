"""Merged texts (issue 11, defect 9): each appointment once, under its own local date, and nothing early.

The patient has two appointments: today at 18:35 and tomorrow at a later hour, in New York.
Each test chooses its instant (a Wednesday afternoon in New York) and goes through the real
planning (enrolling books the sessions and plans the 24 h and 2 h reminders) and dispatch.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from clinic import clock
from programs import services as journey
from reminders import dispatch
from reminders.models import Reminder, ReminderStatus
from tests.scheduling.conftest import make_series

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY = dt.date(2026, 12, 2)
THURSDAY = WEDNESDAY + dt.timedelta(days=1)


def _at(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


def _one_off(iop, clinician, *, on: dt.date, at: dt.time, name: str):
    make_series(iop, clinician, name=name, rule="FREQ=DAILY;COUNT=1", starts_on=on, start_time=at,
                duration_minutes=60)  # fmt: skip


@pytest.fixture
def two_appointments(iop, clinician, patient, settings, locmem_channels):
    """Call inside the chosen instant: books today 18:35 and tomorrow ``tomorrow_at``, plans their reminders."""
    settings.REMINDERS_CHANNELS = ["sms"]
    settings.REMINDERS_MERGE_EARLY_MINUTES = 15

    def make(*, tomorrow_at: dt.time) -> None:
        _one_off(iop, clinician, on=WEDNESDAY, at=dt.time(18, 35), name="Today")
        _one_off(iop, clinician, on=THURSDAY, at=tomorrow_at, name="Tomorrow")
        journey.enroll_in_iop(patient=patient, program=iop, start_on=WEDNESDAY, enrolled_by=clinician)
        assert patient.bookings.active().count() == 2

    return make


def _deliver() -> dispatch.BatchResult:
    now = clock.now()
    return dispatch.Dispatcher(now=now).deliver(dispatch.claim_due(limit=100, now=now))


def _status(patient, starts_at: dt.datetime, kind: str) -> str:
    return Reminder.objects.get(patient=patient, booking__session__starts_at=starts_at, kind=kind).status


def test_a_reminder_due_later_is_not_sent_early_and_an_appointment_is_listed_once(
    two_appointments, patient, locmem_channels
):
    # Wednesday 15:35 in New York. The booking is made now, so today's 24 h reminder is overdue
    # (due now); today's 2 h reminder is due at 16:35 and tomorrow's 24 h one at 19:35.
    with time_machine.travel(_at(WEDNESDAY, 15, 35), tick=False):
        two_appointments(tomorrow_at=dt.time(19, 35))
        _deliver()

    [message] = locmem_channels
    assert "Wed 2 Dec at 18:35" in message.body
    assert message.body.count("18:35") == 1 and "19:35" not in message.body, message.body
    today, tomorrow = _at(WEDNESDAY, 18, 35), _at(THURSDAY, 19, 35)
    assert _status(patient, today, "24h") == ReminderStatus.SENT
    # An hour before they are due, neither rode along: each waits for its own time.
    assert _status(patient, today, "2h") == ReminderStatus.PENDING
    assert _status(patient, tomorrow, "24h") == ReminderStatus.PENDING
    assert Reminder.objects.get(patient=patient, booking__session__starts_at=today, kind="2h").send_after == (
        _at(WEDNESDAY, 16, 35)
    )


def test_a_merged_text_lists_each_appointment_once_under_its_own_date(two_appointments, patient, locmem_channels):
    # Wednesday 17:00: today's 24 h and 2 h reminders are both overdue (one appointment), and
    # tomorrow's 24 h reminder is due at 17:10, inside the 15-minute window: one text for both days.
    with time_machine.travel(_at(WEDNESDAY, 17, 0), tick=False):
        two_appointments(tomorrow_at=dt.time(17, 10))
        _deliver()

    [message] = locmem_channels
    assert "reminders for Wed 2 Dec: appointment 18:35; Thu 3 Dec: appointment 17:10." in message.body, message.body
    assert message.body.count("18:35") == 1
    today, tomorrow = _at(WEDNESDAY, 18, 35), _at(THURSDAY, 17, 10)
    assert {_status(patient, today, "24h"), _status(patient, today, "2h"), _status(patient, tomorrow, "24h")} == {
        ReminderStatus.SENT
    }
    assert _status(patient, tomorrow, "2h") == ReminderStatus.PENDING


def test_the_window_is_the_setting(two_appointments, patient, settings, locmem_channels):
    # The same afternoon with no window: tomorrow's 24 h reminder (due in ten minutes) waits.
    with time_machine.travel(_at(WEDNESDAY, 17, 0), tick=False):
        two_appointments(tomorrow_at=dt.time(17, 10))
        settings.REMINDERS_MERGE_EARLY_MINUTES = 0
        _deliver()

    [message] = locmem_channels
    assert "Thu 3 Dec" not in message.body and "17:10" not in message.body, message.body
    assert _status(patient, _at(THURSDAY, 17, 10), "24h") == ReminderStatus.PENDING


def test_dates_are_the_patients_own(site):
    """A 19:35 New York appointment is 00:35 the next day for a patient in London: its date is that day."""
    from patients.models import Patient
    from reminders.content import render
    from reminders.targets import EventDetails

    evening = EventDetails(label="appointment", day=WEDNESDAY, starts_at=_at(WEDNESDAY, 19, 35), site=site)
    morning = EventDetails(label="appointment", day=THURSDAY, starts_at=_at(THURSDAY, 9, 0), site=site)
    london = Patient(time_zone="Europe/London")

    single = render(channel="sms", items=[evening], patient=london).body
    merged = render(channel="sms", items=[morning, evening, evening], patient=london).body

    assert "on Thu 3 Dec at 00:35" in single, single
    assert "reminders for Thu 3 Dec: appointment 00:35; appointment 14:00." in merged, merged
