"""Writes for schedules: series, session generation, closures, bookings, attendance, calendar feeds.

Like the care-journey services: keyword-only, one transaction each, rows locked
before they change, a clear domain error before anything is written, and
PostgreSQL's constraints (seat counter within capacity, no overlapping bookings
for a patient) as the last word for races the checks cannot see.

Generation and track booking are set-based: a fixed handful of queries however
many series, sessions and patients are involved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic import clock, localtime
from clinic.db import translate_integrity_errors
from patients.models import Patient
from programs.models import Placement, Program, Site
from reminders import services as reminder_services
from reminders.models import FollowUpItem
from scheduling.errors import (
    DoubleBooked,
    InvalidAttendance,
    InvalidSchedule,
    OutsidePlacement,
    OutsideSeries,
    SessionCancelled,
    SessionFull,
    SessionLocked,
    SessionNotStarted,
    SiteClosed,
)
from scheduling.models import (
    PARTIAL_ATTENDANCE,
    Attendance,
    AttendanceRecord,
    Booking,
    BookingSource,
    CalendarFeed,
    CancelReason,
    Closure,
    PatientResponse,
    Session,
    SessionKind,
    SessionSeries,
    SessionStatus,
)

CONSTRAINT_ERRORS = {
    "session_booked_within_capacity": lambda: SessionFull("This session is full; every seat was just taken."),
    "booking_no_overlap_per_patient": lambda: DoubleBooked("The patient is already booked at an overlapping time."),
    "booking_one_per_patient": lambda: DoubleBooked("The patient is already booked into this session."),
    "series_capacity_positive": lambda: InvalidSchedule("Capacity must be at least 1.", field="capacity"),
    "series_duration_positive": lambda: InvalidSchedule("Duration must be at least 1 minute.", field="duration"),
    "reminder_active_has_one_target": lambda: SessionLocked(
        "A reminder for one of these sessions is being sent right now; try again in a minute."
    ),
}

# How far ahead of a date a rule is searched for its first occurrence. A rule
# that cannot occur (30 February) would otherwise be searched until year 9999.
RULE_PROBE_DAYS = 366
MAX_DURATION_MINUTES = 12 * 60


def local_today(time_zone: str) -> dt.date:
    return clock.local_today(time_zone)


def horizon_days() -> int:
    return settings.SCHEDULING_HORIZON_WEEKS * 7


# --- rules -------------------------------------------------------------------------------


RULE_EXAMPLE = "for example FREQ=WEEKLY;BYDAY=MO,WE,TH"
RULE_PARTS = ("FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST")


def _rule_problem(text: str) -> str:
    """What is wrong with a recurrence rule, in the words of the people who write them."""
    parts = [part.strip() for part in text.split(";") if part.strip()]
    for part in parts:
        name, equals, value = part.partition("=")
        if not equals or not value.strip():
            return f'The repeat rule has "{part}" where a NAME=VALUE pair belongs; {RULE_EXAMPLE}.'
        if name.strip().upper() not in RULE_PARTS:
            return f"The repeat rule has an unknown part {name.strip()}; use {', '.join(RULE_PARTS)} ({RULE_EXAMPLE})."
    if not any(part.upper().startswith("FREQ=") for part in parts):
        return f"The repeat rule must say how often with FREQ=DAILY, WEEKLY or MONTHLY; {RULE_EXAMPLE}."
    return (
        "The repeat rule could not be read: check the values (days MO TU WE TH FR SA SU, "
        f"FREQ=DAILY, WEEKLY or MONTHLY, COUNT a number, UNTIL a date like 20270630); {RULE_EXAMPLE}."
    )


def parse_rule(rule: str, *, dtstart: dt.datetime) -> rrule:
    """An RFC 5545 RRULE read by python-dateutil, anchored at the series' first local start."""
    text = (rule or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if not text:
        raise InvalidSchedule("Give a recurrence rule, for example FREQ=WEEKLY;BYDAY=MO,WE,TH.", field="rule")
    if "DTSTART" in text.upper() or "\n" in text:
        raise InvalidSchedule("Give only the RRULE; the first date and start time are separate fields.", field="rule")
    try:
        parsed = rrulestr(text, dtstart=dtstart)
    except (ValueError, TypeError, KeyError, IndexError):
        # dateutil's own words ("not enough values to unpack") mean nothing to a program admin.
        raise InvalidSchedule(_rule_problem(text), field="rule") from None
    if not isinstance(parsed, rrule):  # pragma: no cover - rrulestr returns an rruleset only when forced
        raise InvalidSchedule("Give a single RRULE.", field="rule")
    return parsed


def _first_start(series: SessionSeries) -> dt.datetime:
    # Naive local wall-clock time: the rule recurs in local time, so 18:00 stays
    # 18:00 across a daylight-saving change. It becomes aware only per occurrence.
    return dt.datetime.combine(series.starts_on, series.start_time)


def local_occurrences(series: SessionSeries, *, from_on: dt.date, until: dt.date) -> list[dt.datetime]:
    """The rule's naive local starts on the days ``from_on``..``until`` (inclusive) within the series' dates."""
    start = max(from_on, series.starts_on)
    end = min(until, series.ends_on) if series.ends_on else until
    if end < start:
        return []
    parsed = parse_rule(series.rule, dtstart=_first_start(series))
    return parsed.between(dt.datetime.combine(start, dt.time.min), dt.datetime.combine(end, dt.time.max), inc=True)


def validate_series(series: SessionSeries) -> None:
    """Refuse a series that cannot run: used by the services and by the admin form before anything is saved."""
    if series.kind not in SessionKind.values:
        raise InvalidSchedule(f"{series.kind!r} is not a session kind.", field="kind")
    if series.capacity is None or series.capacity <= 0:
        raise InvalidSchedule("Capacity must be at least 1.", field="capacity")
    if series.duration_minutes is None or series.duration_minutes <= 0:
        raise InvalidSchedule("Duration must be at least 1 minute.", field="duration_minutes")
    if series.duration_minutes > MAX_DURATION_MINUTES:
        raise InvalidSchedule(f"A session lasts at most {MAX_DURATION_MINUTES // 60} hours.", field="duration_minutes")
    if series.ends_on is not None and series.ends_on < series.starts_on:
        raise InvalidSchedule("The last date is before the first date.", field="ends_on")
    if not series.program.is_active:
        raise InvalidSchedule(f"{series.program.name} is not active.", field="program")
    probe_until = series.ends_on or series.starts_on + dt.timedelta(days=RULE_PROBE_DAYS)
    if not local_occurrences(series, from_on=series.starts_on, until=probe_until):
        raise InvalidSchedule(
            f"The rule {series.rule!r} has no session between {localtime.day(series.starts_on)} "
            f"and {localtime.day(probe_until)}.",
            field="rule",
        )


# --- series ------------------------------------------------------------------------------


def create_series(
    *,
    program: Program,
    name: str,
    kind: SessionKind | str,
    rule: str,
    start_time: dt.time,
    duration_minutes: int,
    facilitator: AbstractBaseUser,
    capacity: int,
    starts_on: dt.date,
    ends_on: dt.date | None = None,
    room: str = "",
    books_enrolled: bool = True,
) -> SessionSeries:
    """Plan a recurring session and generate its sessions up to the horizon (booking the enrolled)."""
    series = SessionSeries(
        program=program,
        name=name.strip() or SessionKind(kind).label,
        kind=kind,
        rule=rule.strip(),
        start_time=start_time,
        duration_minutes=duration_minutes,
        facilitator=facilitator,
        capacity=capacity,
        starts_on=starts_on,
        ends_on=ends_on,
        room=room.strip(),
        books_enrolled=books_enrolled,
    )
    validate_series(series)
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        series.save()
        generate_sessions(series_ids=[series.pk])
    return series


EDITABLE_SERIES_FIELDS = frozenset(
    {"name", "kind", "rule", "start_time", "duration_minutes", "facilitator", "room", "capacity", "ends_on",
     "books_enrolled"}
)  # fmt: skip


@dataclass
class SeriesChange:
    series: SessionSeries  # the series that carries the schedule from the date on
    removed_sessions: int = 0
    kept_sessions: int = 0  # from the date on, kept because they have started or have attendance
    unplaced_one_off_bookings: list[Booking] = field(default_factory=list)


def change_series(*, series: SessionSeries, from_on: dt.date, changed_by: AbstractBaseUser, **changes) -> SeriesChange:
    """Change a series from ``from_on`` on; everything before, and anything with attendance, stays as it was.

    Once a series has run, the change splits it: the old series ends the day
    before ``from_on`` and a new one (``replaces`` the old) starts on it, so past
    sessions keep pointing at the rule they came from. Future sessions of the
    old series without attendance are removed and regenerated from the new rule;
    track patients are booked again and one-off bookings follow to the same day
    where they can.
    """
    unknown = set(changes) - EDITABLE_SERIES_FIELDS
    if unknown:
        raise InvalidSchedule(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        series = SessionSeries.objects.select_for_update().select_related("program").get(pk=series.pk)
        today = local_today(series.program.time_zone)
        if from_on < today:
            raise InvalidSchedule(
                f"A series can be changed from today ({localtime.day(today)}) on; past sessions are history.",
                field="from_on",
            )
        if series.ends_on is not None and from_on > series.ends_on:
            raise OutsideSeries(
                f"The series ends on {localtime.day(series.ends_on)}; {localtime.day(from_on)} is after it."
            )

        in_place = from_on <= series.starts_on
        if in_place:
            target = series
        else:
            target = SessionSeries(
                **{
                    f.attname: getattr(series, f.attname)
                    for f in SessionSeries._meta.concrete_fields
                    if f.attname
                    not in {"id", "public_id", "created_at", "updated_at", "generated_until", "replaces_id"}
                }
            )
            target.starts_on = from_on
            target.replaces = series
        for name, value in changes.items():
            setattr(target, name, value)
        target.generated_until = None
        validate_series(target)

        now = clock.now()
        future = Session.objects.filter(series=series, local_date__gte=from_on)
        removable = future.filter(starts_at__gt=now).exclude(_has_attendance())
        removable_ids = list(removable.order_by("pk").select_for_update(of=("self",)).values_list("pk", flat=True))
        one_offs = list(
            Booking.objects.active()
            .filter(session_id__in=removable_ids, source=BookingSource.ONE_OFF)
            .select_related("session")
        )
        kept = future.exclude(pk__in=removable_ids).count()
        removed = list(Booking.objects.filter(session_id__in=removable_ids).values_list("pk", flat=True))
        _cancel_reminders(removed)  # sent ones stay as history, their booking link set to NULL
        Booking.objects.filter(pk__in=removed).delete()
        Session.objects.filter(pk__in=removable_ids).delete()

        if not in_place:
            series.ends_on = from_on - dt.timedelta(days=1)
            series.save(update_fields=["ends_on", "updated_at"])
        target.save()
        generate_sessions(series_ids=[target.pk])

        unplaced = []
        for old in one_offs:
            session = Session.objects.filter(series=target, local_date=old.session.local_date).scheduled().first()
            try:
                if session is None:
                    raise OutsideSeries("no session that day")
                with transaction.atomic():
                    _book_one_off(session_id=session.pk, patient_id=old.patient_id)
            except (OutsideSeries, OutsidePlacement, SessionFull, DoubleBooked, SessionLocked, SessionCancelled):
                unplaced.append(old)
        return SeriesChange(
            series=target, removed_sessions=len(removable_ids), kept_sessions=kept, unplaced_one_off_bookings=unplaced
        )


# --- generation --------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationResult:
    series: int
    sessions_created: int
    bookings_created: int


def generate_sessions(
    *, series_ids: Iterable[int] | None = None, from_on: dt.date | None = None, until: dt.date | None = None
) -> GenerationResult:
    """Create the missing sessions of the series up to the horizon and book the enrolled patients into them.

    Idempotent: a session exists once per series and rule start (a unique
    constraint; conflicts are skipped), so a cancelled or moved occurrence is not
    brought back. ``from_on`` defaults to each program's local today and
    ``until`` to the horizon after it. Days a site is closed are skipped.

    Without ``from_on`` (the nightly task, a series created or changed) an
    occurrence that has already started is neither created nor booked: a change
    made at 14:00 must not add this morning's group to anyone's hours. An explicit
    ``from_on`` in the past is a backfill of history (the demo, an import, tests
    that need past sessions): it creates the rule's past sessions and books the
    placements of those days, as the record of what was scheduled.
    """
    qs = SessionSeries.objects.select_related("program")
    if series_ids is not None:
        qs = qs.filter(pk__in=list(series_ids))
    now = clock.now()
    backfill = from_on is not None
    earliest = from_on or now.date() - dt.timedelta(days=1)
    qs = qs.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=earliest))
    all_series = list(qs)
    if not all_series:
        return GenerationResult(series=0, sessions_created=0, bookings_created=0)

    windows: dict[int, tuple[dt.date, dt.date]] = {}
    for series in all_series:
        today = local_today(series.program.time_zone)
        windows[series.pk] = (from_on or today, until or today + dt.timedelta(days=horizon_days()))
    lo = min(w[0] for w in windows.values())
    hi = max(w[1] for w in windows.values())

    weekly: list[tuple[int, dt.date, dt.date, int]] = []  # expanded by PostgreSQL
    others: list[SessionSeries] = []  # expanded by dateutil here
    for series in all_series:
        mask = weekday_mask(series.rule)
        if mask is None or series.start_time.microsecond:  # dateutil drops microseconds; keep its reading
            others.append(series)
            continue
        start, end = windows[series.pk]
        start, end = max(start, series.starts_on), min(end, series.ends_on) if series.ends_on else end
        if start <= end:
            weekly.append((series.pk, start, end, mask))
    closed: dict[int, set[dt.date]] = defaultdict(set)
    if others:
        for site_id, day in Closure.objects.filter(
            site_id__in={s.program.site_id for s in others}, date__range=(lo, hi)
        ).values_list("site_id", "date"):
            closed[site_id].add(day)
    occurrences: list[tuple[int, dt.date, dt.datetime]] = []
    for series in others:
        zone = ZoneInfo(series.program.time_zone)
        start, end = windows[series.pk]
        for local in local_occurrences(series, from_on=start, until=end):
            if local.date() in closed[series.program.site_id]:
                continue
            starts_at = local.replace(tzinfo=zone).astimezone(dt.UTC)
            if not backfill and starts_at <= now:
                continue  # already started: never created by a change or the nightly run
            occurrences.append((series.pk, local.date(), starts_at))

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_SESSIONS_SQL,
                {
                    "stamp": clock.now(),
                    "scheduled": SessionStatus.SCHEDULED,
                    "backfill": backfill,
                    "now": now,
                    "w_ids": [w[0] for w in weekly],
                    "w_from": [w[1] for w in weekly],
                    "w_until": [w[2] for w in weekly],
                    "w_days": [w[3] for w in weekly],
                    "o_ids": [o[0] for o in occurrences],
                    "o_days": [o[1] for o in occurrences],
                    "o_starts": [o[2] for o in occurrences],
                },
            )
            created = cursor.rowcount
        booked = _book_track_sessions(
            series_ids=[s.pk for s in all_series], from_on=lo, until=hi, not_started_at=None if backfill else now
        )
        stale = [s for s in all_series if s.generated_until is None or s.generated_until < windows[s.pk][1]]
        for s in stale:
            s.generated_until = windows[s.pk][1]
        SessionSeries.objects.bulk_update(stale, ["generated_until"], batch_size=2000)
    return GenerationResult(series=len(all_series), sessions_created=created, bookings_created=booked)


# A rule that says no more than "these weekdays, every week" is most of what programs
# plan, and PostgreSQL expands it itself (below); any other rule goes through dateutil.
_WEEKLY_RULE = re.compile(r"FREQ=WEEKLY;BYDAY=((?:MO|TU|WE|TH|FR|SA|SU)(?:,(?:MO|TU|WE|TH|FR|SA|SU))*)")
_ISO_WEEKDAYS = {"MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6, "SU": 7}


def weekday_mask(rule: str) -> int | None:
    """For a rule that is exactly FREQ=WEEKLY;BYDAY=..., its ISO weekdays as bits (Monday is bit 1); else None."""
    match = _WEEKLY_RULE.fullmatch(rule.strip())
    if match is None:
        return None
    return sum({1 << _ISO_WEEKDAYS[day] for day in match.group(1).split(",")})


# One INSERT for every new session. Weekly rules are expanded here: each day of the
# series' window on one of its weekdays, unless the site is closed that day, at the
# start time in the program's zone (``w_*``: series, first and last day, weekday bits).
# Other rules come expanded by dateutil, already in UTC (``o_*``). A local time the
# clocks skip (02:30 on the spring-forward night) is read with the offset before the
# change, as PostgreSQL and zoneinfo both do; a local time that happens twice (01:30
# on the fall-back night) is the first of the two, as zoneinfo's fold=0 reads it,
# where PostgreSQL alone would take the second: hence ``early``, the time read three
# hours earlier and moved back, kept when it is the same wall-clock time.
# ON CONFLICT DO NOTHING: an occurrence that exists (perhaps moved or cancelled) stays as it is.
_INSERT_SESSIONS_SQL = """
INSERT INTO scheduling_session (public_id, created_at, updated_at, series_id, occurrence_start, starts_at, ends_at,
                                local_date, duration_minutes, status, cancelled_at, status_reason, facilitator_id,
                                room, capacity, booked_count)
SELECT gen_random_uuid(), %(stamp)s, %(stamp)s, ss.id, o.starts_at, o.starts_at,
       o.starts_at + make_interval(mins => ss.duration_minutes), o.day, ss.duration_minutes, %(scheduled)s, NULL, '',
       ss.facilitator_id, ss.room, ss.capacity, 0
  FROM (
    SELECT w.series_id, d.day, t.starts_at
      FROM unnest(%(w_ids)s::bigint[], %(w_from)s::date[], %(w_until)s::date[], %(w_days)s::int[])
           AS w(series_id, first_day, last_day, days)
      JOIN scheduling_sessionseries ss ON ss.id = w.series_id
      JOIN programs_program p ON p.id = ss.program_id
     CROSS JOIN LATERAL generate_series(w.first_day::timestamp, w.last_day::timestamp, interval '1 day') AS g(at)
     CROSS JOIN LATERAL (SELECT g.at::date AS day, g.at::date + ss.start_time AS local) AS d
     CROSS JOIN LATERAL (
           SELECT (d.local - interval '3 hours') AT TIME ZONE p.time_zone + interval '3 hours' AS early) AS e
     CROSS JOIN LATERAL (
           SELECT CASE WHEN e.early AT TIME ZONE p.time_zone = d.local THEN e.early
                       ELSE d.local AT TIME ZONE p.time_zone END AS starts_at) AS t
     WHERE (w.days >> extract(isodow FROM d.day)::int) & 1 = 1
       AND NOT EXISTS (SELECT 1 FROM scheduling_closure c WHERE c.site_id = p.site_id AND c.date = d.day)
       AND (%(backfill)s OR t.starts_at > %(now)s)
    UNION ALL
    SELECT * FROM unnest(%(o_ids)s::bigint[], %(o_days)s::date[], %(o_starts)s::timestamptz[])
  ) AS o(series_id, day, starts_at)
  JOIN scheduling_sessionseries ss ON ss.id = o.series_id
 ORDER BY o.series_id, o.starts_at
ON CONFLICT DO NOTHING
"""


# Book every patient placed in a series' program into its track sessions that
# fall inside their placement, first come first seated while seats last. Two
# statements for any number of sessions and patients, both finding the sessions
# by series, program and dates ({where}) rather than by thousands of ids: the
# first locks them in id order (so two generators cannot deadlock, and a one-off
# booking waits rather than overfilling); the second, whose snapshot is taken
# after those waits and so sees what the waited-for transactions booked, reads
# their free seats and books. ON CONFLICT DO NOTHING without a target also skips
# rows that hit the no-overlap exclusion constraint, so a patient already booked
# at that time is simply not booked twice. A booking cancelled by staff is a
# decision and is not re-made; one cancelled because the placement ended is, if
# the placement covers the day again (a reversal). Those patients (``taken``) are
# read once per session through its bookings: a NOT EXISTS per candidate was
# planned as a scan of each patient's whole booking history whenever the
# statistics did not know the window's sessions yet (the first run for new weeks).
_LOCK_TRACK_SQL = """
SELECT count(*) FROM (
    SELECT s.id FROM scheduling_session s JOIN scheduling_sessionseries ss ON ss.id = s.series_id
     WHERE s.status = %(scheduled)s AND ss.books_enrolled AND {where}
     ORDER BY s.id
       FOR UPDATE OF s
) locked
"""
_BOOK_TRACK_SQL = """
WITH sessions AS MATERIALIZED (
    SELECT s.id, s.starts_at, s.ends_at, s.local_date, s.capacity - s.booked_count AS seats, ss.program_id,
           ARRAY(SELECT b.patient_id FROM scheduling_booking b
                  WHERE b.session_id = s.id AND (b.cancelled_at IS NULL OR b.cancel_reason = 'staff')) AS taken
      FROM scheduling_session s
      JOIN scheduling_sessionseries ss ON ss.id = s.series_id
     WHERE s.status = %(scheduled)s AND ss.books_enrolled AND {where}
     ORDER BY s.id
       FOR UPDATE OF s
)
INSERT INTO scheduling_booking (public_id, created_at, updated_at, session_id, patient_id, placement_id, source,
                                starts_at, ends_at, cancel_reason, attendance, patient_response)
SELECT gen_random_uuid(), %(stamp)s, %(stamp)s, c.session_id, c.patient_id, c.placement_id, 'track',
       c.starts_at, c.ends_at, '', '', ''
  FROM (
    SELECT s.id AS session_id, p.patient_id, p.id AS placement_id, s.starts_at, s.ends_at, s.seats,
           row_number() OVER (PARTITION BY s.id ORDER BY p.start_on, p.id) AS queue
      FROM sessions s
      JOIN programs_placement p ON p.program_id = s.program_id
     WHERE p.cancelled_at IS NULL
       AND p.start_on <= s.local_date AND (p.ended_on IS NULL OR p.ended_on > s.local_date)
       AND (%(placement_id)s::bigint IS NULL OR p.id = %(placement_id)s::bigint)
       AND p.patient_id <> ALL(s.taken)
  ) c
 WHERE c.queue <= c.seats
 ORDER BY c.session_id, c.queue
ON CONFLICT DO NOTHING
RETURNING id, starts_at
"""


def _book_track_sessions(
    *,
    series_ids: list[int] | None = None,
    program_id: int | None = None,
    from_on: dt.date | None = None,
    until: dt.date | None = None,
    placement_id: int | None = None,
    not_started_at: dt.datetime | None = None,
) -> int:
    """Book the placed patients into track sessions; with ``not_started_at``, only sessions starting after it."""
    where, params = ["TRUE"], {}
    if not_started_at is not None:
        where.append("s.starts_at > %(not_started_at)s")
        params["not_started_at"] = not_started_at
    if series_ids is not None:
        where.append("s.series_id = ANY(%(series_ids)s)")
        params["series_ids"] = list(series_ids)
    if program_id is not None:
        where.append("ss.program_id = %(program_id)s")
        params["program_id"] = program_id
    if from_on is not None:
        where.append("s.local_date >= %(from_on)s")
        params["from_on"] = from_on
    if until is not None:
        where.append("s.local_date <= %(until)s")
        params["until"] = until
    now = clock.now()
    params.update(placement_id=placement_id, stamp=now, scheduled=SessionStatus.SCHEDULED)
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_TRACK_SQL.format(where=" AND ".join(where)), params)
        # FOR UPDATE again: sessions locked above are ours already; one committed in between is locked now.
        cursor.execute(_BOOK_TRACK_SQL.format(where=" AND ".join(where)), params)
        booked = cursor.fetchall()
    # Only bookings inside the planning horizon have reminders to plan now (the sweep plans
    # the others as they come into it): thousands of ids past it would be read for nothing.
    horizon = now + dt.timedelta(hours=settings.REMINDERS_PLANNING_HORIZON_HOURS)
    if soon := [pk for pk, starts_at in booked if now < starts_at <= horizon]:
        reminder_services.plan_for(target="booking", ids=soon, now=now)
    return len(booked)


# Reminders follow bookings in the same transaction: a booking made plans its reminders, a
# booking cancelled or moved cancels them (a moved one then plans new ones for the new time).
def _plan_reminders(booking_ids: list[int]) -> None:
    if booking_ids:
        reminder_services.plan_for(target="booking", ids=booking_ids)


def _cancel_reminders(booking_ids: list[int]) -> None:
    if booking_ids:
        reminder_services.cancel_for(target="booking", ids=booking_ids)


# --- placements (called by programs.services) -------------------------------------------


@dataclass(frozen=True)
class PlacementBookings:
    booked: int
    cancelled: int


def sync_placement_bookings(*, placement: Placement) -> PlacementBookings:
    """Make a placement's bookings match its dates: book its track sessions, cancel the ones it no longer covers.

    The care-journey services call this for every placement they start, end,
    cancel or reopen. Bookings with attendance are history and are left alone,
    and a placement is only ever booked into sessions that have not started yet
    (a step-down at 14:00 does not put the patient into this morning's group).
    """
    with transaction.atomic():
        placement = Placement.objects.get(pk=placement.pk)
        outside = Q(session__local_date__lt=placement.start_on)
        if placement.ended_on is not None:
            outside |= Q(session__local_date__gte=placement.ended_on)
        stale = Booking.objects.active().filter(placement=placement, attendance="")
        if placement.cancelled_at is None:
            stale = stale.filter(outside)
        now = clock.now()
        stale_ids = list(stale.values_list("pk", flat=True))
        cancelled = Booking.objects.filter(pk__in=stale_ids).update(
            cancelled_at=now, cancel_reason=CancelReason.PLACEMENT_ENDED, updated_at=now
        )
        _cancel_reminders(stale_ids)
        booked = 0
        if placement.cancelled_at is None:
            booked = _book_track_sessions(
                program_id=placement.program_id,
                from_on=placement.start_on,
                until=placement.ended_on - dt.timedelta(days=1) if placement.ended_on else None,
                placement_id=placement.pk,
                not_started_at=now,
            )
    return PlacementBookings(booked=booked, cancelled=cancelled)


# --- one session -------------------------------------------------------------------------


def _lock_session(session: Session | int) -> Session:
    pk = session.pk if isinstance(session, Session) else session
    return Session.objects.select_for_update(of=("self",)).select_related("series__program__site").get(pk=pk)


def _check_bookable(session: Session) -> None:
    if session.status == SessionStatus.CANCELLED:
        raise SessionCancelled(f"This session was cancelled ({session.status_reason or 'no reason given'}).")
    if session.starts_at <= clock.now():
        raise SessionLocked("This session has already started.")


def _book_one_off(*, session_id: int, patient_id: int) -> Booking:
    session = _lock_session(session_id)
    _check_bookable(session)
    program = session.series.program
    placement = Placement.objects.on(session.local_date).filter(patient_id=patient_id, program=program).first()
    if placement is None:
        raise OutsidePlacement(
            f"The patient has no placement in {program.name} on {localtime.day(session.local_date)}.", field="patient"
        )
    if Booking.objects.active().filter(session=session, patient_id=patient_id).exists():
        raise DoubleBooked("The patient is already booked into this session.")
    clash = (
        Booking.objects.active()
        .filter(patient_id=patient_id, starts_at__lt=session.ends_at, ends_at__gt=session.starts_at)
        .select_related("session__series")
        .first()
    )
    if clash is not None:
        raise DoubleBooked(
            f"The patient is already booked at an overlapping time ({clash.session.series.name}, "
            f"{localtime.when(clash.starts_at, program.time_zone)})."
        )
    if session.booked_count >= session.capacity:
        raise SessionFull(f"This session is full ({session.capacity} of {session.capacity} seats taken).")
    booking = Booking.objects.create(
        session=session,
        patient_id=patient_id,
        placement=placement,
        source=BookingSource.ONE_OFF,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
    )
    _plan_reminders([booking.pk])
    return booking


def book_session(*, session: Session, patient: Patient) -> Booking:
    """Book one patient into one session (an individual session, or an extra group)."""
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        return _book_one_off(session_id=session.pk, patient_id=patient.pk)


def cancel_booking(*, booking: Booking) -> Booking:
    """Staff take a patient out of one session; generation will not book them into it again."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        if booking.cancelled_at is not None:
            return booking
        if booking.attendance:
            raise SessionLocked("Attendance is recorded for this booking; correct the attendance instead.")
        booking.cancelled_at = clock.now()
        booking.cancel_reason = CancelReason.STAFF
        booking.save(update_fields=["cancelled_at", "cancel_reason", "updated_at"])
        _cancel_reminders([booking.pk])
        return booking


def respond_to_booking(*, booking: Booking, response: PatientResponse | str) -> Booking:
    """The patient confirms or declines a booked session ahead of time; they may change their mind until it starts.

    Declining does not cancel the booking: staff decide (an excused absence, a
    one-off session instead); the answer is there for them to see.
    """
    if response not in PatientResponse.values:
        raise InvalidAttendance(
            _("%(answer)r is not an answer; give confirmed or declined.") % {"answer": response}, field="response"
        )
    with transaction.atomic():
        booking = Booking.objects.select_for_update().select_related("session").get(pk=booking.pk)
        if booking.cancelled_at is not None:
            raise SessionCancelled(_("This booking was cancelled; there is nothing to answer."))
        if booking.session.status == SessionStatus.CANCELLED:
            raise SessionCancelled(_("This session was cancelled."))
        if booking.starts_at <= clock.now():
            raise SessionLocked(_("This session has already started."))
        booking.patient_response = response
        booking.patient_responded_at = clock.now()
        booking.save(update_fields=["patient_response", "patient_responded_at", "updated_at"])
        return booking


def _has_attendance() -> Exists:
    return Exists(Booking.objects.filter(session=OuterRef("pk")).exclude(attendance=""))


def _check_unlocked(session: Session, *, action: str) -> None:
    if session.starts_at <= clock.now():
        raise SessionLocked(f"This session has already started; it cannot be {action}.")
    if session.bookings.exclude(attendance="").exists():
        raise SessionLocked(f"Attendance is recorded for this session; it cannot be {action}.")


def _cancel_sessions(session_ids: list[int], *, reason: str) -> None:
    now = clock.now()
    booking_ids = list(Booking.objects.active().filter(session_id__in=session_ids).values_list("pk", flat=True))
    Booking.objects.filter(pk__in=booking_ids).update(
        cancelled_at=now, cancel_reason=CancelReason.SESSION_CANCELLED, updated_at=now
    )
    _cancel_reminders(booking_ids)
    Session.objects.filter(pk__in=session_ids).update(
        status=SessionStatus.CANCELLED, cancelled_at=now, status_reason=reason, updated_at=now
    )


def cancel_session(*, session: Session, reason: str) -> Session:
    """Cancel one occurrence (and its bookings); the series and the other sessions are untouched."""
    if not reason.strip():
        raise InvalidSchedule("Give the reason for the cancellation.", field="reason")
    with transaction.atomic():
        session = _lock_session(session)
        if session.status == SessionStatus.CANCELLED:
            raise SessionCancelled("This session is already cancelled.")
        _check_unlocked(session, action="cancelled")
        _cancel_sessions([session.pk], reason=reason.strip())
        session.refresh_from_db()
        return session


def move_session(*, session: Session, starts_at: dt.datetime, reason: str = "") -> Session:
    """Move one occurrence to another time; its bookings move with it. The series is untouched."""
    if timezone.is_naive(starts_at):
        raise InvalidSchedule("Give the new start with its time zone.", field="starts_at")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        session = _lock_session(session)
        if session.status == SessionStatus.CANCELLED:
            raise SessionCancelled("This session is cancelled; it cannot be moved.")
        _check_unlocked(session, action="moved")
        if starts_at <= clock.now():
            raise InvalidSchedule("A session can only be moved to a time in the future.", field="starts_at")
        series = session.series
        local_date = starts_at.astimezone(ZoneInfo(series.program.time_zone)).date()
        if local_date < series.starts_on or (series.ends_on is not None and local_date > series.ends_on):
            raise OutsideSeries(
                f"{localtime.day(local_date)} is outside the series' dates ({localtime.day(series.starts_on)} to "
                f"{localtime.day(series.ends_on)})."
                if series.ends_on
                else f"{localtime.day(local_date)} is before the series starts ({localtime.day(series.starts_on)}).",
                field="starts_at",
            )
        if Closure.objects.filter(site_id=series.program.site_id, date=local_date).exists():
            raise SiteClosed(f"{series.program.site.name} is closed on {localtime.day(local_date)}.", field="starts_at")
        session.starts_at = starts_at
        session.ends_at = starts_at + dt.timedelta(minutes=session.duration_minutes)
        session.local_date = local_date
        if reason.strip():
            session.status_reason = reason.strip()
        session.save(update_fields=["starts_at", "ends_at", "local_date", "status_reason", "updated_at"])
        # A patient booked into something else at the new time makes the
        # exclusion constraint refuse this, and the move is undone as a whole.
        moved = list(session.bookings.active().values_list("pk", flat=True))
        Booking.objects.filter(pk__in=moved).update(starts_at=session.starts_at, ends_at=session.ends_at)
        _cancel_reminders(moved)
        _plan_reminders(moved)
        return session


def add_closure(*, site: Site, date: dt.date, reason: str) -> Closure:
    """Close a site for a day: its programs' sessions that day are cancelled and not generated again."""
    if not reason.strip():
        raise InvalidSchedule("Give the reason for the closure, for example the holiday's name.", field="reason")
    with transaction.atomic():
        closure, _ = Closure.objects.get_or_create(site=site, date=date, defaults={"reason": reason.strip()})
        sessions = Session.objects.scheduled().filter(series__program__site=site, local_date=date)
        # Sessions already under way or with attendance are what happened; they stay.
        open_ids = list(
            sessions.filter(starts_at__gt=clock.now())
            .exclude(_has_attendance())
            .order_by("pk")
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
        )
        _cancel_sessions(open_ids, reason=f"Closed: {closure.reason}")
        return closure


# --- attendance --------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """One patient's attendance at a session. Minutes are given for late and left early only."""

    patient_id: int
    attendance: Attendance | str
    minutes_attended: int | None = None


def record_attendance(
    *, session: Session, marks: Iterable[Mark], recorded_by: AbstractBaseUser, reason: str = ""
) -> list[AttendanceRecord]:
    """Record attendance for a whole group in one call. A changed mark is a correction and needs ``reason``.

    Each recording or correction is an append-only AttendanceRecord (who, what,
    when, and what it replaced); the booking carries the latest for queries.
    """
    marks = list(marks)
    with transaction.atomic():
        session = _lock_session(session)
        if session.status == SessionStatus.CANCELLED:
            raise SessionCancelled("This session was cancelled; there is no attendance to record.")
        if session.starts_at > clock.now():
            raise SessionNotStarted(
                f"This session starts at {localtime.when(session.starts_at, session.series.program.time_zone)}; "
                "attendance is recorded once it has started."
            )
        bookings = {b.patient_id: b for b in Booking.objects.active().select_for_update().filter(session=session)}
        seen: set[int] = set()
        records, changed = [], []
        for mark in marks:
            if mark.patient_id in seen:
                raise InvalidAttendance("A patient is marked twice.", field="marks")
            seen.add(mark.patient_id)
            booking = bookings.get(mark.patient_id)
            if booking is None:
                raise InvalidAttendance("A marked patient is not booked into this session.", field="marks")
            minutes = _minutes_for(mark, duration=session.duration_minutes)
            if booking.attendance == mark.attendance and booking.minutes_attended == minutes:
                continue
            if booking.attendance and not reason.strip():
                raise InvalidAttendance(
                    "Attendance is already recorded for this patient; give the reason for the correction.",
                    field="reason",
                )
            records.append(
                AttendanceRecord(
                    booking=booking,
                    attendance=mark.attendance,
                    minutes_attended=minutes,
                    previous_attendance=booking.attendance,
                    previous_minutes_attended=booking.minutes_attended,
                    reason=reason.strip() if booking.attendance else "",
                    recorded_by=recorded_by,
                )
            )
            booking.attendance, booking.minutes_attended = mark.attendance, minutes
            # bulk_update does not apply auto_now: without this, the patient app's updated_since missed the mark.
            booking.updated_at = clock.now()
            changed.append(booking)
        Booking.objects.bulk_update(changed, ["attendance", "minutes_attended", "updated_at"])
        created = AttendanceRecord.objects.bulk_create(records)
        _follow_up_missed_sessions(
            session=session, placement_ids=[b.placement_id for b in changed if b.attendance == Attendance.ABSENT]
        )
        return created


def _follow_up_missed_sessions(*, session: Session, placement_ids: list[int]) -> list[FollowUpItem]:
    """Open a staff follow-up when an absence is a patient's Nth in a row (never a message to the patient).

    Exactly the Nth: a third absence in a row does not open a second item, and an open
    item for the same patient and program is not repeated. One query for the whole group.
    """
    n = settings.SCHEDULING_MISSED_SESSIONS_FOLLOW_UP
    if not placement_ids or n < 1:
        return []
    recent = (
        Booking.objects.active()
        .filter(placement_id__in=placement_ids)
        .exclude(attendance="")
        .exclude(attendance=Attendance.EXCUSED)
        .annotate(recent=Window(RowNumber(), partition_by=F("placement_id"), order_by=F("starts_at").desc()))
        .filter(recent__lte=n + 1)
        .values_list("placement_id", "attendance", "recent")
    )
    runs: dict[int, list[str]] = defaultdict(lambda: [""] * (n + 1))
    for placement_id, attendance, position in recent:
        runs[placement_id][position - 1] = attendance
    reached = [
        pk
        for pk, marks in runs.items()
        if all(m == Attendance.ABSENT for m in marks[:n]) and marks[n] != Attendance.ABSENT
    ]
    details = f"{n} sessions missed in a row, the latest on {localtime.day(session.local_date)}."
    items = [
        FollowUpItem(
            program_id=program_id, patient_id=patient_id, kind=FollowUpItem.Kind.MISSED_SESSIONS, details=details
        )
        for patient_id, program_id in Placement.objects.filter(pk__in=reached).values_list("patient_id", "program_id")
    ]
    # The database keeps one open missed-sessions item per patient and program (a partial unique
    # index); an item already open, or one opened by a concurrent recording, is skipped.
    return FollowUpItem.objects.bulk_create(items, ignore_conflicts=True)


def _minutes_for(mark: Mark, *, duration: int) -> int:
    if mark.attendance not in Attendance.values:
        raise InvalidAttendance(f"{mark.attendance!r} is not an attendance status.", field="attendance")
    if mark.attendance in PARTIAL_ATTENDANCE:
        label = Attendance(mark.attendance).label.lower()
        if mark.minutes_attended is None or not 0 < mark.minutes_attended < duration:
            raise InvalidAttendance(
                f"For {label}, give the minutes attended (1 to {duration - 1} of a {duration}-minute session).",
                field="minutes_attended",
            )
        return mark.minutes_attended
    if mark.minutes_attended is not None:
        raise InvalidAttendance("Minutes attended are given only for late and left early.", field="minutes_attended")
    return duration if mark.attendance == Attendance.PRESENT else 0


def correct_attendance(
    *,
    booking: Booking,
    attendance: Attendance | str,
    reason: str,
    corrected_by: AbstractBaseUser,
    minutes_attended: int | None = None,
) -> AttendanceRecord:
    """Correct one patient's attendance, keeping the previous value, who changed it, when and why."""
    if not reason.strip():
        raise InvalidAttendance("Give the reason for the correction.", field="reason")
    if not booking.attendance:
        raise InvalidAttendance("No attendance is recorded for this booking yet; record it first.")
    records = record_attendance(
        session=booking.session,
        marks=[Mark(patient_id=booking.patient_id, attendance=attendance, minutes_attended=minutes_attended)],
        recorded_by=corrected_by,
        reason=reason,
    )
    if not records:
        raise InvalidAttendance("That is already the recorded attendance.")
    return records[0]


# --- calendar feed -----------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_calendar_feed(*, patient: Patient) -> str:
    """Give the patient a new private calendar token (returned once; only its hash is kept).

    Issuing again rotates it: the old URL stops working at once.
    """
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        CalendarFeed.objects.update_or_create(
            patient=patient,
            defaults={"token_hash": hash_token(token), "rotated_at": clock.now(), "revoked_at": None},
        )
    return token


def revoke_calendar_feed(*, patient: Patient) -> None:
    CalendarFeed.objects.filter(patient=patient, revoked_at__isnull=True).update(
        revoked_at=clock.now(), updated_at=clock.now()
    )
