"""Writes for utilization review: coverage, authorization requests, the payer's decisions and reviews.

Each function is one transaction and raises a domain error (nothing written) when the request
cannot be carried out; the PostgreSQL rules (utilization/migrations) are the last word and a
violation caught there is turned into the same clear error.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from clinic import clock
from clinic.db import translate_integrity_errors
from patients.models import Patient
from programs.models import RESIDENTIAL_LEVELS, AsamLevel, Placement, TreatmentEpisode
from utilization.errors import (
    AlreadyDecided,
    AuthorizationOverlap,
    CoverageOverlap,
    InvalidAuthorization,
    InvalidCoverage,
    InvalidReview,
)
from utilization.models import (
    APPROVED_STATUSES,
    MAX_SESSIONS_PER_DAY,
    Authorization,
    AuthorizationStatus,
    ConcurrentReview,
    Coverage,
    Payer,
    ReviewOutcome,
    SubscriberRelation,
    UnitKind,
)

CONSTRAINT_ERRORS = {
    "coverage_one_per_rank_per_day": lambda: CoverageOverlap(
        "The patient already has a coverage of that rank on those dates.", field="rank"
    ),
    "authorization_no_overlap_per_coverage_level": lambda: AuthorizationOverlap(
        "Another approved authorization for this coverage and level of care overlaps these dates.", field="start_on"
    ),
    "utilization_authorization_payer_terms": lambda: AlreadyDecided(
        "The payer's decision is recorded as given and cannot be changed; record a concurrent review instead."
    ),
}


def add_coverage(
    *,
    patient: Patient,
    payer: Payer,
    effective_on: dt.date,
    created_by: AbstractBaseUser,
    rank: int = 1,
    member_id: str = "",
    group_number: str = "",
    subscriber_relation: str = SubscriberRelation.SELF,
    ends_on: dt.date | None = None,
) -> Coverage:
    """Record a patient's coverage with a payer (front desk does this at registration)."""
    if ends_on is not None and ends_on < effective_on:
        raise InvalidCoverage("The coverage ends before it starts.", field="ends_on")
    if rank < 1:
        raise InvalidCoverage("Rank 1 is the primary coverage; give 1 or more.", field="rank")
    if payer.requires_authorization and not member_id.strip():
        raise InvalidCoverage(f"{payer} needs the member id from the card.", field="member_id")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        Patient.objects.select_for_update().get(pk=patient.pk)
        clash = Coverage.objects.filter(patient=patient, rank=rank, effective_on__lte=ends_on or dt.date.max).exclude(
            ends_on__lt=effective_on
        )
        if clash.exists():
            raise CONSTRAINT_ERRORS["coverage_one_per_rank_per_day"]()
        return Coverage.objects.create(
            patient=patient,
            payer=payer,
            rank=rank,
            member_id=member_id.strip(),
            group_number=group_number.strip(),
            subscriber_relation=subscriber_relation,
            effective_on=effective_on,
            ends_on=ends_on,
            created_by=created_by,
        )


def _check_units(
    *, units: int, start_on: dt.date, end_on: dt.date, unit_kind: str, field: str, error=InvalidAuthorization
) -> None:
    days = (end_on - start_on).days + 1
    most = days if unit_kind == UnitKind.DAYS else days * MAX_SESSIONS_PER_DAY
    if units < 0:
        raise error("Units cannot be below zero.", field=field)
    if units > most:
        raise error(f"{units} {unit_kind} do not fit between {start_on} and {end_on} (at most {most}).", field=field)


def _check_unit_kind(*, asam_level: str, unit_kind: str) -> None:
    if asam_level in RESIDENTIAL_LEVELS and unit_kind != UnitKind.DAYS:
        raise InvalidAuthorization("Residential care is authorized in days.", field="unit_kind")


def request_authorization(
    *,
    episode: TreatmentEpisode,
    coverage: Coverage,
    asam_level: str,
    requested_units: int,
    start_on: dt.date,
    end_on: dt.date,
    requested_by: AbstractBaseUser,
    unit_kind: str = UnitKind.DAYS,
    requested_on: dt.date | None = None,
    notes: str = "",
) -> Authorization:
    """Ask the payer to authorize a level of care the episode has (or is entering) for some units and dates."""
    requested_on = requested_on or clock.today()
    if asam_level not in AsamLevel.values:
        raise InvalidAuthorization("Give an ASAM level of care.", field="asam_level")
    if end_on < start_on:
        raise InvalidAuthorization("The authorization ends before it starts.", field="end_on")
    _check_unit_kind(asam_level=asam_level, unit_kind=unit_kind)
    _check_units(units=requested_units, start_on=start_on, end_on=end_on, unit_kind=unit_kind, field="requested_units")
    if coverage.patient_id != episode.patient_id:
        raise InvalidAuthorization("That coverage belongs to another patient.", field="coverage")
    if not coverage.payer.requires_authorization:
        raise InvalidAuthorization(f"{coverage.payer} needs no authorization.", field="coverage")
    had_level = Placement.objects.not_cancelled().filter(episode=episode, program__asam_level=asam_level)
    if not had_level.exists():
        raise InvalidAuthorization(
            f"This episode has no level of care {asam_level}; place the patient there first.", field="asam_level"
        )
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        return Authorization.objects.create(
            episode=episode,
            patient_id=episode.patient_id,
            coverage=coverage,
            asam_level=asam_level,
            unit_kind=unit_kind,
            requested_units=requested_units,
            requested_start_on=start_on,
            requested_end_on=end_on,
            requested_on=requested_on,
            requested_by=requested_by,
            notes=notes.strip(),
        )


def record_decision(
    *,
    authorization: Authorization,
    status: str,
    decided_by: AbstractBaseUser,
    decided_on: dt.date,
    number: str = "",
    approved_units: int | None = None,
    start_on: dt.date | None = None,
    end_on: dt.date | None = None,
    next_review_on: dt.date | None = None,
    notes: str = "",
) -> Authorization:
    """Record what the payer decided, as the payer said it: approved, partially approved or denied."""
    if status not in (*APPROVED_STATUSES, AuthorizationStatus.DENIED):
        raise InvalidAuthorization("A decision approves, partially approves or denies.", field="status")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        authorization = Authorization.objects.select_for_update().select_related("coverage").get(pk=authorization.pk)
        if authorization.status != AuthorizationStatus.REQUESTED:
            raise AlreadyDecided(
                f"This authorization was already {authorization.get_status_display().lower()}; "
                "record a concurrent review for what the payer says now."
            )
        if decided_on < authorization.requested_on:
            raise InvalidAuthorization("The decision is dated before the request.", field="decided_on")
        if status in APPROVED_STATUSES:
            if not number.strip():
                raise InvalidAuthorization("Give the payer's authorization number.", field="number")
            if approved_units is None or start_on is None or end_on is None:
                raise InvalidAuthorization("Give the approved units and dates.", field="approved_units")
            if end_on < start_on:
                raise InvalidAuthorization("The authorization ends before it starts.", field="end_on")
            _check_units(
                units=approved_units,
                start_on=start_on,
                end_on=end_on,
                unit_kind=authorization.unit_kind,
                field="approved_units",
            )
            if next_review_on is not None and next_review_on < decided_on:
                raise InvalidAuthorization("The next review is before the decision.", field="next_review_on")
            overlapping = Authorization.objects.filter(
                coverage=authorization.coverage_id,
                asam_level=authorization.asam_level,
                status__in=APPROVED_STATUSES,
                start_on__lte=end_on,
            ).exclude(pk=authorization.pk)
            if any((other.extended_to or other.end_on) >= start_on for other in overlapping):
                raise CONSTRAINT_ERRORS["authorization_no_overlap_per_coverage_level"]()
            authorization.number = number.strip()
            authorization.approved_units = approved_units
            authorization.start_on = start_on
            authorization.end_on = end_on
            authorization.next_review_on = next_review_on
        else:
            authorization.number = number.strip()
        authorization.status = status
        authorization.decided_on = decided_on
        authorization.decided_by = decided_by
        if notes.strip():
            authorization.notes = "\n".join(filter(None, [authorization.notes, notes.strip()]))
        authorization.save()
        return authorization


def record_review(
    *,
    authorization: Authorization,
    reviewed_on: dt.date,
    outcome: str,
    recorded_by: AbstractBaseUser,
    units_added: int = 0,
    new_end_on: dt.date | None = None,
    next_review_on: dt.date | None = None,
    notes: str = "",
) -> ConcurrentReview:
    """Record a concurrent review with the payer: a new row; more units approved extend the authorization."""
    if outcome not in ReviewOutcome.values:
        raise InvalidReview("Give the outcome of the review.", field="outcome")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        authorization = Authorization.objects.select_for_update().get(pk=authorization.pk)
        if reviewed_on < authorization.requested_on:
            raise InvalidReview(
                f"The review is dated before the authorization was requested ({authorization.requested_on}).",
                field="reviewed_on",
            )
        if next_review_on is not None and next_review_on < reviewed_on:
            raise InvalidReview("The next review is before this one.", field="next_review_on")
        if outcome == ReviewOutcome.APPROVED_MORE:
            if not authorization.is_approved:
                raise InvalidReview("Only an approved authorization can be extended.", field="outcome")
            through = authorization.approved_through
            if new_end_on is None or new_end_on <= through:
                raise InvalidReview(f"The new end must be after {through}.", field="new_end_on")
            if units_added < 1:
                raise InvalidReview("Give the units the payer added.", field="units_added")
            _check_units(
                units=authorization.total_units + units_added,
                start_on=authorization.start_on,
                end_on=new_end_on,
                unit_kind=authorization.unit_kind,
                field="units_added",
                error=InvalidReview,
            )
            overlapping = Authorization.objects.filter(
                coverage=authorization.coverage_id,
                asam_level=authorization.asam_level,
                status__in=APPROVED_STATUSES,
                start_on__gt=through,
                start_on__lte=new_end_on,
            ).exclude(pk=authorization.pk)
            if overlapping.exists():
                raise CONSTRAINT_ERRORS["authorization_no_overlap_per_coverage_level"]()
            authorization.units_added += units_added
            authorization.extended_to = new_end_on
        elif units_added or new_end_on:
            raise InvalidReview("Only a review that approves more units adds units or a new end.", field="outcome")
        review = ConcurrentReview.objects.create(
            authorization=authorization,
            reviewed_on=reviewed_on,
            outcome=outcome,
            units_added=units_added,
            new_end_on=new_end_on,
            next_review_on=next_review_on,
            notes=notes.strip(),
            recorded_by=recorded_by,
        )
        authorization.next_review_on = next_review_on
        authorization.save(update_fields=["units_added", "extended_to", "next_review_on", "updated_at"])
        return review
