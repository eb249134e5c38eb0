"""Reads for utilization review: days used against days approved, coverage of every day in care,
the UR worklists and the billable units.

Counting rules, shared by every read here (and by the raw-SQL baselines in ``bench/``):

- A **residential day** is a census day: day D counts for a placement whose half-open range
  ``[start_on, ended_on)`` contains D. On a step-down day the patient counts in IOP, not residential.
- An **IOP day** is a local day with attended minutes (present, late, left early) in the
  placement's bookings; an **IOP session** is one attended booking. A billable IOP day needs at least
  the program's ``iop_billable_minutes`` attended.
- An authorization **covers** a day when it is approved (or partially approved), for the episode and
  the level of care of that day, and the day is within ``start_on`` .. ``extended_to or end_on``
  (inclusive, as the payer writes dates).
- Days are counted **through** ``on`` (today, from ``clinic.clock``): the future is not used yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Case,
    DateField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least

from clinic import localtime
from programs.models import OPEN_EPISODE_STATUSES, RESIDENTIAL_LEVELS, Placement, Transition
from scheduling.models import Attendance, Booking
from utilization.errors import ExportRangeTooLong
from utilization.models import (
    APPROVED_STATUSES,
    Authorization,
    AuthorizationStatus,
    ConcurrentReview,
    Coverage,
    PlacementUnderReview,
    ReviewOutcome,
    UnitKind,
)

ATTENDED = (Attendance.PRESENT, Attendance.LATE, Attendance.LEFT_EARLY)
ENDING_SOON_DAYS = 3
DENIAL_FOLLOW_UP_DAYS = 2
MAX_EXPORT_DAYS = 366


class DaysBetween(Func):
    """``a - b`` for two dates: an integer number of days in PostgreSQL (Django would make an interval)."""

    template = "(%(expressions)s)"
    arg_joiner = " - "
    output_field = IntegerField()


class DayAfter(Func):
    template = "(%(expressions)s + 1)"
    output_field = DateField()


def _covered_through() -> Coalesce:
    return Coalesce("extended_to", "end_on", output_field=DateField())


# --- days used against days approved ---------------------------------------------------------------------


def with_units_used(queryset: QuerySet[Authorization], *, on: dt.date) -> QuerySet[Authorization]:
    """Annotate ``units_used`` (through ``on``), ``units_approved`` and ``covered_through``: one query in all.

    Requested and denied authorizations have no approved range, so they have used nothing (``units_used`` 0).
    """
    day_after = Value(on + dt.timedelta(days=1), output_field=DateField())
    window_end = Least(day_after, DayAfter(Coalesce(OuterRef("extended_to"), OuterRef("end_on"))))
    # Aggregates written as plain SQL functions: PostgreSQL sums the correlated rows without the GROUP BY
    # an ORM aggregate would add to each subquery.
    residential_days = (
        Placement.objects.filter(
            episode=OuterRef("episode"), cancelled_at__isnull=True, program__asam_level=OuterRef("asam_level")
        )
        .order_by()
        .values(
            total=Func(
                Greatest(
                    Value(0),
                    DaysBetween(
                        Least(Coalesce("ended_on", day_after), window_end),
                        Greatest("start_on", OuterRef("start_on")),
                    ),
                ),
                function="SUM",
                output_field=IntegerField(),
            )
        )
    )
    attended = Booking.objects.filter(
        placement__episode=OuterRef("episode"),
        placement__program__asam_level=OuterRef("asam_level"),
        cancelled_at__isnull=True,
        attendance__in=ATTENDED,
        session__local_date__gte=OuterRef("start_on"),
        session__local_date__lte=Least(Value(on), Coalesce(OuterRef("extended_to"), OuterRef("end_on"))),
    ).order_by()
    iop_days = attended.values(
        n=Func("session__local_date", template="COUNT(DISTINCT %(expressions)s)", output_field=IntegerField())
    )
    iop_sessions = attended.values(n=Func(template="COUNT(*)", output_field=IntegerField()))
    return queryset.annotate(
        covered_through=_covered_through(),
        units_approved=F("approved_units") + F("units_added"),
        units_used=Case(
            When(start_on__isnull=True, then=Value(0)),
            When(asam_level__in=RESIDENTIAL_LEVELS, then=Coalesce(Subquery(residential_days), 0)),
            When(unit_kind=UnitKind.SESSIONS, then=Coalesce(Subquery(iop_sessions), 0)),
            default=Coalesce(Subquery(iop_days), 0),
            output_field=IntegerField(),
        ),
    )


def days_used_for_open_episodes(*, on: dt.date) -> QuerySet[Authorization]:
    """Every approved authorization of every open episode with its days used: the bench's measure, one query."""
    approved = Authorization.objects.filter(status__in=APPROVED_STATUSES, episode__status__in=OPEN_EPISODE_STATUSES)
    return (
        with_units_used(approved, on=on)
        .order_by()
        .values("pk", "episode_id", "asam_level", "unit_kind", "units_approved", "units_used", "covered_through")
    )


# --- every day in care, covered or not -----------------------------------------------------------------

# One row per day in care: placements of open episodes, their days through the given day
# (half-open ranges), with the approved authorization that covers the day, if any, and whether
# the patient's primary coverage that day needs one at all (self-pay does not).
_DAYS_IN_CARE_SQL = """
WITH days AS (
    SELECT p.id AS placement_id, p.episode_id, p.patient_id, pr.asam_level, d::date AS day
    FROM programs_placement p
    JOIN programs_program pr ON pr.id = p.program_id
    JOIN programs_treatmentepisode e ON e.id = p.episode_id
    CROSS JOIN LATERAL generate_series(
        p.start_on, LEAST(COALESCE(p.ended_on - 1, %(through)s::date), %(through)s::date), interval '1 day'
    ) AS d
    WHERE p.cancelled_at IS NULL AND p.start_on <= %(through)s::date {where}
)
SELECT days.placement_id, days.episode_id, days.patient_id, days.asam_level, days.day,
       auth.number, COALESCE(primary_cov.requires_authorization, TRUE) AS needs_authorization
FROM days
LEFT JOIN LATERAL (
    SELECT a.number FROM utilization_authorization a
    WHERE a.episode_id = days.episode_id AND a.asam_level = days.asam_level
      AND a.status IN ('approved', 'partial')
      AND days.day BETWEEN a.start_on AND COALESCE(a.extended_to, a.end_on)
    ORDER BY a.start_on LIMIT 1
) auth ON TRUE
LEFT JOIN LATERAL (
    SELECT py.requires_authorization FROM utilization_coverage c
    JOIN utilization_payer py ON py.id = c.payer_id
    WHERE c.patient_id = days.patient_id AND days.day >= c.effective_on
      AND (c.ends_on IS NULL OR days.day <= c.ends_on)
    ORDER BY c.rank LIMIT 1
) primary_cov ON TRUE
ORDER BY days.day, days.placement_id
"""


@dataclass(frozen=True)
class DayInCare:
    day: dt.date
    placement_id: int
    asam_level: str
    authorization_number: str | None
    needs_authorization: bool

    @property
    def at_risk(self) -> bool:
        return self.authorization_number is None and self.needs_authorization


def episode_days(*, episode, through: dt.date) -> list[DayInCare]:
    """Every day of an episode's care through ``through``, with the authorization covering it (or none)."""
    sql = _DAYS_IN_CARE_SQL.format(where="AND p.episode_id = %(episode)s")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"through": through, "episode": episode.pk})
        rows = cursor.fetchall()
    return [DayInCare(day, placement, level, number, needs) for placement, _, _, level, day, number, needs in rows]


def uncovered_days_by_placement(*, on: dt.date, sites=None) -> dict[int, tuple[int, dt.date]]:
    """Placements of open episodes with days in care that need an authorization and have none.

    ``{placement id: (days not covered, first such day)}``: the money (and the care) at risk.
    """
    where = "AND e.status IN ('planned', 'waitlist', 'active', 'onhold')"
    params: dict = {"through": on}
    if sites is not None:
        where += " AND pr.site_id = ANY(%(sites)s)"
        params["sites"] = [getattr(site, "pk", site) for site in sites]
    sql = f"""
        SELECT placement_id, COUNT(*), MIN(day) FROM ({_DAYS_IN_CARE_SQL.format(where=where)}) covered
        WHERE number IS NULL AND needs_authorization GROUP BY placement_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {placement: (count, first) for placement, count, first in cursor}


def authorization_in_force(*, episode, on: dt.date, asam_level: str | None = None) -> Authorization | None:
    """The approved authorization covering ``on`` (for one level of care if given), with its units used: one query."""
    approved = Authorization.objects.filter(episode=episode, status__in=APPROVED_STATUSES)
    if asam_level is not None:
        approved = approved.filter(asam_level=asam_level)
    return (
        with_units_used(approved, on=on).filter(start_on__lte=on, covered_through__gte=on).order_by("start_on").first()
    )


def authorization_headline(current: Authorization | None) -> str:
    """ "Auth 12 of 14 days, review due Dec. 9, 2026" (the chart header and the UR summary)."""
    if current is None:
        return "No authorization in force"
    headline = f"Auth {current.units_used} of {current.units_approved} {current.unit_kind}"
    if current.next_review_on:
        headline += f", review due {localtime.day(current.next_review_on)}"
    return headline


def episode_summary(*, episode, on: dt.date) -> dict:
    """Days in care, covered and at risk, and the authorization in force: "Auth 12 of 14 days, review due Thu"."""
    days = episode_days(episode=episode, through=on)
    current = authorization_in_force(episode=episode, on=on)
    headline = authorization_headline(current)
    return {
        **plan_coverage(episode=episode, on=on),
        "days_in_care": len(days),
        "days_covered": sum(1 for d in days if d.authorization_number),
        "days_at_risk": sum(1 for d in days if d.at_risk),
        "current": current,
        "headline": headline,
        "days": days,
    }


def plan_coverage(*, episode, on: dt.date) -> dict:
    """Whether approved authorizations cover the rest of the current level's plan (after an extension, a
    step-down or a step-up): the planned days from today on that no approved authorization covers."""
    placement = Placement.objects.open().filter(episode=episode).select_related("program").order_by("-start_on").first()
    if placement is None or placement.planned_end_on is None:
        return {"planned_end_on": None, "planned_days_not_covered": 0, "first_planned_day_not_covered": None}
    ranges = [
        (auth.start_on, auth.extended_to or auth.end_on)
        for auth in Authorization.objects.filter(
            episode=episode, asam_level=placement.program.asam_level, status__in=APPROVED_STATUSES
        )
    ]
    first = max(on, placement.start_on)
    planned = [first + dt.timedelta(days=n) for n in range((placement.planned_end_on - first).days)]
    missing = [d for d in planned if not any(start <= d <= end for start, end in ranges)]
    return {
        "planned_end_on": placement.planned_end_on,
        "planned_days_not_covered": len(missing),
        "first_planned_day_not_covered": missing[0] if missing else None,
    }


# --- the UR worklists (the dashboard's figures, the admin filters and the API use the same ones) ----------
# Each returns every row of the clinic; entry points scope it with ``clinic.access.scope_queryset`` so a
# figure, its admin list and the API count the same rows for the same person.


def _still_in_level(on: dt.date) -> Exists:
    return Exists(
        Placement.objects.on(on).filter(episode=OuterRef("episode"), program__asam_level=OuterRef("asam_level"))
    )


def reviews_due(*, on: dt.date) -> QuerySet[Authorization]:
    """Approved authorizations whose next concurrent review is due by tomorrow (or overdue), while the
    authorization is in force or the patient is still in that level of care (an overdue review after the
    approved days ran out is the most urgent of all)."""
    return (
        Authorization.objects.annotate(covered_through=_covered_through())
        .filter(status__in=APPROVED_STATUSES, next_review_on__lte=on + dt.timedelta(days=1))
        .filter(Q(covered_through__gte=on) | _still_in_level(on))
    )


def ending_soon(*, on: dt.date) -> QuerySet[Authorization]:
    """Approved authorizations ending within 3 days while the patient is still in that level of care."""
    return (
        Authorization.objects.annotate(covered_through=_covered_through())
        .filter(status__in=APPROVED_STATUSES)
        .filter(covered_through__gte=on, covered_through__lte=on + dt.timedelta(days=ENDING_SOON_DAYS))
        .filter(_still_in_level(on))
    )


def denials_without_follow_up(*, on: dt.date) -> QuerySet[Authorization]:
    """Denials (a denied request, or a review that denied more days) over 2 days old with no appeal,
    peer-to-peer or later approval, and no step-down, step-up or discharge since, in an open episode."""
    denied_review = (
        ConcurrentReview.objects.filter(authorization=OuterRef("pk"), outcome=ReviewOutcome.DENIED)
        .order_by("-reviewed_on")
        .values("reviewed_on")[:1]
    )
    queryset = Authorization.objects.annotate(
        denied_on=Coalesce(
            Subquery(denied_review),
            Case(When(status=AuthorizationStatus.DENIED, then=F("decided_on")), output_field=DateField()),
        )
    ).filter(denied_on__lte=on - dt.timedelta(days=DENIAL_FOLLOW_UP_DAYS), episode__status__in=OPEN_EPISODE_STATUSES)
    followed_up = ConcurrentReview.objects.filter(
        authorization=OuterRef("pk"),
        reviewed_on__gte=OuterRef("denied_on"),
        outcome__in=[ReviewOutcome.APPEALED, ReviewOutcome.PEER_TO_PEER, ReviewOutcome.APPROVED_MORE],
    )
    moved = Transition.objects.filter(episode=OuterRef("episode"), effective_on__gte=OuterRef("denied_on"))
    queryset = queryset.exclude(Exists(followed_up)).exclude(Exists(moved))
    return queryset


def needs_authorization(*, on: dt.date) -> QuerySet[PlacementUnderReview]:
    """Outpatient placements in force, begun by a step-down, whose coverage needs an authorization
    for the level and has none requested or approved: the "needs authorization" items."""
    stepped_down = Transition.objects.filter(to_placement=OuterRef("pk"), kind="step_down")
    coverage_needs = Coverage.objects.filter(
        patient=OuterRef("patient"), payer__requires_authorization=True, effective_on__lte=on
    ).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))
    authorized = Authorization.objects.filter(
        episode=OuterRef("episode"),
        asam_level=OuterRef("program__asam_level"),
        status__in=[AuthorizationStatus.REQUESTED, *APPROVED_STATUSES],
    )
    queryset = (
        PlacementUnderReview.objects.on(on)
        .exclude(program__asam_level__in=RESIDENTIAL_LEVELS)
        .filter(Exists(stepped_down), Exists(coverage_needs))
        .exclude(Exists(authorized))
    )
    return queryset


def days_not_covered(*, on: dt.date) -> QuerySet[PlacementUnderReview]:
    """Placements with days in care that need an authorization and have none (see ``uncovered_days_by_placement``)."""
    ids = list(uncovered_days_by_placement(on=on))
    return PlacementUnderReview.objects.filter(pk__in=ids)


# --- billable units ---------------------------------------------------------------------------------------

_BILLABLE_SQL = """
WITH units AS (
    -- Residential: one unit per census day (half-open ranges: the step-down day is IOP's).
    SELECT p.id AS placement_id, p.episode_id, p.patient_id, p.program_id, d::date AS day, NULL::integer AS minutes
    FROM programs_placement p
    JOIN programs_program pr ON pr.id = p.program_id
    CROSS JOIN LATERAL generate_series(
        GREATEST(p.start_on, %(start)s::date),
        LEAST(COALESCE(p.ended_on - 1, %(end)s::date), %(end)s::date),
        interval '1 day'
    ) AS d
    WHERE p.cancelled_at IS NULL AND p.kind = 'residential'
      AND p.start_on <= %(end)s::date AND (p.ended_on IS NULL OR p.ended_on > %(start)s::date) {site_filter}
    UNION ALL
    -- IOP: one unit per local day with at least the program's billable minutes attended.
    SELECT p.id, p.episode_id, p.patient_id, p.program_id, s.local_date, SUM(b.minutes_attended)::integer
    FROM scheduling_booking b
    JOIN scheduling_session s ON s.id = b.session_id
    JOIN programs_placement p ON p.id = b.placement_id
    JOIN programs_program pr ON pr.id = p.program_id
    LEFT JOIN utilization_programbilling billing ON billing.program_id = p.program_id
    WHERE p.kind = 'iop' AND p.cancelled_at IS NULL AND b.cancelled_at IS NULL
      AND b.attendance IN ('present', 'late', 'left_early')
      AND s.local_date BETWEEN %(start)s::date AND %(end)s::date {site_filter}
    GROUP BY p.id, p.episode_id, p.patient_id, p.program_id, s.local_date, billing.iop_billable_minutes
    HAVING SUM(b.minutes_attended) >= COALESCE(billing.iop_billable_minutes, %(default_minutes)s)
)
SELECT pt.public_id, pt.mrn, units.day, pr.name, pr.asam_level,
       COALESCE(billing.revenue_code, ''), COALESCE(billing.hcpcs_code, ''), units.minutes,
       py.name, cov.member_id, auth.number
FROM units
JOIN patients_patient pt ON pt.id = units.patient_id
JOIN programs_program pr ON pr.id = units.program_id
LEFT JOIN utilization_programbilling billing ON billing.program_id = units.program_id
JOIN LATERAL (
    SELECT c.id, c.payer_id, c.member_id FROM utilization_coverage c
    WHERE c.patient_id = units.patient_id AND units.day >= c.effective_on
      AND (c.ends_on IS NULL OR units.day <= c.ends_on)
    ORDER BY c.rank LIMIT 1
) cov ON TRUE
JOIN utilization_payer py ON py.id = cov.payer_id
LEFT JOIN LATERAL (
    SELECT a.number FROM utilization_authorization a
    WHERE a.episode_id = units.episode_id AND a.asam_level = pr.asam_level
      AND a.status IN ('approved', 'partial')
      AND units.day BETWEEN a.start_on AND COALESCE(a.extended_to, a.end_on)
    ORDER BY (a.coverage_id = cov.id) DESC, a.start_on LIMIT 1
) auth ON TRUE
WHERE (%(payer)s::bigint IS NULL OR cov.payer_id = %(payer)s::bigint)
ORDER BY pt.mrn, units.day, pr.name
"""

NOT_COVERED = "not covered"
DEFAULT_IOP_BILLABLE_MINUTES = 180


@dataclass(frozen=True)
class BillableUnit:
    patient_id: str
    mrn: str
    day: dt.date
    program: str
    asam_level: str
    revenue_code: str
    hcpcs_code: str
    attended_minutes: int | None
    payer: str
    member_id: str
    authorization: str

    CSV_HEADER = (
        "patient_id", "mrn", "service_date", "program", "asam_level", "revenue_code", "hcpcs_code",
        "units", "attended_minutes", "payer", "member_id", "authorization",
    )  # fmt: skip

    def csv_row(self) -> tuple:
        return (
            self.patient_id, self.mrn, self.day.isoformat(), self.program, self.asam_level, self.revenue_code,
            self.hcpcs_code, 1, "" if self.attended_minutes is None else self.attended_minutes, self.payer,
            self.member_id, self.authorization,
        )  # fmt: skip


def check_export_range(*, start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ExportRangeTooLong("The export ends before it starts.", field="date_to")
    if (end - start).days + 1 > MAX_EXPORT_DAYS:
        raise ExportRangeTooLong(f"Export at most {MAX_EXPORT_DAYS} days at a time.", field="date_to")


def billable_units(
    *, start: dt.date, end: dt.date, payer=None, sites=None, chunk: int = 2000
) -> Iterator[BillableUnit]:
    """One row per patient, day and code in ``[start, end]`` (inclusive) for ``payer`` (or every payer).

    A day in care is billed at one level at most: the one-level-of-care-per-day constraint on
    placements guarantees it. Streams from a server-side cursor, so a year of a large clinic is
    never held in memory.
    """
    check_export_range(start=start, end=end)
    params = {
        "start": start,
        "end": end,
        "payer": getattr(payer, "pk", payer),
        "default_minutes": DEFAULT_IOP_BILLABLE_MINUTES,
    }
    site_filter = ""
    if sites is not None:
        site_filter = "AND pr.site_id = ANY(%(sites)s)"
        params["sites"] = [getattr(site, "pk", site) for site in sites]
    sql = _BILLABLE_SQL.format(site_filter=site_filter)
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk):
            for public_id, mrn, day, program, level, revenue, hcpcs, minutes, payer_name, member, number in rows:
                yield BillableUnit(
                    str(public_id), mrn, day, program, level, revenue, hcpcs, minutes, payer_name, member,
                    number or NOT_COVERED,
                )  # fmt: skip
