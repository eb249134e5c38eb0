"""Reads for the care journey: census, current level of care, free beds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from patients.models import Patient
from programs.models import Bed, Placement, Program, Site


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


def free_beds(*, program: Program, from_on: dt.date) -> QuerySet[Bed]:
    """Beds in service with no stay on or after ``from_on`` (an admission's range is open-ended)."""
    occupied = Placement.objects.not_cancelled().filter(bed=OuterRef("pk")).exclude(ended_on__lte=from_on)
    return Bed.objects.filter(program=program, status=Bed.Status.AVAILABLE).exclude(Exists(occupied)).order_by("label")


@dataclass(frozen=True)
class JourneyStep:
    kind: str  # "residential", "iop", "aftercare"
    program: Program
    start_on: dt.date
    end_on: dt.date | None
    how_it_began: str  # "admitted", "enrolled", "stepped_down", "stepped_up", "discharged"


def patient_journey(*, patient: Patient) -> list[JourneyStep]:
    """The levels of care a patient has been through, oldest first, without cancelled (reversed) ones."""
    placements = (
        Placement.objects.not_cancelled()
        .filter(patient=patient)
        .select_related("program__site", "transition_in")
        .order_by("start_on", "id")
    )
    steps: list[JourneyStep] = []
    for placement in placements:
        transition = getattr(placement, "transition_in", None)
        if transition is not None:
            began = "stepped_down" if transition.kind == "step_down" else "stepped_up"
        else:
            began = "admitted" if placement.is_residential else "enrolled"
        steps.append(JourneyStep(placement.kind, placement.program, placement.start_on, placement.ended_on, began))
    plans = patient.aftercare_plans.exclude(status="revoked").select_related("program__site").order_by("starts_on")
    for plan in plans:
        steps.append(JourneyStep("aftercare", plan.program, plan.starts_on, None, "discharged"))
    return sorted(steps, key=lambda step: step.start_on)
