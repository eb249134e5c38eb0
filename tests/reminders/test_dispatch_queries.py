"""Delivering a batch costs the same number of queries whatever its size (no query per reminder)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reminders import dispatch, services
from reminders.models import Reminder, ReminderStatus, SiteMessagingProfile
from tests.factories import PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db

ALWAYS_AWAKE = {"quiet_hours_start": dt.time(0, 0), "quiet_hours_end": dt.time(0, 0)}


def _make_due(count, make_checkin, program, today) -> list[int]:
    checkins = [
        make_checkin(due_on=today + dt.timedelta(days=1), patient=PatientFactory(**ALWAYS_AWAKE), program=program)
        for _ in range(count)
    ]
    services.plan_for(target="checkin", ids=[c.pk for c in checkins])
    rows = Reminder.objects.filter(checkin__in=checkins, kind="day_before", channel="email")
    ids = list(rows.values_list("pk", flat=True))
    Reminder.objects.filter(pk__in=ids).update(send_after=timezone.now() - dt.timedelta(minutes=1))
    Reminder.objects.filter(status=ReminderStatus.PENDING).exclude(pk__in=ids).delete()
    return ids


def _queries_to_deliver() -> int:
    now = timezone.now()
    claims = dispatch.claim_due(limit=100, now=now)
    with CaptureQueriesContext(connection) as captured:
        dispatch.Dispatcher(now=now).deliver(claims)
    return len(captured.captured_queries)


def test_a_batch_of_12_costs_the_queries_of_a_batch_of_3(make_checkin, locmem_channels, today):
    program = ProgramFactory(iop=True, aftercare_checkin_offsets=[1])
    # Every message's sender is read from the site's profile: it must come with the batch, not per reminder.
    SiteMessagingProfile.objects.create(site=program.site, display_name="Appointments at Mill Road")

    small = _make_due(3, make_checkin, program, today)
    three = _queries_to_deliver()
    large = _make_due(12, make_checkin, program, today)
    twelve = _queries_to_deliver()

    assert Reminder.objects.filter(pk__in=small + large, status=ReminderStatus.SENT).count() == 15
    assert len(locmem_channels) == 15 and all("Appointments at Mill Road" in m.body for m in locmem_channels)
    assert twelve == three
