"""The first minutes of `make run` (issue 11, defect 7).

The dashboard said "Reminders late 81 — is a worker down?" before the first
dispatch, and at night nothing printed for hours because every demo patient was
inside quiet hours. The clock is set to 03:00 in New York (02:00 in Chicago):
the demo clinic's own zones are in quiet hours.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from clinic import clock
from patients.models import Patient
from programs.demo import ANY_HOUR_MRN
from reminders import dispatch, selectors
from reminders.models import Reminder, ReminderStatus

pytestmark = pytest.mark.django_db
NIGHT_IN_NEW_YORK = dt.datetime(2027, 1, 13, 3, 0, tzinfo=ZoneInfo("America/New_York"))


def _first_dispatch(now: dt.datetime) -> None:
    """What the worker does at the first beat: claim and deliver until nothing due is left."""
    while claims := dispatch.claim_due(limit=500, now=now):
        dispatch.Dispatcher(now=now).deliver(claims)


def test_the_demo_starts_with_no_late_reminder_and_one_patient_is_reminded_within_minutes(locmem_channels):
    with time_machine.travel(NIGHT_IN_NEW_YORK, tick=True):
        started = clock.now()
        call_command("seed_demo", "--no-progress")
        seeded = clock.now()

        # Nothing is overdue at start-up: every pending reminder may be sent from the seed on, not before.
        pending = Reminder.objects.filter(status=ReminderStatus.PENDING)
        assert pending.exists()
        assert not pending.filter(send_after__lt=started).exists()
        assert selectors.reminders_late(now=seeded).count() == 0

        first_beat = seeded + dt.timedelta(minutes=1)
        _first_dispatch(first_beat)

        # At 03:00 the clinic's patients are in quiet hours; the one with quiet hours off is reminded now.
        any_hour = Patient.objects.get(mrn=ANY_HOUR_MRN)
        assert locmem_channels, "no reminder printed at the first dispatch"
        assert {to for message in locmem_channels for to in message.to} <= {any_hour.phone, any_hour.email}
        assert Reminder.objects.filter(status=ReminderStatus.SENT).exclude(patient=any_hour).count() == 0
        held = Reminder.objects.filter(status=ReminderStatus.PENDING, send_after__gt=first_beat)
        assert held.exists()  # deferred to the end of their quiet hours, not late
        assert selectors.reminders_late(now=first_beat + selectors.LATE_AFTER).count() == 0
