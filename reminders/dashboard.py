"""The reminders app's figures on the staff dashboard (registered in RemindersConfig.ready)."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from clinic import clock
from clinic.dashboard import Figure
from reminders import selectors
from reminders.models import FollowUpItem


def _worklist(which: str) -> str:
    return reverse("admin:reminders_worklist", args=[which])


def start_of_today() -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(clock.today(), dt.time.min))


def figures(*, user, sites, today: dt.date) -> list[Figure]:
    now = clock.now()
    result = []
    if user.has_perm("reminders.view_followupitem"):
        open_items = selectors.follow_ups_open(sites=sites)
        urgent = open_items.filter(urgency=FollowUpItem.Urgency.URGENT).count()
        count = open_items.count()
        result.append(
            Figure(
                "Open follow-up items",
                count,
                reverse("admin:reminders_worklist_follow_ups"),
                "warn" if count else "",
                f"{urgent} urgent" if urgent else "missed sessions, requests for help",
            )
        )
    if user.has_perm("reminders.view_reminder"):
        late = selectors.reminders_late(now=now, sites=sites).count()
        sent = selectors.reminders_sent_since(since=start_of_today(), sites=sites).count()
        failed = selectors.reminders_failed(now=now, sites=sites).count()
        result += [
            Figure("Reminders sent today", sent, _worklist("sent-today")),
            Figure(
                "Reminders late",
                late,
                _worklist("late"),
                "warn" if late else "",
                "due over 10 minutes ago: is a worker down?",
            ),
            Figure(
                "Reminders failed",
                failed,
                _worklist("failed"),
                "warn" if failed else "",
                "last 7 days",
            ),
        ]
    return result
