"""Reads for admissions: the waitlist, reservations, worklists, possible duplicates and the census over time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet

from admissions.errors import InvalidRange
from admissions.models import Referral, ReferralStatus, Reservation, ReservationStatus
from patients.models import Patient
from programs.models import RESIDENTIAL_LEVELS, Program
from programs.selectors import PlannedAdmission

MAX_CENSUS_DAYS = 366


def waitlist(*, program: Program | None = None, programs=None) -> QuerySet[Referral]:
    """Accepted referrals still waiting, in order: priority (1 first), then the day they were accepted."""
    referrals = Referral.objects.filter(status=ReferralStatus.ACCEPTED)
    if program is not None:
        referrals = referrals.filter(program=program)
    if programs is not None:
        referrals = referrals.filter(program__in=programs)
    return referrals.select_related("program__site", "patient").order_by("program", "priority", "accepted_at", "id")


def days_waiting(referral: Referral, *, today: dt.date) -> int | None:
    return (today - referral.accepted_on).days if referral.accepted_on else None


def held_reservations(*, now: dt.datetime) -> QuerySet[Reservation]:
    """Reservations still holding their bed or seat (held and not past their expiry)."""
    return Reservation.objects.filter(status=ReservationStatus.HELD, expires_at__gt=now)


def _beds_held_on_or_after(*, from_on: dt.date, now: dt.datetime) -> QuerySet[Reservation]:
    # As check_bed_claim refuses: any held reservation of the bed that has not ended by ``from_on``.
    return held_reservations(now=now).filter(bed__isnull=False, planned_end_on__gt=from_on)


class ReservedBeds:
    """What ``programs.selectors`` asks through ``register_bed_holds``: beds reserved, and for whom."""

    @staticmethod
    def held_beds(*, from_on: dt.date, now: dt.datetime) -> QuerySet:
        return _beds_held_on_or_after(from_on=from_on, now=now).values("bed")

    @staticmethod
    def next_holds(*, bed_ids: list[int], on: dt.date, now: dt.datetime) -> dict[int, PlannedAdmission]:
        if not bed_ids:
            return {}
        reservations = (
            _beds_held_on_or_after(from_on=on, now=now)
            .filter(bed__in=bed_ids)
            .select_related("patient")
            .order_by("bed_id", "start_on", "id")
            .distinct("bed_id")
        )
        return {
            r.bed_id: PlannedAdmission(r.patient, r.start_on, r.planned_end_on, source="reservation")
            for r in reservations
        }


def reservations_expiring(*, now: dt.datetime, within: dt.timedelta = dt.timedelta(hours=48), sites=None):
    reservations = held_reservations(now=now).filter(expires_at__lte=now + within)
    return reservations if sites is None else reservations.filter(program__site__in=sites)


def referrals_not_contacted(*, now: dt.datetime, after: dt.timedelta = dt.timedelta(days=2), sites=None):
    """New referrals nobody has contacted (screening not begun) for longer than ``after``."""
    referrals = Referral.objects.filter(status=ReferralStatus.NEW, created_at__lte=now - after)
    return referrals if sites is None else referrals.filter(program__site__in=sites)


def waiting(*, sites=None) -> QuerySet[Referral]:
    referrals = Referral.objects.filter(status=ReferralStatus.ACCEPTED)
    return referrals if sites is None else referrals.filter(program__site__in=sites)


def possible_duplicates(
    *, first_name: str, last_name: str, date_of_birth: dt.date | None, phone: str = ""
) -> QuerySet[Patient]:
    """Patients who may be this person: the same name and date of birth, or the same phone number."""
    condition = Q(pk__in=[])
    if date_of_birth is not None:
        condition |= Q(
            legal_first_name__iexact=first_name.strip(),
            legal_last_name__iexact=last_name.strip(),
            date_of_birth=date_of_birth,
        )
    if phone:
        condition |= Q(phone=phone)
    return Patient.objects.filter(condition).order_by("mrn")


# --- the census over time ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CensusDay:
    program_id: int
    day: dt.date
    forecast: bool  # after today: planned discharges happen on their dates, held reservations are admitted
    patients: int  # placements in force (a step-down day counts the patient once, in the outpatient track)
    beds_occupied: int
    reserved: int  # held reservations in force (from today on)
    waiting: int  # on the waitlist that day, not counting those whose reservation has begun
    beds_in_service: int
    capacity: int
    residential: bool

    @property
    def expected(self) -> int:
        return self.patients + self.reserved

    @property
    def free(self) -> int:
        """Free beds (residential: beds in service) or seats (outpatient: the track's capacity)."""
        if self.residential:
            return self.beds_in_service - self.beds_occupied - self.reserved
        return self.capacity - self.patients - self.reserved


# One statement for any range: the days are a generate_series, each count a join of the days against
# the rows in force (half-open ranges, as programs.selectors.census), grouped by program and day.
# Days up to today count the placements as they were; later days use each open placement's planned
# end (an overdue one is assumed to leave tomorrow), add held reservations and keep the waitlist.
_RESIDENTIAL = ", ".join(f"'{level.value}'" for level in sorted(RESIDENTIAL_LEVELS))
CENSUS_SQL = f"""
WITH days AS (
    SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d
), progs AS (
    SELECT p.id, p.capacity, p.asam_level IN ({_RESIDENTIAL}) AS residential,
           (SELECT count(*) FROM programs_bed b WHERE b.program_id = p.id AND b.status = 'available') AS beds
      FROM programs_program p
     WHERE p.id = ANY(%(programs)s)
), placed AS (
    SELECT pl.program_id, d.day, count(*) AS patients, count(pl.bed_id) AS beds_occupied
      FROM programs_placement pl
      JOIN days d
        ON pl.start_on <= d.day
       AND d.day < CASE WHEN d.day <= %(today)s::date THEN COALESCE(pl.ended_on, 'infinity'::date)
                        ELSE COALESCE(pl.ended_on, GREATEST(pl.planned_end_on, %(today)s::date + 1), 'infinity'::date)
                   END
     WHERE pl.program_id = ANY(%(programs)s)
       AND pl.cancelled_at IS NULL
       AND pl.start_on <= %(end)s::date
       AND COALESCE(pl.ended_on, 'infinity'::date) > %(start)s::date
     GROUP BY 1, 2
), reserved AS (
    SELECT r.program_id, d.day, count(*) AS reserved
      FROM admissions_reservation r
      JOIN days d
        ON d.day >= %(today)s::date AND r.start_on <= d.day AND d.day < COALESCE(r.planned_end_on, 'infinity'::date)
     WHERE r.program_id = ANY(%(programs)s) AND r.status = 'held' AND r.expires_at > %(now)s
     GROUP BY 1, 2
), waiting AS (
    SELECT f.program_id, d.day, count(*) AS waiting
      FROM admissions_referral f
      JOIN days d
        ON f.accepted_on <= d.day AND d.day < COALESCE(f.closed_on, 'infinity'::date)
     WHERE f.program_id = ANY(%(programs)s)
       AND f.accepted_on IS NOT NULL
       AND NOT (d.day >= %(today)s::date AND EXISTS (
               SELECT 1 FROM admissions_reservation r
                WHERE r.referral_id = f.id AND r.status = 'held' AND r.expires_at > %(now)s AND r.start_on <= d.day))
     GROUP BY 1, 2
)
SELECT p.id, d.day, COALESCE(pl.patients, 0), COALESCE(pl.beds_occupied, 0), COALESCE(r.reserved, 0),
       COALESCE(w.waiting, 0), p.beds, p.capacity, p.residential
  FROM progs p
 CROSS JOIN days d
  LEFT JOIN placed pl ON pl.program_id = p.id AND pl.day = d.day
  LEFT JOIN reserved r ON r.program_id = p.id AND r.day = d.day
  LEFT JOIN waiting w ON w.program_id = p.id AND w.day = d.day
 ORDER BY p.id, d.day
"""


def census_over_time(
    *, programs: list[Program] | QuerySet[Program], start: dt.date, end: dt.date, today: dt.date, now: dt.datetime
) -> list[CensusDay]:
    """The census of each program for every day in ``[start, end]``, past and forecast, in one query.

    ``today`` divides the past from the forecast; ``now`` decides which reservations still hold
    (one past its expiry holds nothing, even before the beat task marks it lapsed).
    """
    if end < start:
        raise InvalidRange(f"The range ends ({end}) before it starts ({start}).", field="to")
    if (end - start).days + 1 > MAX_CENSUS_DAYS:
        raise InvalidRange(f"A census covers at most {MAX_CENSUS_DAYS} days.", field="to")
    ids = [program.pk for program in programs]
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(CENSUS_SQL, {"start": start, "end": end, "today": today, "now": now, "programs": ids})
        rows = cursor.fetchall()
    return [
        CensusDay(
            program_id=pid,
            day=day,
            forecast=day > today,
            patients=patients,
            beds_occupied=occupied,
            reserved=reserved,
            waiting=waiting_count,
            beds_in_service=beds,
            capacity=capacity,
            residential=residential,
        )
        for pid, day, patients, occupied, reserved, waiting_count, beds, capacity, residential in rows
    ]


@dataclass(frozen=True)
class CensusTotal:
    day: dt.date
    forecast: bool
    patients: int
    beds_occupied: int
    reserved: int
    waiting: int
    beds_in_service: int
    free_beds: int
    free_seats: int


def totals(days: list[CensusDay]) -> list[CensusTotal]:
    """Sum per day over programs (a site's or all sites'): beds and seats kept apart in the free counts."""
    by_day: dict[dt.date, list[CensusDay]] = {}
    for row in days:
        by_day.setdefault(row.day, []).append(row)
    return [
        CensusTotal(
            day=day,
            forecast=rows[0].forecast,
            patients=sum(r.patients for r in rows),
            beds_occupied=sum(r.beds_occupied for r in rows),
            reserved=sum(r.reserved for r in rows),
            waiting=sum(r.waiting for r in rows),
            beds_in_service=sum(r.beds_in_service for r in rows),
            free_beds=sum(r.free for r in rows if r.residential),
            free_seats=sum(r.free for r in rows if not r.residential),
        )
        for day, rows in sorted(by_day.items())
    ]
