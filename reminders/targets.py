"""What a reminder can be about: a small registry of *targets*.

A target kind (an aftercare check-in now, a session booking later) tells the
pipeline four things, all set-based so planning and dispatch stay a handful of
queries however many rows there are:

* ``plan(ids=None, now=...)``: the reminders it wants, as ``PlannedReminder`` values
  (key, patient, kind, due time, event time). ``ids=None`` means every live target
  (the periodic sweep); a list restricts it to those targets (right after they are created).
* ``stale()``: pending/sending reminders whose target is no longer valid, as a
  queryset the planner cancels in one UPDATE.
* ``load(ids)``: the targets of a batch, with what ``is_still_valid`` and ``details`` read.
* ``is_still_valid(target, now=...)`` and ``details(target)``: the send-time re-check
  and the discreet render context.

A Reminder row points at its target through an explicit nullable foreign key named
``fk_field`` (a CHECK constraint keeps exactly one set). Adding the booking target is:
a ``booking`` FK + migration widening the CHECK, a ``BookingTarget`` class here,
one line in ``TARGETS``, and calls to ``services.plan_for`` / ``services.cancel_for``
from the scheduling services that book, cancel and move.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet

from programs.models import AftercareCheckIn, AftercarePlan, Site
from reminders.models import Reminder, ReminderStatus


@dataclass(frozen=True)
class PlannedReminder:
    target_id: int
    patient_id: int
    kind: str
    due_at: dt.datetime
    event_at: dt.datetime
    # Identifies this reminder of this version of the target. A moved booking gets
    # new keys (its start time is part of them), so its new reminders are planned
    # while the old ones are cancelled as stale.
    key: str


@dataclass(frozen=True)
class EventDetails:
    """All a template may say about an event: nothing about why the patient comes."""

    label: str  # "appointment" or "check-in": neutral words only
    day: dt.date
    starts_at: dt.datetime | None  # None for a whole-day item (a check-in call on a day)
    site: Site | None


class ReminderTarget(Protocol):
    name: str
    fk_field: str

    def plan(self, *, ids: Iterable[int] | None, now: dt.datetime) -> Iterable[PlannedReminder]: ...

    def stale(self) -> QuerySet[Reminder]: ...

    def load(self, ids: Iterable[int]) -> dict[int, Any]: ...

    def is_still_valid(self, target: Any, *, now: dt.datetime) -> bool: ...

    def details(self, target: Any) -> EventDetails: ...


def _local(day: dt.date, at: dt.time, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=ZoneInfo(zone))


class CheckInTarget:
    """Aftercare check-ins: a reminder the day before and the morning of the due date, in the patient's zone."""

    name = "checkin"
    fk_field = "checkin"
    label = "check-in"

    def _live(self) -> QuerySet[AftercareCheckIn]:
        return AftercareCheckIn.objects.filter(
            status=AftercareCheckIn.Status.SCHEDULED, plan__status=AftercarePlan.Status.ACTIVE
        )

    def plan(self, *, ids: Iterable[int] | None, now: dt.datetime) -> Iterable[PlannedReminder]:
        checkins = self._live().filter(due_on__gte=(now - dt.timedelta(days=1)).date())
        if ids is not None:
            checkins = checkins.filter(id__in=list(ids))
        offsets = settings.REMINDERS_CHECKIN_SCHEDULE  # {"day_before": (-1, "10:00"), "morning_of": (0, "08:30")}
        rows = checkins.values_list("id", "public_id", "due_on", "plan__patient_id", "plan__patient__time_zone")
        for checkin_id, public_id, due_on, patient_id, zone in rows.iterator(chunk_size=2000):
            # The check-in may happen any time that day: a reminder is useful until the day ends.
            event_at = _local(due_on + dt.timedelta(days=1), dt.time(0, 0), zone)
            for kind, (day_offset, at) in offsets.items():
                due_at = _local(due_on + dt.timedelta(days=day_offset), dt.time.fromisoformat(at), zone)
                if event_at <= now:
                    continue
                yield PlannedReminder(
                    target_id=checkin_id,
                    patient_id=patient_id,
                    kind=kind,
                    due_at=due_at,
                    event_at=event_at,
                    key=f"checkin:{public_id}:{due_on:%Y%m%d}:{kind}",
                )

    def stale(self) -> QuerySet[Reminder]:
        return Reminder.objects.filter(checkin__isnull=False).exclude(
            Q(checkin__status=AftercareCheckIn.Status.SCHEDULED) & Q(checkin__plan__status=AftercarePlan.Status.ACTIVE)
        )

    def load(self, ids: Iterable[int]) -> dict[int, AftercareCheckIn]:
        return AftercareCheckIn.objects.select_related("plan__program__site").in_bulk(list(ids))

    def is_still_valid(self, target: AftercareCheckIn, *, now: dt.datetime) -> bool:
        return target.status == AftercareCheckIn.Status.SCHEDULED and target.plan.status == AftercarePlan.Status.ACTIVE

    def details(self, target: AftercareCheckIn) -> EventDetails:
        return EventDetails(label=self.label, day=target.due_on, starts_at=None, site=target.plan.program.site)


TARGETS: dict[str, ReminderTarget] = {"checkin": CheckInTarget()}
ACTIVE_STATUSES = (ReminderStatus.PENDING, ReminderStatus.SENDING)


def target_of(reminder: Reminder) -> tuple[ReminderTarget, int]:
    for target in TARGETS.values():
        target_id = getattr(reminder, f"{target.fk_field}_id")
        if target_id is not None:
            return target, target_id
    raise ValueError(f"Reminder {reminder.pk} has no target")  # the CHECK constraint makes this unreachable
