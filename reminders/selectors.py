"""Reads for reminders."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from patients.models import Patient
from reminders.models import FollowUpItem, Reminder, ReminderStatus


def due_count(*, limit: int, now: dt.datetime | None = None) -> int:
    """How many rows are due (or have an expired lease), counting at most ``limit`` (cheap on a big table)."""
    now = now or timezone.now()
    due = Reminder.objects.filter(
        Q(status=ReminderStatus.PENDING, send_after__lte=now)
        | Q(status=ReminderStatus.SENDING, lease_expires_at__lt=now)
    )
    return len(due.values_list("id", flat=True)[:limit])


def reminders_for(*, patient: Patient) -> QuerySet[Reminder]:
    return Reminder.objects.filter(patient=patient).order_by("due_at", "channel")


def open_follow_ups(*, programs) -> QuerySet[FollowUpItem]:
    return FollowUpItem.objects.filter(program__in=programs, status=FollowUpItem.Status.OPEN).select_related(
        "patient", "program"
    )
