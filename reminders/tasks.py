"""Celery entry points for reminders. Thin: they call services and carry no reminder data.

The beat task fans out; each delivery task claims its own rows from PostgreSQL, so a
task delivered twice, lost in a Redis restart or run by two beats at once changes
nothing: the rows are the queue, Redis only says "look now".
"""

from __future__ import annotations

import math

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from reminders import dispatch, selectors, services

# Database hiccups are the transient errors worth a task retry; provider errors are
# handled per reminder row (with their own backoff) inside the dispatcher.
TRANSIENT = (OperationalError, InterfaceError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=2, retry_backoff_max=30, retry_jitter=True, max_retries=3)
def dispatch_due_reminders() -> int:
    """Every minute: start as many delivery tasks as the backlog needs (bounded)."""
    batch = settings.REMINDERS_BATCH_SIZE
    due = selectors.due_count(limit=batch * settings.REMINDERS_MAX_FANOUT)
    tasks = min(settings.REMINDERS_MAX_FANOUT, math.ceil(due / batch))
    for _ in range(tasks):
        # A delivery task that waited in the queue past the next beat is useless: let it expire.
        deliver_due_reminders.apply_async(expires=settings.REMINDERS_DELIVER_TASK_EXPIRES)
    return tasks


@shared_task(autoretry_for=TRANSIENT, retry_backoff=2, retry_backoff_max=30, retry_jitter=True, max_retries=3)
def deliver_due_reminders() -> dict[str, int]:
    return vars(dispatch.deliver_due())


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=60, retry_jitter=True, max_retries=3)
def plan_reminders() -> dict[str, int]:
    """The periodic sweep: plan missing reminders, cancel those of targets that are gone."""
    return services.sweep()
