"""Reads for reminders."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, Q, QuerySet, When

from clinic import clock
from patients.models import Patient
from reminders.models import FollowUpItem, Reminder, ReminderStatus


def due_count(*, limit: int, now: dt.datetime | None = None) -> int:
    """How many rows are due (or have an expired lease), counting at most ``limit`` (cheap on a big table)."""
    now = now or clock.now()
    due = Reminder.objects.filter(
        Q(status=ReminderStatus.PENDING, send_after__lte=now)
        | Q(status=ReminderStatus.SENDING, lease_expires_at__lt=now)
    )
    return len(due.values_list("id", flat=True)[:limit])


def reminders_for(*, patient: Patient) -> QuerySet[Reminder]:
    return Reminder.objects.filter(patient=patient).order_by("due_at", "channel")


def patient_reminder_summary(*, patient: Patient, recent: int = 15, upcoming: int = 5) -> dict:
    """For the patient page: what went out, what was held back and why, and what is next.

    Cancelled reminders (their session was cancelled or moved) are left out: they were
    never meant to reach the patient and would bury the ones that matter.
    """
    rows = reminders_for(patient=patient).select_related("booking__session", "checkin")
    outcomes = (ReminderStatus.SENT, ReminderStatus.SUPPRESSED, ReminderStatus.FAILED)
    return {
        "recent": list(rows.filter(status__in=outcomes).order_by("-due_at")[:recent]),
        "upcoming": list(
            rows.filter(status__in=(ReminderStatus.PENDING, ReminderStatus.SENDING)).order_by("send_after")[:upcoming]
        ),
    }


def open_follow_ups(*, programs) -> QuerySet[FollowUpItem]:
    return FollowUpItem.objects.filter(program__in=programs, status=FollowUpItem.Status.OPEN).select_related(
        "patient", "program"
    )


# --- delivery health and follow-ups on the staff dashboard (each also backs an admin filter) -------
LATE_AFTER = dt.timedelta(minutes=10)
FAILED_WITHIN = dt.timedelta(days=7)


def _at_sites(queryset: QuerySet[Reminder], sites) -> QuerySet[Reminder]:
    if sites is None:
        return queryset
    return queryset.filter(
        Q(checkin__plan__program__site__in=sites) | Q(booking__session__series__program__site__in=sites)
    )


def reminders_late(*, now: dt.datetime, sites=None) -> QuerySet[Reminder]:
    """Due more than ten minutes ago and not yet out: the pipeline is behind (or a worker is down)."""
    stuck = Q(status=ReminderStatus.PENDING, send_after__lte=now - LATE_AFTER) | Q(
        status=ReminderStatus.SENDING, lease_expires_at__lt=now
    )
    return _at_sites(Reminder.objects.filter(stuck), sites)


def reminders_sent_since(*, since: dt.datetime, sites=None) -> QuerySet[Reminder]:
    return _at_sites(Reminder.objects.filter(status=ReminderStatus.SENT, sent_at__gte=since), sites)


def reminders_failed(*, now: dt.datetime, sites=None) -> QuerySet[Reminder]:
    """Given up on in the last week (the provider refused, or retries ran out): staff may need to call."""
    return _at_sites(Reminder.objects.filter(status=ReminderStatus.FAILED, updated_at__gte=now - FAILED_WITHIN), sites)


def follow_ups_open(*, sites=None) -> QuerySet[FollowUpItem]:
    items = FollowUpItem.objects.filter(status=FollowUpItem.Status.OPEN)
    return items if sites is None else items.filter(program__site__in=sites)


def follow_up_rows(queryset: QuerySet[FollowUpItem]) -> list[FollowUpItem]:
    """The rows of the follow-ups worklist in one query: urgent first, then the oldest."""
    urgent_first = Case(When(urgency=FollowUpItem.Urgency.URGENT, then=0), default=1)
    return list(queryset.select_related("patient", "program__site").order_by(urgent_first, "created_at", "id"))
