"""Reads for schedules: weekly-hours compliance, absences, a patient's upcoming sessions, the calendar feed."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, DateField, DateTimeField, Exists, F, Func, OuterRef, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import Cast, RowNumber

from clinic import clock
from patients.models import Patient
from programs.models import Placement, PlacementKind, Program
from programs.selectors import how_it_began
from scheduling.models import (
    PARTIAL_ATTENDANCE,
    Attendance,
    Booking,
    CalendarFeed,
    CancelReason,
    Session,
    SessionStatus,
)
from scheduling.services import hash_token, local_today

MINUTES_PER_HOUR = Decimal(60)


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week (weeks run Monday to Sunday)."""
    return day - dt.timedelta(days=day.weekday())


class _AgainstTheBand:
    """Hours of a week judged against the ASAM band (needs scheduled/attended/minimum/maximum hours)."""

    @property
    def below_minimum_scheduled(self) -> bool:
        return self.scheduled_hours < self.minimum_hours

    @property
    def below_minimum_attended(self) -> bool:
        return self.attended_hours < self.minimum_hours

    @property
    def above_maximum(self) -> bool:
        return self.scheduled_hours > self.maximum_hours


@dataclass(frozen=True)
class WeeklyHours(_AgainstTheBand):
    """One IOP enrollment's week, Monday to Sunday in the program's time zone."""

    enrollment: Placement
    week_start: dt.date
    scheduled_hours: Decimal
    attended_hours: Decimal
    adolescent: bool  # by the patient's age on the week's Monday
    minimum_hours: Decimal  # the ASAM 2.1 band: adults 9-19, adolescents 6-19 (per the program's settings)
    maximum_hours: Decimal
    partial_week: bool  # the enrollment starts or ends inside the week, so the band cannot fairly apply

    @property
    def patient(self) -> Patient:
        return self.enrollment.patient


def weekly_hours(
    *,
    week_of: dt.date | None = None,
    programs: QuerySet[Program] | list[Program] | None = None,
    patient: Patient | None = None,
    weeks_back: int = 0,
    enrollments: Iterable[Placement] | None = None,
) -> list[WeeklyHours]:
    """Scheduled and attended hours of every IOP enrollment in force during the week.

    ``week_of`` is any day of the week; by default the current week in each
    program's own time zone, or the week ``weeks_back`` weeks before it (1: each program's
    last complete week). Two queries: the enrollments, and their hours.
    ``enrollments``: placements already loaded with their program and patient (the patient app's
    own, from ``programs.selectors.patient_placements``): judged as given, one query fewer.
    """
    if enrollments is not None:
        enrollments = [
            e for e in enrollments if e.kind == PlacementKind.IOP and e.program.is_active and e.cancelled_at is None
        ]
    else:
        enrollments = (
            Placement.objects.not_cancelled()
            .filter(kind=PlacementKind.IOP, program__is_active=True)
            .select_related("patient", "program__site")
            .order_by("program_id", "patient__legal_last_name", "id")
        )
        if programs is not None:
            enrollments = enrollments.filter(program__in=programs)
        if patient is not None:
            enrollments = enrollments.filter(patient=patient)
    weeks: dict[int, dt.date] = {}
    candidates = []
    for enrollment in enrollments:
        day = week_of or local_today(enrollment.program.time_zone) - dt.timedelta(weeks=weeks_back)
        monday = week_start(day)
        sunday_next = monday + dt.timedelta(days=7)
        if enrollment.start_on < sunday_next and (enrollment.ended_on is None or enrollment.ended_on > monday):
            weeks[enrollment.pk] = monday
            candidates.append(enrollment)
    if not candidates:
        return []

    mondays = set(weeks.values())
    window = Q()
    for monday in mondays:
        window |= Q(session__local_date__gte=monday, session__local_date__lt=monday + dt.timedelta(days=7))
    totals = (
        Booking.objects.active()
        .filter(window, placement__in=candidates, session__status=SessionStatus.SCHEDULED)
        .values("placement_id", "session__local_date")
        .annotate(scheduled=Sum("session__duration_minutes"), attended=Sum("minutes_attended"))
        .order_by()
    )
    minutes: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in totals:
        monday = weeks[row["placement_id"]]
        if monday <= row["session__local_date"] < monday + dt.timedelta(days=7):
            minutes[row["placement_id"]][0] += row["scheduled"] or 0
            minutes[row["placement_id"]][1] += row["attended"] or 0

    result = []
    for enrollment in candidates:
        monday = weeks[enrollment.pk]
        program = enrollment.program
        adolescent = enrollment.patient.is_adolescent_on(monday)
        scheduled, attended = minutes[enrollment.pk]
        result.append(
            WeeklyHours(
                enrollment=enrollment,
                week_start=monday,
                scheduled_hours=(Decimal(scheduled) / MINUTES_PER_HOUR).quantize(Decimal("0.01")),
                attended_hours=(Decimal(attended) / MINUTES_PER_HOUR).quantize(Decimal("0.01")),
                adolescent=adolescent,
                minimum_hours=program.iop_min_weekly_hours_adolescent
                if adolescent
                else program.iop_min_weekly_hours_adult,
                maximum_hours=program.iop_max_weekly_hours,
                partial_week=enrollment.start_on > monday
                or (enrollment.ended_on is not None and enrollment.ended_on < monday + dt.timedelta(days=7)),
            )
        )
    return result


def below_minimum(
    *,
    basis: str = "scheduled",
    week_of: dt.date | None = None,
    programs=None,
    include_partial_weeks: bool = False,
    weeks_back: int = 0,
) -> list[WeeklyHours]:
    """Enrollments under the weekly minimum, by hours ``scheduled`` or ``attended``."""
    if basis not in ("scheduled", "attended"):
        raise ValueError("basis is 'scheduled' or 'attended'")
    return [
        w
        for w in weekly_hours(week_of=week_of, programs=programs, weeks_back=weeks_back)
        if getattr(w, f"below_minimum_{basis}") and (include_partial_weeks or not w.partial_week)
    ]


def above_maximum(*, week_of: dt.date | None = None, programs=None) -> list[WeeklyHours]:
    return [w for w in weekly_hours(week_of=week_of, programs=programs) if w.above_maximum]


@dataclass(frozen=True)
class AbsenceRun:
    enrollment: Placement
    absences: int
    last_absent_at: dt.datetime
    absent_at: tuple[dt.datetime, ...] = ()  # the starts of the missed sessions, the latest first


def consecutive_absences(*, n: int = 2, programs=None) -> list[AbsenceRun]:
    """Current IOP enrollments whose last ``n`` recorded sessions were all absences.

    An excused absence neither counts nor breaks the run: it is left out. A
    session without recorded attendance yet is not judged.
    """
    if n < 1:
        raise ValueError("n is at least 1")
    recorded = (
        Booking.objects.active()
        .filter(placement__kind=PlacementKind.IOP, placement__ended_on__isnull=True, placement__cancelled_at=None)
        .exclude(attendance="")
        .exclude(attendance=Attendance.EXCUSED)
        .annotate(recent=Window(RowNumber(), partition_by=F("placement_id"), order_by=F("starts_at").desc()))
        .filter(recent__lte=n)
    )
    if programs is not None:
        recorded = recorded.filter(placement__program__in=programs)
    runs: dict[int, list[Booking]] = defaultdict(list)
    for booking in recorded.values_list("placement_id", "attendance", "starts_at", named=True):
        runs[booking.placement_id].append(booking)
    flagged = {
        pk: tuple(sorted((b.starts_at for b in rows), reverse=True))
        for pk, rows in runs.items()
        if len(rows) == n and all(b.attendance == Attendance.ABSENT for b in rows)
    }
    enrollments = Placement.objects.filter(pk__in=flagged).select_related("patient", "program__site")
    return sorted(
        (
            AbsenceRun(enrollment=e, absences=n, last_absent_at=flagged[e.pk][0], absent_at=flagged[e.pk])
            for e in enrollments
        ),
        key=lambda run: run.last_absent_at,
        reverse=True,
    )


def upcoming_bookings(*, patient: Patient, now: dt.datetime | None = None) -> QuerySet[Booking]:
    """The patient's booked sessions that have not ended yet."""
    return (
        Booking.objects.active()
        .filter(patient=patient, ends_at__gt=now or clock.now(), session__status=SessionStatus.SCHEDULED)
        .select_related("session__series__program__site__messaging_profile")
        .order_by("starts_at")
    )


def patient_for_calendar_token(token: str) -> Patient | None:
    """The patient whose current, unrevoked feed token this is, or None."""
    if not token or len(token) > 100:
        return None
    feed = (
        CalendarFeed.objects.filter(token_hash=hash_token(token), revoked_at__isnull=True)
        .select_related("patient")
        .first()
    )
    return feed.patient if feed else None


# --- Staff admin panel (issue 6): the shift's schedule worklists and a patient's attendance ----------
# The dashboard's figures and the admin list filters behind them call these same functions, so a
# figure and the list it links to always agree. Each takes the programs (or sites) the user works at.

AWAITING_ATTENDANCE_DAYS = 7  # how far back an unrecorded session stays on the worklist
ABSENCE_RUN = 2  # "consecutive absences" on the dashboard: the last two recorded sessions missed


def sessions_today(*, sites=None, now: dt.datetime | None = None) -> QuerySet[Session]:
    """The scheduled sessions on each program's own local today, in start order: a shift's "today's sessions".

    The day is the program's (a Chicago site's evening group is still "today" after midnight UTC).
    """
    now = now or clock.now()
    zones = set(Program.objects.values_list("time_zone", flat=True))
    today = Q(pk__in=[])
    for zone in zones:
        today |= Q(series__program__time_zone=zone, local_date=now.astimezone(ZoneInfo(zone)).date())
    sessions = Session.objects.scheduled().filter(today)
    if sites is not None:
        sessions = sessions.filter(series__program__site__in=sites)
    return sessions.select_related("series__program__site", "facilitator").order_by("starts_at", "id")


def program_local_today(now: dt.datetime | None = None, *, zone_field: str = "series__program__time_zone") -> Cast:
    """Each row's program's local today, in SQL: ``timezone(zone, now)::date`` with ``now`` from our clock.

    One expression for any number of zones, so a list filtered on it costs no extra query, and a
    chosen instant (a test, faketime) moves it like every other "today".
    """
    instant = Value(now or clock.now(), output_field=DateTimeField())
    local = Func(F(zone_field), instant, function="timezone", output_field=DateTimeField())
    return Cast(local, DateField())


def sessions_from_today(sessions: QuerySet[Session], *, now: dt.datetime | None = None) -> QuerySet[Session]:
    """The sessions on or after their program's local today (the session list's default)."""
    return sessions.filter(local_date__gte=program_local_today(now))


def sessions_before_today(sessions: QuerySet[Session], *, now: dt.datetime | None = None) -> QuerySet[Session]:
    """The sessions before their program's local today."""
    return sessions.filter(local_date__lt=program_local_today(now))


def sessions_awaiting_attendance(*, sites=None, now: dt.datetime | None = None) -> QuerySet[Session]:
    """Sessions that started in the last week with a booked patient whose attendance is not recorded."""
    now = now or clock.now()
    unrecorded = Booking.objects.active().filter(session=OuterRef("pk"), attendance="")
    sessions = (
        Session.objects.scheduled()
        .filter(starts_at__lte=now, starts_at__gt=now - dt.timedelta(days=AWAITING_ATTENDANCE_DAYS))
        .filter(Exists(unrecorded))
    )
    if sites is not None:
        sessions = sessions.filter(series__program__site__in=sites)
    return sessions


def iop_below_minimum(
    *, basis: str, week_of: dt.date | None = None, programs=None, weeks_back: int = 0
) -> QuerySet[Placement]:
    """The IOP enrollments under the weekly minimum in ``week_of``'s week (by default each program's current
    week, or ``weeks_back`` weeks before it), full weeks only, as a queryset."""
    flagged = below_minimum(basis=basis, week_of=week_of, programs=programs, weeks_back=weeks_back)
    return Placement.objects.filter(pk__in=[w.enrollment.pk for w in flagged])


def next_sessions(*, enrollments: Iterable[Placement], now: dt.datetime | None = None) -> dict[int, Session]:
    """Each enrollment's next booked session not yet started (with its series and facilitator), in one query."""
    ids = [enrollment.pk for enrollment in enrollments]
    if not ids:
        return {}
    bookings = (
        Booking.objects.active()
        .filter(placement_id__in=ids, session__status=SessionStatus.SCHEDULED)
        .filter(session__starts_at__gt=now or clock.now())
        .select_related("session__series", "session__facilitator")
        .order_by("placement_id", "session__starts_at", "session_id")
        .distinct("placement_id")
    )
    return {booking.placement_id: booking.session for booking in bookings}


@dataclass(frozen=True)
class BookedSeries:
    """The sessions of one series a patient is booked into in a week."""

    name: str
    start_time: dt.time
    sessions: int


def booked_series(*, enrollments: Iterable[Placement], week_start: dt.date) -> dict[int, list[BookedSeries]]:
    """Each enrollment's own booked series in the week from ``week_start`` (its program's local dates), with
    the number of sessions of each, by the time of day: one query. Cancelled sessions and bookings left out."""
    ids = [enrollment.pk for enrollment in enrollments]
    if not ids:
        return {}
    rows = (
        Booking.objects.active()
        .filter(placement_id__in=ids, session__status=SessionStatus.SCHEDULED)
        .filter(session__local_date__gte=week_start, session__local_date__lt=week_start + dt.timedelta(days=7))
        .values("placement_id", "session__series_id", "session__series__name", "session__series__start_time")
        .annotate(sessions=Count("id"))
        .order_by("placement_id", "session__series__start_time", "session__series__name", "session__series_id")
    )
    booked: dict[int, list[BookedSeries]] = {}
    for row in rows:
        booked.setdefault(row["placement_id"], []).append(
            BookedSeries(row["session__series__name"], row["session__series__start_time"], row["sessions"])
        )
    return booked


def iop_consecutive_absences(*, programs=None, n: int = ABSENCE_RUN) -> QuerySet[Placement]:
    """The current IOP enrollments whose last ``n`` recorded sessions were missed, as a queryset."""
    return Placement.objects.filter(pk__in=[run.enrollment.pk for run in consecutive_absences(n=n, programs=programs)])


@dataclass(frozen=True)
class PatientWeek(_AgainstTheBand):
    """One week of a patient's IOP sessions against the program's band."""

    week_start: dt.date
    program: Program
    scheduled_hours: Decimal
    attended_hours: Decimal
    minimum_hours: Decimal
    maximum_hours: Decimal
    partial_week: bool
    complete: bool  # the week is over, so attended hours are final


@dataclass(frozen=True)
class PatientAttendance:
    weeks: list[PatientWeek]  # newest first
    recent: list[Booking]  # the latest sessions that have started, newest first, with their marks


def patient_attendance(*, patient: Patient, today: dt.date, weeks: int = 6, recent: int = 15) -> PatientAttendance:
    """A patient's IOP weekly hours for the last ``weeks`` weeks (this one included) and their latest sessions.

    Counted like ``weekly_hours``: active bookings of scheduled sessions, by the
    enrollment they belong to, in Monday-to-Sunday weeks. Two queries.
    """
    first_monday = week_start(today) - dt.timedelta(weeks=weeks - 1)
    next_monday = week_start(today) + dt.timedelta(days=7)
    rows = (
        Booking.objects.active()
        .filter(
            patient=patient,
            placement__kind=PlacementKind.IOP,
            session__status=SessionStatus.SCHEDULED,
            session__local_date__gte=first_monday,
            session__local_date__lt=next_monday,
        )
        .values("placement_id", "session__local_date", "session__duration_minutes", "minutes_attended")
        .order_by()
    )
    minutes: dict[tuple[dt.date, int], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        key = (week_start(row["session__local_date"]), row["placement_id"])
        minutes[key][0] += row["session__duration_minutes"]
        minutes[key][1] += row["minutes_attended"] or 0
    placements = {p.pk: p for p in Placement.objects.filter(pk__in={pk for _, pk in minutes}).select_related("program")}
    result = []
    for (monday, placement_id), (scheduled, attended) in sorted(minutes.items(), reverse=True):
        placement = placements[placement_id]
        program = placement.program
        minimum = program.iop_min_weekly_hours_adult
        if patient.is_adolescent_on(monday):
            minimum = program.iop_min_weekly_hours_adolescent
        sunday_next = monday + dt.timedelta(days=7)
        result.append(
            PatientWeek(
                week_start=monday,
                program=program,
                scheduled_hours=(Decimal(scheduled) / MINUTES_PER_HOUR).quantize(Decimal("0.01")),
                attended_hours=(Decimal(attended) / MINUTES_PER_HOUR).quantize(Decimal("0.01")),
                minimum_hours=minimum,
                maximum_hours=program.iop_max_weekly_hours,
                partial_week=placement.start_on > monday
                or (placement.ended_on is not None and placement.ended_on < sunday_next),
                complete=sunday_next <= today,
            )
        )
    latest = list(
        Booking.objects.active()
        .filter(patient=patient, starts_at__lte=clock.now(), session__status=SessionStatus.SCHEDULED)
        .select_related("session__series__program")
        .order_by("-starts_at")[:recent]
    )
    return PatientAttendance(weeks=result, recent=latest)


# --- the patient app's sessions --------------------------------------------------------------------------


def my_session_rows(bookings: QuerySet[Booking]) -> QuerySet:
    """The patient app's view of ``bookings``: one flat dict per booking, in the queryset's order.

    A ``values()`` query with the session, series, program and site columns joined in, for a serializer fed
    dicts (``scheduling.api.MySessionSerializer``): building five model instances per row was most of the
    list's time (issue 17). ``starts_at`` is the booking's own (copied from the session, indexed with the
    patient), kept under its name so cursor pages can compare it.
    """
    return bookings.values(
        "id",
        "public_id",
        "starts_at",
        "cancelled_at",
        "attendance",
        "patient_response",
        "patient_responded_at",
        # Plain lookups rather than F() aliases: the query compiles in about half the time.
        "session__starts_at",
        "session__ends_at",
        "session__local_date",
        "session__duration_minutes",
        "session__status",
        "session__room",
        "session__series__kind",
        "session__series__program__time_zone",
        "session__series__program__site__name",
        "session__series__program__site__address",
        "session__series__program__site__phone",
    )


# The patient app's usual request, its upcoming sessions nearest first, as my_session_rows answers it
# for ``MySessionFilter.upcoming`` over the view's bookings: the same columns under the same names.
# Written out because compiling the ORM's version cost the request more than running it (issue 17);
# tests/api/test_me_sessions_pages.py holds the two equal.
UPCOMING_SESSIONS_SQL = """
SELECT b.id, b.public_id, b.starts_at, b.cancelled_at, b.attendance, b.patient_response, b.patient_responded_at,
       s.starts_at AS session__starts_at, s.ends_at AS session__ends_at, s.local_date AS session__local_date,
       s.duration_minutes AS session__duration_minutes, s.status AS session__status, s.room AS session__room,
       ss.kind AS session__series__kind, pr.time_zone AS session__series__program__time_zone,
       si.name AS session__series__program__site__name, si.address AS session__series__program__site__address,
       si.phone AS session__series__program__site__phone
  FROM scheduling_booking b
  JOIN scheduling_session s ON s.id = b.session_id
  JOIN scheduling_sessionseries ss ON ss.id = s.series_id
  JOIN programs_program pr ON pr.id = ss.program_id
  JOIN programs_site si ON si.id = pr.site_id
 WHERE b.patient_id = %(patient)s AND b.ends_at > %(now)s
   AND (b.cancelled_at IS NULL OR b.cancel_reason = %(session_cancelled)s)
 ORDER BY b.starts_at, b.id
 LIMIT %(limit)s
"""
UPCOMING_SESSIONS_ORDERING = ("starts_at", "id")


def upcoming_session_rows(*, patient: Patient, limit: int, now: dt.datetime | None = None) -> list[dict]:
    """The first ``limit`` of the patient's bookings not yet ended (and those the clinic cancelled), nearest first."""
    from django.db import connection

    params = {
        "patient": patient.pk,
        "now": now or clock.now(),
        "session_cancelled": CancelReason.SESSION_CANCELLED,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(UPCOMING_SESSIONS_SQL, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def session_rows(queryset: QuerySet[Session]) -> list[Session]:
    """The sessions worklist's rows in one query, in the queryset's order: booked, attended and unrecorded counts."""
    active = Q(bookings__cancelled_at__isnull=True)
    came = Q(bookings__attendance__in=[Attendance.PRESENT, *PARTIAL_ATTENDANCE])
    return list(
        queryset.select_related("series__program__site", "facilitator").annotate(
            attended_count=Count("bookings", filter=active & came),
            recorded_count=Count("bookings", filter=active & ~Q(bookings__attendance="")),
            unrecorded_count=Count("bookings", filter=active & Q(bookings__attendance="")),
        )
    )


# --- the patient app's care page (/me/care/) in one statement (issue 17) ----------------------


@dataclass(frozen=True)
class CareStep:
    kind: str  # "residential", "iop", "aftercare"
    program_name: str
    start_on: dt.date
    end_on: dt.date | None
    how_it_began: str  # as programs.selectors.JourneyStep


@dataclass(frozen=True)
class CareWeek:
    week_start: dt.date
    scheduled_hours: Decimal
    attended_hours: Decimal
    minimum_hours: Decimal


@dataclass(frozen=True)
class PatientCare:
    steps: list[CareStep]
    this_week: CareWeek | None


# The journey (placements not cancelled, aftercare plans not revoked) and, for each IOP enrollment
# of an active program, its hours in the program's current local week: what
# programs.selectors.patient_journey and weekly_hours(enrollments=...) read in three ORM queries.
# Written out because compiling those queries cost the page more than running them (issue 17);
# tests/api/test_patient_care_sql.py holds it equal to them.
PATIENT_CARE_SQL = """
SELECT 0 AS source, pl.id, pl.kind, pr.name, pl.start_on, pl.ended_on, t.kind AS transition_kind,
       CASE WHEN pl.kind = 'iop' AND pr.is_active THEN w.monday END AS monday,
       w.scheduled, w.attended, pr.iop_min_weekly_hours_adult, pr.iop_min_weekly_hours_adolescent
  FROM programs_placement pl
  JOIN programs_program pr ON pr.id = pl.program_id
  LEFT JOIN programs_transition t ON t.to_placement_id = pl.id
  CROSS JOIN LATERAL (SELECT date_trunc('week', %(now)s::timestamptz AT TIME ZONE pr.time_zone)::date AS monday) m
  LEFT JOIN LATERAL (
        SELECT m.monday, sum(s.duration_minutes) AS scheduled, sum(b.minutes_attended) AS attended
          FROM scheduling_booking b
          JOIN scheduling_session s ON s.id = b.session_id
         WHERE b.placement_id = pl.id AND b.cancelled_at IS NULL AND s.status = %(scheduled)s
           AND s.local_date >= m.monday AND s.local_date < m.monday + 7
       ) w ON pl.kind = 'iop' AND pr.is_active
 WHERE pl.patient_id = %(patient)s AND pl.cancelled_at IS NULL
UNION ALL
SELECT 1, a.id, 'aftercare', pr.name, a.starts_on, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM programs_aftercareplan a
  JOIN programs_program pr ON pr.id = a.program_id
 WHERE a.patient_id = %(patient)s AND a.status <> 'revoked'
 ORDER BY start_on, source, id
"""


def _hours(minutes: int | None) -> Decimal:
    return (Decimal(minutes or 0) / MINUTES_PER_HOUR).quantize(Decimal("0.01"))


def patient_care(*, patient: Patient, now: dt.datetime | None = None) -> PatientCare:
    """The patient's journey, oldest first, and this week's hours of their latest IOP enrollment: one query.

    ``this_week`` is None unless an enrollment of an active program is in force during its
    program's current week (as ``weekly_hours``); of several, the one that started last.
    """
    from django.db import connection

    now = now or clock.now()
    params = {"now": now, "patient": patient.pk, "scheduled": SessionStatus.SCHEDULED}
    with connection.cursor() as cursor:
        cursor.execute(PATIENT_CARE_SQL, params)
        rows = cursor.fetchall()
    steps: list[CareStep] = []
    week: CareWeek | None = None
    latest_start: dt.date | None = None
    for _source, _id, kind, name, start_on, end_on, transition, monday, scheduled, attended, adult, young in rows:
        began = "discharged" if kind == "aftercare" else how_it_began(kind, transition)
        steps.append(CareStep(kind, name, start_on, end_on, began))
        in_force = monday is not None and start_on < monday + dt.timedelta(days=7)
        in_force = in_force and (end_on is None or end_on > monday)
        # Rows come by start date: a later one replaces an earlier, as weekly_hours' latest start wins.
        if in_force and (latest_start is None or start_on > latest_start):
            latest_start = start_on
            minimum = young if patient.is_adolescent_on(monday) else adult
            week = CareWeek(monday, _hours(scheduled), _hours(attended), minimum)
    return PatientCare(steps, week)
