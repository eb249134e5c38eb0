"""What a reminder can be about: a small registry of *targets*.

A target kind (an aftercare check-in now, a session booking later) tells the
pipeline four things, all set-based so planning and dispatch stay a handful of
queries however many rows there are:

* ``plan_sql(ids=None, now=...)``: the reminders it wants, as one SELECT of
  ``(target_id, patient_id, kind, due_at, event_at, key)`` that ``services.plan_for`` turns
  into a single ``INSERT ... SELECT`` (planning never loops over rows in Python).
  ``ids=None`` means every live target (the periodic sweep); a list restricts it to those
  targets (right after they are created). ``plan(...)`` is the same plan written out in
  Python, as ``PlannedReminder`` values: the readable reference the tests hold the SQL to.
* ``stale()``: pending/sending reminders whose target is no longer valid, as a
  queryset the planner cancels in one UPDATE.
* ``load(ids)``: the targets of a batch, with what ``is_still_valid`` and ``details`` read.
* ``is_still_valid(target, now=...)`` and ``details(target)``: the send-time re-check
  and the discreet render context.

A Reminder row points at its target through an explicit nullable foreign key named
``fk_field`` (a CHECK constraint keeps exactly one set while the reminder is pending or
sending). Adding a target is: an FK + migration widening the CHECK, a class here, one
line in ``TARGETS``, and calls to ``services.plan_for`` / ``services.cancel_for`` from the
services that create, cancel and move the target (see scheduling.services for bookings).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F, Q, QuerySet

from patients.models import Patient
from programs.models import AftercareCheckIn, AftercarePlan, Program, Site
from reminders.models import Reminder, ReminderStatus
from scheduling.models import Booking, Session, SessionSeries, SessionStatus


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

    def plan_sql(self, *, ids: Iterable[int] | None, now: dt.datetime) -> tuple[str, dict[str, Any]]: ...

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

    def plan_sql(self, *, ids: Iterable[int] | None, now: dt.datetime) -> tuple[str, dict[str, Any]]:
        schedule = settings.REMINDERS_CHECKIN_SCHEDULE
        local_day_end = "(c.due_on + 1)::timestamp AT TIME ZONE pt.time_zone"
        sql = f"""
            SELECT c.id AS target_id, pl.patient_id, k.kind,
                   (c.due_on + k.day_offset + k.at) AT TIME ZONE pt.time_zone AS due_at, {local_day_end} AS event_at,
                   'checkin:' || c.public_id || ':' || to_char(c.due_on, 'YYYYMMDD') || ':' || k.kind AS key
              FROM {AftercareCheckIn._meta.db_table} c
              JOIN {AftercarePlan._meta.db_table} pl ON pl.id = c.plan_id
              JOIN {Patient._meta.db_table} pt ON pt.id = pl.patient_id
             CROSS JOIN unnest(%(kinds)s::text[], %(offsets)s::int[], %(times)s::time[]) AS k(kind, day_offset, at)
             WHERE c.status = %(scheduled)s AND pl.status = %(active)s AND c.due_on >= %(since)s
               AND {local_day_end} > %(now)s
        """
        params = {
            "kinds": list(schedule),
            "offsets": [offset for offset, _ in schedule.values()],
            "times": [at for _, at in schedule.values()],
            "scheduled": AftercareCheckIn.Status.SCHEDULED,
            "active": AftercarePlan.Status.ACTIVE,
            "since": (now - dt.timedelta(days=1)).date(),
            "now": now,
        }
        if ids is not None:
            sql += " AND c.id = ANY(%(ids)s)"
            params["ids"] = list(ids)
        return sql, params

    def stale(self) -> QuerySet[Reminder]:
        return Reminder.objects.filter(checkin__isnull=False).exclude(
            Q(checkin__status=AftercareCheckIn.Status.SCHEDULED) & Q(checkin__plan__status=AftercarePlan.Status.ACTIVE)
        )

    def load(self, ids: Iterable[int]) -> dict[int, AftercareCheckIn]:
        # The site's messaging profile rides along: the sender of every message is read from it.
        return AftercareCheckIn.objects.select_related("plan__program__site__messaging_profile").in_bulk(list(ids))

    def is_still_valid(self, target: AftercareCheckIn, *, now: dt.datetime) -> bool:
        return target.status == AftercareCheckIn.Status.SCHEDULED and target.plan.status == AftercarePlan.Status.ACTIVE

    def details(self, target: AftercareCheckIn) -> EventDetails:
        return EventDetails(label=self.label, day=target.due_on, starts_at=None, site=target.plan.program.site)


class BookingTarget:
    """Booked sessions: reminders the program's configured hours before the start (default 24 and 2)."""

    name = "booking"
    fk_field = "booking"
    label = "appointment"

    def _live(self) -> QuerySet[Booking]:
        # A discharge or step-up cancels the future bookings of the placement it ends, so an
        # active booking in a scheduled session is a patient still expected there.
        return Booking.objects.filter(cancelled_at__isnull=True, session__status=SessionStatus.SCHEDULED)

    def plan(self, *, ids: Iterable[int] | None, now: dt.datetime) -> Iterable[PlannedReminder]:
        # Only sessions inside the planning horizon: the outbox holds the next few days, not the
        # eight weeks of generated sessions; the sweep (every 15 minutes) moves the window along.
        horizon = now + dt.timedelta(hours=settings.REMINDERS_PLANNING_HORIZON_HOURS)
        bookings = self._live().filter(session__starts_at__gt=now, session__starts_at__lte=horizon)
        if ids is not None:
            bookings = bookings.filter(id__in=list(ids))
        rows = bookings.values_list(
            "id", "public_id", "patient_id", "session__starts_at", "session__series__program__session_reminder_hours"
        )
        for booking_id, public_id, patient_id, starts_at, hours in rows.iterator(chunk_size=2000):
            for before in sorted(set(hours or []), reverse=True):
                kind = f"{before}h"
                yield PlannedReminder(
                    target_id=booking_id,
                    patient_id=patient_id,
                    kind=kind,
                    due_at=starts_at - dt.timedelta(hours=before),
                    event_at=starts_at,
                    # The start is in the key: a moved session plans new reminders, the old ones go stale.
                    key=f"booking:{public_id}:{starts_at:%Y%m%dT%H%MZ}:{kind}",
                )

    def plan_sql(self, *, ids: Iterable[int] | None, now: dt.datetime) -> tuple[str, dict[str, Any]]:
        sql = f"""
            SELECT b.id AS target_id, b.patient_id, h.before || 'h' AS kind,
                   s.starts_at - make_interval(hours => h.before) AS due_at, s.starts_at AS event_at,
                   'booking:' || b.public_id || ':' || to_char(s.starts_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MI"Z"')
                   || ':' || h.before || 'h' AS key
              FROM {Booking._meta.db_table} b
              JOIN {Session._meta.db_table} s ON s.id = b.session_id
              JOIN {SessionSeries._meta.db_table} ss ON ss.id = s.series_id
              JOIN {Program._meta.db_table} p ON p.id = ss.program_id
             CROSS JOIN LATERAL (SELECT DISTINCT unnest(p.session_reminder_hours) AS before) AS h
             WHERE b.cancelled_at IS NULL AND s.status = %(scheduled)s
               AND s.starts_at > %(now)s AND s.starts_at <= %(horizon)s
        """
        params = {
            "scheduled": SessionStatus.SCHEDULED,
            "now": now,
            "horizon": now + dt.timedelta(hours=settings.REMINDERS_PLANNING_HORIZON_HOURS),
        }
        if ids is not None:
            sql += " AND b.id = ANY(%(ids)s)"
            params["ids"] = list(ids)
        return sql, params

    def stale(self) -> QuerySet[Reminder]:
        return Reminder.objects.filter(booking__isnull=False).exclude(
            Q(booking__cancelled_at__isnull=True)
            & Q(booking__session__status=SessionStatus.SCHEDULED)
            & Q(event_at=F("booking__session__starts_at"))
        )

    def load(self, ids: Iterable[int]) -> dict[int, Booking]:
        # The site's messaging profile rides along: the sender of every message is read from it.
        return Booking.objects.select_related("session__series__program__site__messaging_profile").in_bulk(list(ids))

    def is_still_valid(self, target: Booking, *, now: dt.datetime) -> bool:
        return target.cancelled_at is None and target.session.status == SessionStatus.SCHEDULED

    def details(self, target: Booking) -> EventDetails:
        session = target.session
        return EventDetails(
            label=self.label, day=session.local_date, starts_at=session.starts_at, site=session.series.program.site
        )


TARGETS: dict[str, ReminderTarget] = {"checkin": CheckInTarget(), "booking": BookingTarget()}
ACTIVE_STATUSES = (ReminderStatus.PENDING, ReminderStatus.SENDING)


def still_valid(kind: ReminderTarget, target: Any, reminder: Reminder, *, now: dt.datetime) -> bool:
    """The send-time re-check: the target is still valid and still at the time this reminder announces."""
    if target is None or not kind.is_still_valid(target, now=now):
        return False
    starts_at = kind.details(target).starts_at
    return starts_at is None or starts_at == reminder.event_at


def target_of(reminder: Reminder) -> tuple[ReminderTarget, int]:
    for target in TARGETS.values():
        target_id = getattr(reminder, f"{target.fk_field}_id")
        if target_id is not None:
            return target, target_id
    raise ValueError(f"Reminder {reminder.pk} has no target")  # the CHECK constraint makes this unreachable
