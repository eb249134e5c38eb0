"""The demo clinic's schedules: real series, twelve weeks of sessions, bookings and attendance history.

Called by ``programs.demo.seed``: the series first (so the care journeys that
follow book their patients through the services), then attendance for every
session that has ended. Everything goes through the services and is keyed so a
second run adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from clinic import clock
from clinic.errors import DomainError
from programs.models import Program
from scheduling import services
from scheduling.models import Attendance, Booking, CalendarFeed, Closure, Session, SessionKind, SessionSeries

WEEKS_BACK = 6
WEEKS_AHEAD = 6
TRAINING_DAY = "Staff training day"


@dataclass(frozen=True)
class Plan:
    name: str
    kind: str
    rule: str
    start: dt.time
    minutes: int
    room: str
    capacity: int | None = None  # None: the program's capacity
    books_enrolled: bool = True


PLANS: dict[str, list[Plan]] = {
    "Riverside Day IOP": [
        Plan("Morning process group", SessionKind.GROUP_THERAPY, "FREQ=WEEKLY;BYDAY=MO,WE,FR", dt.time(9, 30), 180,
             "Room 2"),
        Plan("Tuesday psychoeducation", SessionKind.PSYCHOEDUCATION, "FREQ=WEEKLY;BYDAY=TU", dt.time(10), 90, "Room 3"),
    ],
    "Riverside Evening IOP": [
        Plan("Evening process group", SessionKind.GROUP_THERAPY, "FREQ=WEEKLY;BYDAY=MO,WE,TH", dt.time(18), 180,
             "Room 1"),
        Plan("Relapse prevention", SessionKind.RELAPSE_PREVENTION, "FREQ=WEEKLY;BYDAY=TU", dt.time(18), 60, "Room 1"),
        Plan("Individual counselling", SessionKind.INDIVIDUAL_COUNSELLING, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
             dt.time(16, 30), 50, "Office 4", capacity=1, books_enrolled=False),
    ],
    "Lakeview Evening IOP": [
        Plan("Evening group", SessionKind.GROUP_THERAPY, "FREQ=WEEKLY;BYDAY=TU,TH", dt.time(18), 180, "Harbor Room"),
        Plan("Saturday skills group", SessionKind.OTHER, "FREQ=WEEKLY;BYDAY=SA", dt.time(10), 180, "Harbor Room"),
    ],
    "Riverside Residential": [
        Plan("Morning community meeting", SessionKind.GROUP_THERAPY, "FREQ=DAILY", dt.time(9), 60, "Day room"),
    ],
    "Lakeview Residential": [
        Plan("Daily recovery skills", SessionKind.PSYCHOEDUCATION, "FREQ=DAILY", dt.time(10), 90, "Lake room"),
    ],
}  # fmt: skip


def ensure_schedules(*, programs: list[Program], facilitator, today: dt.date) -> list[SessionSeries]:
    """The demo series (created once), twelve weeks of their sessions, and a closure day."""
    first_day = today - dt.timedelta(weeks=WEEKS_BACK)
    series = []
    for program in programs:
        for plan in PLANS.get(program.name, []):
            existing = SessionSeries.objects.filter(program=program, name=plan.name).first()
            series.append(
                existing
                or services.create_series(
                    program=program,
                    name=plan.name,
                    kind=plan.kind,
                    rule=plan.rule,
                    start_time=plan.start,
                    duration_minutes=plan.minutes,
                    facilitator=facilitator,
                    capacity=plan.capacity or program.capacity,
                    starts_on=first_day - dt.timedelta(days=first_day.weekday()),
                    room=plan.room,
                    books_enrolled=plan.books_enrolled,
                )
            )
    services.generate_sessions(
        series_ids=[s.pk for s in series], from_on=first_day, until=today + dt.timedelta(weeks=WEEKS_AHEAD)
    )
    riverside = programs[0].site
    if not Closure.objects.filter(site=riverside, reason=TRAINING_DAY).exists():
        services.add_closure(site=riverside, date=today + dt.timedelta(days=9), reason=TRAINING_DAY)
    return series


def book_history(*, today: dt.date) -> int:
    """Book the demo's patients into the past weeks' sessions of their placements, as the record of what ran.

    A placement's own booking (``sync_placement_bookings``) only takes sessions that
    have not started, so the weeks before today are a backfill: ``generate_sessions``
    with an explicit ``from_on``. Idempotent, like the rest of the demo.
    """
    result = services.generate_sessions(
        from_on=today - dt.timedelta(weeks=WEEKS_BACK), until=today + dt.timedelta(weeks=WEEKS_AHEAD)
    )
    return result.bookings_created


def _persona(mrn: str) -> str:
    """Most patients attend; some struggle (below the weekly minimum); some have just missed two in a row."""
    number = int(mrn.rsplit("-", 1)[-1])
    return {3: "struggling", 7: "struggling", 5: "recent_absences"}.get(number % 10, "steady")


def _mark(persona: str, rng: random.Random, *, recent: bool, duration: int) -> tuple[str, int | None]:
    if persona == "recent_absences" and recent:
        return Attendance.ABSENT, None
    roll = rng.random()
    if persona == "struggling":
        if roll < 0.45:
            return Attendance.ABSENT, None
        if roll < 0.65:
            return Attendance.LATE, duration // 2
        return Attendance.PRESENT, None
    if roll < 0.86:
        return Attendance.PRESENT, None
    if roll < 0.92:
        return Attendance.LATE, duration - 30
    if roll < 0.95:
        return Attendance.LEFT_EARLY, duration - 45
    if roll < 0.98:
        return Attendance.EXCUSED, None
    return Attendance.ABSENT, None


def record_history(*, recorded_by, now: dt.datetime | None = None) -> int:
    """Attendance for every ended session that has bookings and none recorded yet. Returns sessions recorded."""
    now = now or clock.now()
    unrecorded = Booking.objects.active().filter(session=OuterRef("pk"), attendance="")
    sessions = list(
        Session.objects.scheduled()
        .filter(ends_at__lte=now, series__books_enrolled=True)
        .filter(Exists(unrecorded))
        .select_related("series")
        .order_by("starts_at")
    )
    if not sessions:
        return 0
    bookings = list(
        Booking.objects.active()
        .filter(session__in=sessions, attendance="")
        .select_related("patient")
        .order_by("patient_id", "-starts_at")
    )
    # Each patient's two latest ended sessions: where the "recent absences" persona misses.
    latest: dict[int, list[int]] = {}
    for booking in bookings:
        latest.setdefault(booking.patient_id, [])
        if len(latest[booking.patient_id]) < 2:
            latest[booking.patient_id].append(booking.session_id)
    by_session: dict[int, list[Booking]] = {}
    for booking in bookings:
        by_session.setdefault(booking.session_id, []).append(booking)
    for session in sessions:
        marks = []
        for booking in by_session.get(session.pk, []):
            rng = random.Random(f"{booking.patient.mrn}:{session.occurrence_start.isoformat()}")
            status, minutes = _mark(
                _persona(booking.patient.mrn),
                rng,
                recent=session.pk in latest[booking.patient_id],
                duration=session.duration_minutes,
            )
            marks.append(services.Mark(patient_id=booking.patient_id, attendance=status, minutes_attended=minutes))
        services.record_attendance(session=session, marks=marks, recorded_by=recorded_by)
    return len(sessions)


def ensure_one_off_and_feed(*, iop_programs: list[Program]) -> str | None:
    """An individual session booked for one enrolled patient, and one patient's calendar feed.

    Returns the feed token when it is issued (it is shown once; only its hash is kept).
    """
    individual = Session.objects.scheduled().filter(
        series__books_enrolled=False, series__program__in=iop_programs, starts_at__gt=clock.now(), booked_count=0
    )
    if not Booking.objects.filter(source="one_off").exists():
        for session in individual.select_related("series__program")[:3]:
            enrolled = session.series.program.placements.on(session.local_date).select_related("patient").first()
            if enrolled is not None:
                try:
                    services.book_session(session=session, patient=enrolled.patient)
                except DomainError:
                    continue  # the patient is busy then; the demo simply books fewer
    if CalendarFeed.objects.exists():
        return None
    booking = Booking.objects.active().filter(starts_at__gt=clock.now(), placement__kind="iop").first()
    if booking is None:
        return None
    return services.issue_calendar_feed(patient=booking.patient)
