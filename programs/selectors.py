"""Reads for the care journey: census, current level of care, free beds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, DateField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from clinic import clock
from patients.models import Patient
from programs.models import (
    AftercareCheckIn,
    AftercarePlan,
    Bed,
    Discharge,
    Placement,
    Program,
    Reversal,
    Site,
    StayExtension,
    Transition,
    TreatmentEpisode,
)


@dataclass(frozen=True)
class ProgramCensus:
    program: Program
    patients: int
    beds_in_service: int
    beds_occupied: int

    @property
    def occupancy_percent(self) -> float | None:
        if not self.beds_in_service:
            return None
        return round(100 * self.beds_occupied / self.beds_in_service, 1)


def census(*, on: dt.date, sites: QuerySet[Site] | list[Site] | None = None) -> list[ProgramCensus]:
    """Patients in each program on ``on`` and, for residential programs, beds occupied of beds in service.

    A patient stepped down on ``on`` counts once, in the outpatient track: the
    stay's range ``[start, on)`` no longer contains the day.
    """
    in_force = Placement.objects.on(on).filter(program=OuterRef("pk"))
    programs = Program.objects.filter(is_active=True).select_related("site")
    if sites is not None:
        programs = programs.filter(site__in=sites)
    programs = programs.annotate(
        patient_count=_count(in_force),
        beds_in_service=_count(Bed.objects.filter(program=OuterRef("pk"), status=Bed.Status.AVAILABLE)),
        beds_occupied=_count(in_force.filter(bed__isnull=False)),
    ).order_by("site__name", "asam_level", "name")
    return [
        ProgramCensus(
            program=program,
            patients=program.patient_count,
            beds_in_service=program.beds_in_service,
            beds_occupied=program.beds_occupied,
        )
        for program in programs
    ]


def _count(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT(*) subquery (joins over two relations would multiply rows)."""
    counted = queryset.order_by().values("program").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted), 0)


def current_placement(*, patient: Patient, on: dt.date) -> Placement | None:
    return Placement.objects.on(on).filter(patient=patient).select_related("program", "bed").first()


# --- Beds held by an app above (admissions: reservations), asked through a hook -----------------
# programs cannot import the apps above it. One registers, from its AppConfig.ready(), an object with
#   held_beds(*, from_on, now) -> a values("bed") queryset of beds held for a patient on or after from_on
#   next_holds(*, bed_ids, on, now) -> {bed_id: PlannedAdmission}, the first hold after ``on`` per bed
# so a free-bed picker does not offer a reserved bed and the bed board shows the next planned admission.


@dataclass(frozen=True)
class PlannedAdmission:
    """A bed held for a patient from a date (a reservation), not yet a stay."""

    patient: Patient
    start_on: dt.date
    planned_end_on: dt.date | None
    source: str  # what holds it, for the reader: "reservation"


BED_HOLD_SOURCES: list = []


def register_bed_holds(source) -> None:
    if source not in BED_HOLD_SOURCES:
        BED_HOLD_SOURCES.append(source)


def free_beds(*, from_on: dt.date, program: Program | None = None, programs=None) -> QuerySet[Bed]:
    """Beds in service with no stay on or after ``from_on`` (an admission's range is open-ended), nor a hold.

    A bed reserved for someone is not free to admit anyone else to; the reserved patient is admitted
    through the reservation. An expired reservation holds nothing (the admission's check lapses it).
    """
    occupied = Placement.objects.not_cancelled().filter(bed=OuterRef("pk")).exclude(ended_on__lte=from_on)
    beds = Bed.objects.filter(status=Bed.Status.AVAILABLE, program__is_active=True).exclude(Exists(occupied))
    now = clock.now()
    for source in BED_HOLD_SOURCES:
        beds = beds.exclude(pk__in=source.held_beds(from_on=from_on, now=now))
    if program is not None:
        beds = beds.filter(program=program)
    if programs is not None:
        beds = beds.filter(program__in=programs)
    return beds.select_related("program__site").order_by("program__site__name", "program__name", "label")


@dataclass(frozen=True)
class JourneyStep:
    kind: str  # "residential", "iop", "aftercare"
    program: Program
    start_on: dt.date
    end_on: dt.date | None
    how_it_began: str  # "admitted", "enrolled", "stepped_down", "stepped_up", "discharged"


def patient_placements(*, patient: Patient) -> list[Placement]:
    """The patient's placements, oldest first, without cancelled (reversed) ones; with program and transition in.

    Read through the patient's related manager, so each placement's ``patient`` is the object given
    (no query for it): ``scheduling.selectors.weekly_hours(enrollments=...)`` judges them as they are.
    """
    return list(
        patient.placements.not_cancelled().select_related("program", "transition_in").order_by("start_on", "id")
    )


def how_it_began(kind: str, transition_kind: str | None) -> str:
    """How a placement of ``kind`` began: by a step down or up, else an admission or an enrollment."""
    if transition_kind is not None:
        return "stepped_down" if transition_kind == "step_down" else "stepped_up"
    return "admitted" if kind == "residential" else "enrolled"


def patient_journey(*, patient: Patient, placements: list[Placement] | None = None) -> list[JourneyStep]:
    """The levels of care a patient has been through, oldest first, without cancelled (reversed) ones.

    ``placements``: those of ``patient_placements``, when the caller has them already.
    """
    if placements is None:
        placements = patient_placements(patient=patient)
    steps: list[JourneyStep] = []
    for placement in placements:
        transition = getattr(placement, "transition_in", None)
        began = how_it_began(placement.kind, transition.kind if transition is not None else None)
        steps.append(JourneyStep(placement.kind, placement.program, placement.start_on, placement.ended_on, began))
    plans = patient.aftercare_plans.exclude(status="revoked").select_related("program").order_by("starts_on")
    for plan in plans:
        steps.append(JourneyStep("aftercare", plan.program, plan.starts_on, None, "discharged"))
    return sorted(steps, key=lambda step: step.start_on)


# --- the shift's worklists (the dashboard's figures and the admin filters behind them) ---------
# Each returns a queryset so the figure on the dashboard and the list it links to are one query.

APPROACHING_DAYS = 7
CHECKIN_GRACE_DAYS = 2


def _sites_filter(queryset: QuerySet, sites, path: str = "program__site") -> QuerySet:
    return queryset if sites is None else queryset.filter(**{f"{path}__in": sites})


def active_stays(*, on: dt.date, sites=None) -> QuerySet[Placement]:
    return _sites_filter(Placement.objects.on(on).filter(kind="residential"), sites)


def stays_approaching_end(*, on: dt.date, sites=None) -> QuerySet[Placement]:
    """Stays whose planned discharge, or the program maximum, is within a week."""
    soon = on + dt.timedelta(days=APPROACHING_DAYS)
    at_max = ExpressionWrapper(F("start_on") + F("program__residential_max_days"), output_field=DateField())
    return (
        active_stays(on=on, sites=sites)
        .annotate(max_end_on=at_max)
        .filter(Q(planned_end_on__lte=soon) | Q(max_end_on__lte=soon))
    )


def stays_due_step_down_decision(*, on: dt.date, sites=None) -> QuerySet[Placement]:
    """Residential patients past their program's minimum length: time to decide on a step-down."""
    reached_min = ExpressionWrapper(F("start_on") + F("program__residential_min_days"), output_field=DateField())
    return active_stays(on=on, sites=sites).annotate(min_reached_on=reached_min).filter(min_reached_on__lte=on)


def admissions_between(*, start: dt.date, end: dt.date, sites=None) -> QuerySet[Placement]:
    """New residential stays and IOP enrollments that began a treatment episode (not transitions)."""
    return _sites_filter(
        Placement.objects.not_cancelled().filter(start_on__gte=start, start_on__lt=end, transition_in__isnull=True),
        sites,
    )


def discharges_between(*, start: dt.date, end: dt.date, sites=None) -> QuerySet[Discharge]:
    return _sites_filter(
        Discharge.objects.filter(effective_on__gte=start, effective_on__lt=end, reversal__isnull=True),
        sites,
        "ended_placement__program__site",
    )


def checkins_due(*, on: dt.date, sites=None) -> QuerySet[AftercareCheckIn]:
    """Aftercare check-ins due from today to a week ahead, still open."""
    return _sites_filter(
        AftercareCheckIn.objects.filter(
            status="scheduled", plan__status="active", due_on__gte=on, due_on__lte=on + dt.timedelta(days=7)
        ),
        sites,
        "plan__program__site",
    )


def checkins_missed(*, on: dt.date, sites=None) -> QuerySet[AftercareCheckIn]:
    """Check-ins past due by more than the grace days and not done: someone should call."""
    return _sites_filter(
        AftercareCheckIn.objects.filter(
            status="scheduled", plan__status="active", due_on__lt=on - dt.timedelta(days=CHECKIN_GRACE_DAYS)
        ),
        sites,
        "plan__program__site",
    )


def daily_census(*, start: dt.date, end: dt.date, sites=None) -> list[tuple[dt.date, int, int]]:
    """(day, residential patients, outpatient patients) for each day in [start, end], in one query."""
    site_ids = None if sites is None else [site.pk for site in sites]
    sql = """
        SELECT day::date,
               count(*) FILTER (WHERE p.kind = 'residential'),
               count(*) FILTER (WHERE p.kind = 'iop')
          FROM generate_series(%s::date, %s::date, interval '1 day') AS day
          LEFT JOIN programs_placement p
            ON p.cancelled_at IS NULL
           AND daterange(p.start_on, p.ended_on, '[)') @> day::date
           AND (%s::bigint[] IS NULL OR p.program_id IN (
                   SELECT id FROM programs_program WHERE site_id = ANY(%s::bigint[])))
         GROUP BY day ORDER BY day
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, end, site_ids, site_ids])
        return [(row[0], row[1], row[2]) for row in cursor.fetchall()]


@dataclass(frozen=True)
class TimelineEvent:
    on: dt.date
    title: str
    detail: str = ""  # clinical detail (reasons, notes): shown only to roles that may see clinical data
    by: str = ""
    reversed: bool = False


def patient_timeline(*, patient: Patient) -> list[TimelineEvent]:
    """Every step of every episode, newest first, including reversed ones (marked), for the staff patient page."""
    events: list[TimelineEvent] = []
    for episode in TreatmentEpisode.objects.filter(patient=patient):
        events.append(TimelineEvent(episode.started_on, "Treatment episode opened"))
    placements = Placement.objects.filter(patient=patient).select_related("program", "bed", "transition_in")
    for placement in placements:
        if getattr(placement, "transition_in", None) is None:
            where = f"{placement.program.name}" + (f", bed {placement.bed.label}" if placement.bed else "")
            verb = "Admitted to" if placement.is_residential else "Enrolled in"
            events.append(
                TimelineEvent(placement.start_on, f"{verb} {where}", reversed=placement.cancelled_at is not None)
            )
    for ext in StayExtension.objects.filter(stay__patient=patient).select_related("approved_by"):
        events.append(
            TimelineEvent(
                ext.approved_at.date(),
                f"Stay extended to {ext.new_planned_end_on:%Y-%m-%d}",
                ext.reason,
                ext.approved_by.get_full_name() or ext.approved_by.get_username(),
            )
        )
    transitions = Transition.objects.filter(episode__patient=patient).select_related(
        "to_placement__program", "to_placement__bed", "decided_by", "reversal__reversed_by"
    )
    for tr in transitions:
        target = tr.to_placement.program.name
        events.append(
            TimelineEvent(
                tr.effective_on,
                f"{tr.get_kind_display()} to {target}",
                tr.reason,
                tr.decided_by.get_full_name() or tr.decided_by.get_username(),
                reversed=hasattr(tr, "reversal"),
            )
        )
    discharges = Discharge.objects.filter(episode__patient=patient).select_related("decided_by", "reversal")
    for dis in discharges:
        events.append(
            TimelineEvent(
                dis.effective_on,
                f"Discharged ({dis.get_disposition_display().lower()}); aftercare began",
                dis.notes,
                dis.decided_by.get_full_name() or dis.decided_by.get_username(),
                reversed=hasattr(dis, "reversal"),
            )
        )
    for rev in Reversal.objects.filter(
        Q(transition__episode__patient=patient) | Q(discharge__episode__patient=patient)
    ).select_related("reversed_by", "transition", "discharge"):
        undone = rev.transition or rev.discharge
        events.append(
            TimelineEvent(
                rev.created_at.date(),
                f"Reversed: {undone}",
                rev.reason,
                rev.reversed_by.get_full_name() or rev.reversed_by.get_username(),
            )
        )
    checkins = AftercareCheckIn.objects.filter(plan__patient=patient).exclude(status="cancelled")
    for checkin in checkins:
        events.append(TimelineEvent(checkin.due_on, f"Aftercare day-{checkin.offset_days} check-in ({checkin.status})"))
    return sorted(events, key=lambda event: event.on, reverse=True)


# --- The bed board (issue 12) ------------------------------------------------------------------
# One row per bed of the residential programs shown: who is in it today, how far into the stay,
# what needs deciding, and when it frees up. Two queries whatever the number of beds.

BOARD_WEEK_DAYS = 7


@dataclass(frozen=True)
class BoardBed:
    bed: Bed
    on: dt.date
    stay: Placement | None  # the stay that holds the bed on ``on``
    next_stay: Placement | None  # the next planned admission to the bed after ``on``
    free_since: dt.date | None  # for a free bed: the day the last stay ended
    next_hold: PlannedAdmission | None = None  # the first reservation of the bed after ``on``

    @property
    def next_admission(self) -> Placement | PlannedAdmission | None:
        """The next planned admission to the bed: a stay entered ahead, or a reservation, whichever is first."""
        planned = [p for p in (self.next_stay, self.next_hold) if p is not None]
        return min(planned, key=lambda p: p.start_on) if planned else None

    @property
    def reserved(self) -> bool:
        """A free bed held for someone: admitting anyone else is refused."""
        return self.stay is None and self.next_hold is not None

    @property
    def in_service(self) -> bool:
        return self.bed.status == Bed.Status.AVAILABLE

    @property
    def day_number(self) -> int | None:
        return None if self.stay is None else (self.on - self.stay.start_on).days + 1

    @property
    def planned_length(self) -> int | None:
        return None if self.stay is None else self.stay.planned_length_days

    @property
    def past_minimum_by(self) -> int | None:
        """Days past the program minimum (0 on the day it is reached): due a step-down decision."""
        if self.stay is None:
            return None
        days = (self.on - self.stay.start_on).days - self.bed.program.residential_min_days
        return days if days >= 0 else None

    @property
    def max_end_on(self) -> dt.date | None:
        if self.stay is None:
            return None
        return self.stay.start_on + dt.timedelta(days=self.bed.program.residential_max_days)

    @property
    def nearing_end(self) -> bool:
        """Planned discharge or the program maximum within a week (as ``stays_approaching_end``)."""
        if self.stay is None:
            return False
        soon = self.on + dt.timedelta(days=APPROACHING_DAYS)
        return self.stay.planned_end_on <= soon or self.max_end_on <= soon

    @property
    def past_planned_end(self) -> bool:
        return self.stay is not None and self.stay.planned_end_on < self.on

    @property
    def days_left(self) -> int | None:
        return None if self.stay is None else (self.stay.planned_end_on - self.on).days

    @property
    def frees_this_week(self) -> bool:
        """Occupied today, planned to be free within the next seven days."""
        return self.stay is not None and self.stay.planned_end_on < self.on + dt.timedelta(days=BOARD_WEEK_DAYS)


def bed_board(*, on: dt.date, programs: Iterable[Program]) -> list[BoardBed]:
    """Every bed (in service or not) of the residential programs in ``programs``, as on the day ``on``."""
    last_ended = (
        Placement.objects.not_cancelled()
        .filter(bed=OuterRef("pk"), ended_on__lte=on)
        .order_by("-ended_on")
        .values("ended_on")[:1]
    )
    beds = list(
        Bed.objects.filter(program__in=[program.pk for program in programs if program.is_residential])
        .select_related("program__site")
        .annotate(free_since=Subquery(last_ended))
        .order_by("program__site__name", "program__name", "label")
    )
    # Stays holding a bed today or later: the current one and the planned admissions.
    stays = (
        Placement.objects.not_cancelled()
        .filter(bed__in=[bed.pk for bed in beds])
        .exclude(ended_on__lte=on)
        .select_related("patient")
        .order_by("bed_id", "start_on")
    )
    current: dict[int, Placement] = {}
    upcoming: dict[int, Placement] = {}
    for stay in stays:
        if stay.start_on <= on:
            current[stay.bed_id] = stay
        else:
            upcoming.setdefault(stay.bed_id, stay)
    holds: dict[int, PlannedAdmission] = {}
    now = clock.now()
    for source in BED_HOLD_SOURCES:  # one query each, whatever the number of beds
        for bed_id, hold in source.next_holds(bed_ids=[bed.pk for bed in beds], on=on, now=now).items():
            if bed_id not in holds or hold.start_on < holds[bed_id].start_on:
                holds[bed_id] = hold
    return [
        BoardBed(
            bed=bed,
            on=on,
            stay=current.get(bed.pk),
            next_stay=upcoming.get(bed.pk),
            free_since=None if bed.pk in current else bed.free_since,
            next_hold=holds.get(bed.pk),
        )
        for bed in beds
    ]


def bed_board_local(*, programs: QuerySet[Program]) -> list[BoardBed]:
    """The bed board with each program on its own local today (a board can span time zones).

    One pass of ``bed_board`` per distinct local date: two at most, whatever the data size.
    """
    by_day: dict[dt.date, list[Program]] = {}
    for program in programs.residential().filter(is_active=True).select_related("site"):
        by_day.setdefault(clock.local_today(program.time_zone), []).append(program)
    rows = [row for day, group in sorted(by_day.items()) for row in bed_board(on=day, programs=group)]
    return sorted(rows, key=lambda row: (row.bed.program.site.name, row.bed.program.name, row.bed.label))


# --- The patient chart header (issue 12) ---------------------------------------------------------


@dataclass(frozen=True)
class ChartHeader:
    """Where the patient is now, read at the top of the patient page."""

    patient: Patient
    on: dt.date  # the program's local today (the patient's own when not placed)
    placement: Placement | None

    @property
    def age(self) -> int:
        return self.patient.age_on(self.on)

    @property
    def day_number(self) -> int | None:
        return None if self.placement is None else (self.on - self.placement.start_on).days + 1

    @property
    def planned_length(self) -> int | None:
        return None if self.placement is None else self.placement.planned_length_days

    @property
    def days_left(self) -> int | None:
        if self.placement is None or self.placement.planned_end_on is None:
            return None
        return (self.placement.planned_end_on - self.on).days


def chart_header(*, patient: Patient) -> ChartHeader:
    placement = (
        Placement.objects.open()
        .filter(patient=patient)
        .select_related("program__site", "bed")
        .order_by("start_on")
        .first()
    )
    zone = placement.program.time_zone if placement is not None else patient.time_zone
    return ChartHeader(patient=patient, on=clock.local_today(zone), placement=placement)


@dataclass(frozen=True)
class ChartCheckIn:
    """An aftercare check-in as the chart lists it: due, done or missed, and how late."""

    checkin: AftercareCheckIn
    days_late: int  # past its due date without being done (0 otherwise)
    overdue: bool  # past the grace days: someone should call (as ``checkins_missed``)


def aftercare_checkins(*, patient: Patient) -> list[ChartCheckIn]:
    """The check-ins of the patient's aftercare plans (revoked plans left out), by due date; one query."""
    checkins = (
        AftercareCheckIn.objects.filter(plan__patient=patient)
        .exclude(plan__status=AftercarePlan.Status.REVOKED)
        .select_related("plan__program")
        .order_by("due_on", "id")
    )
    rows = []
    for checkin in checkins:
        on = clock.local_today(checkin.plan.program.time_zone)
        late = (on - checkin.due_on).days if checkin.status == "scheduled" and checkin.due_on < on else 0
        rows.append(ChartCheckIn(checkin, late, late > CHECKIN_GRACE_DAYS))
    return rows


def current_care_annotations() -> dict:
    """Annotations for a Patient queryset: the program and bed of the open level of care, if any."""
    open_care = Placement.objects.open().filter(patient=OuterRef("pk")).order_by("start_on")
    return {
        "care_program": Subquery(open_care.values("program__name")[:1]),
        "care_bed": Subquery(open_care.values("bed__label")[:1]),
    }
