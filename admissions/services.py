"""Writes for admissions: referrals and their decisions, the waitlist's priorities, reservations, admission.

Keyword-only, one transaction each, rows locked before they change; a refusal is a
domain error with a clear message and nothing written. PostgreSQL is the last word
on the bed rule (``bed_one_hold_per_day``) and the services translate its refusal.

**Expiry.** A reservation past ``expires_at`` holds nothing: the census and every
check read "held and not expired" with the application's clock. Its row (and its
bed hold) stays until it is marked lapsed, which happens (1) every 15 minutes in the
``admissions-lapse-reservations`` beat task and (2) under the bed's lock, in the same
transaction, whenever anyone reserves or admits to that bed (through this app or
``programs.services``, by the bed-claim hook). So an expired reservation can never
block a bed: the write that wants the bed clears it first.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from admissions import selectors
from admissions.errors import (
    InvalidReferralTransition,
    PossibleDuplicate,
    ProgramFull,
    ReferralNotWaiting,
    ReservationLapsed,
    ReservationNotHeld,
)
from admissions.models import (
    REFERRAL_TRANSITIONS,
    Referral,
    ReferralEvent,
    ReferralSource,
    ReferralStatus,
    Reservation,
    ReservationStatus,
)
from clinic import clock, localtime
from clinic.db import translate_integrity_errors
from clinic.errors import InvalidInput
from patients import services as patient_services
from patients.models import Patient
from patients.validators import normalize_phone
from programs import services as journey
from programs.errors import BedUnavailable, InvalidDate, WrongProgram
from programs.models import Bed, Placement, PlacementKind, Program

CONSTRAINT_ERRORS = {
    "bed_one_hold_per_day": lambda: BedUnavailable(
        "This bed was just reserved or given to another patient on these dates; choose another bed."
    ),
    "reservation_one_held_per_referral": lambda: ReferralNotWaiting(
        "This referral already has a held reservation; cancel it before reserving again."
    ),
    "referral_one_open_per_patient_and_program": lambda: InvalidReferralTransition(
        "The patient already has an open referral to this program."
    ),
}
IOP_SEAT_CHECK_DAYS = 28
MAX_DAYS_AHEAD = 180


def _today_at(program: Program) -> dt.date:
    return clock.local_today(program.time_zone)


def _reason(reason: str, *, what: str) -> str:
    if not reason or not reason.strip():
        raise InvalidInput(f"Give the reason for {what}.", field="reason")
    return reason.strip()


def _lock_referral(referral: Referral) -> Referral:
    return (
        Referral.objects.select_for_update(of=("self",)).select_related("program__site", "patient").get(pk=referral.pk)
    )


def _move(referral: Referral, *, to: str, by: AbstractBaseUser, reason: str = "", on: dt.date | None = None) -> None:
    allowed = REFERRAL_TRANSITIONS.get(referral.status, frozenset())
    if to not in allowed:
        raise InvalidReferralTransition(
            f"A referral that is {referral.get_status_display().lower()} cannot become "
            f"{ReferralStatus(to).label.lower()}.",
            field="status",
        )
    now = clock.now()
    ReferralEvent.objects.create(
        referral=referral,
        kind=ReferralEvent.Kind.STATUS,
        from_value=referral.status,
        to_value=to,
        reason=reason,
        by=by,
        at=now,
    )
    referral.status = to
    if to != ReferralStatus.SCREENING:
        referral.decided_by, referral.decided_at, referral.decision_reason = by, now, reason
    if to in (ReferralStatus.ADMITTED, ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN, ReferralStatus.NO_RESPONSE):
        referral.closed_on = max(on or _today_at(referral.program), referral.referred_on)


# --- referrals --------------------------------------------------------------------------------------


def create_referral(
    *,
    program: Program,
    source: ReferralSource | str,
    referred_on: dt.date,
    created_by: AbstractBaseUser,
    patient: Patient | None = None,
    first_name: str = "",
    last_name: str = "",
    date_of_birth: dt.date | None = None,
    phone: str = "",
    email: str = "",
    referrer_name: str = "",
    notes: str = "",
    requested_level: str | None = None,
    priority: int = 3,
) -> Referral:
    """Record a referral of a person (or an existing patient) to a program; it starts as new."""
    if not program.is_active:
        raise WrongProgram(f"{program.name} is not taking referrals.", field="program")
    if referred_on > _today_at(program):
        raise InvalidDate("The referral date is in the future.", field="referred_on")
    if patient is not None:
        first_name = first_name or patient.legal_first_name
        last_name = last_name or patient.legal_last_name
        date_of_birth = date_of_birth or patient.date_of_birth
        phone = phone or patient.phone
    if not first_name.strip() or not last_name.strip():
        raise InvalidInput("Give the person's first and last name.", field="last_name")
    if phone:
        try:
            phone = normalize_phone(phone)
        except ValidationError:
            message = "Enter the phone number in international form, like +1 555 010 0199."
            raise InvalidInput(message, field="phone") from None
    if not 1 <= priority <= 5:
        raise InvalidInput("The priority is from 1 (most urgent) to 5.", field="priority")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        return Referral.objects.create(
            program=program,
            requested_level=requested_level or program.asam_level,
            source=source,
            referred_on=referred_on,
            patient=patient,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            date_of_birth=date_of_birth,
            phone=phone,
            email=email,
            referrer_name=referrer_name,
            notes=notes,
            priority=priority,
            created_by=created_by,
        )


def start_screening(*, referral: Referral, by: AbstractBaseUser) -> Referral:
    """First contact: the referral moves from new to screening."""
    with transaction.atomic():
        referral = _lock_referral(referral)
        _move(referral, to=ReferralStatus.SCREENING, by=by)
        referral.contacted_at = clock.now()
        referral.save()
        return referral


def accept_referral(
    *,
    referral: Referral,
    by: AbstractBaseUser,
    reason: str,
    mrn: str = "",
    confirm_new_person: bool = False,
    priority: int | None = None,
) -> Referral:
    """Accept a screened referral onto the program's waitlist, registering the person if they are not a patient.

    Before registering, patients with the same name and date of birth (or the same phone) are
    flagged: the caller links the existing patient to the referral instead, or confirms a new person.
    """
    reason = _reason(reason, what="accepting")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        referral = _lock_referral(referral)
        if referral.status != ReferralStatus.SCREENING:
            _move(referral, to=ReferralStatus.ACCEPTED, by=by, reason=reason)  # raises the clear refusal
        if referral.patient is None:
            referral.patient = _register(referral, mrn=mrn, confirm_new_person=confirm_new_person)
        _move(referral, to=ReferralStatus.ACCEPTED, by=by, reason=reason)
        referral.accepted_on = _today_at(referral.program)
        referral.accepted_at = clock.now()
        if priority is not None:
            if not 1 <= priority <= 5:
                raise InvalidInput("The priority is from 1 (most urgent) to 5.", field="priority")
            referral.priority = priority
        referral.save()
        return referral


def _register(referral: Referral, *, mrn: str, confirm_new_person: bool) -> Patient:
    if referral.date_of_birth is None:
        raise InvalidInput("Registering the person needs their date of birth.", field="date_of_birth")
    if not mrn.strip():
        raise InvalidInput("Registering the person needs a medical record number.", field="mrn")
    if not confirm_new_person:
        matches = list(
            selectors.possible_duplicates(
                first_name=referral.first_name,
                last_name=referral.last_name,
                date_of_birth=referral.date_of_birth,
                phone=referral.phone,
            ).values_list("mrn", flat=True)[:5]
        )
        if matches:
            raise PossibleDuplicate(
                f"This person may already be a patient (MRN {', '.join(matches)}): link the referral to that "
                "patient, or confirm this is a new person.",
                field="patient",
            )
    return patient_services.register_patient(
        mrn=mrn,
        legal_first_name=referral.first_name,
        legal_last_name=referral.last_name,
        date_of_birth=referral.date_of_birth,
        registered_site=referral.program.site,
        **({"phone": referral.phone} if referral.phone else {}),
        **({"email": referral.email} if referral.email else {}),
    )


def link_patient(*, referral: Referral, patient: Patient, by: AbstractBaseUser) -> Referral:
    """Name the existing patient a referral is about (a flagged duplicate, a readmission)."""
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        referral = _lock_referral(referral)
        if referral.status not in (ReferralStatus.NEW, ReferralStatus.SCREENING):
            raise InvalidReferralTransition("Only a referral not yet decided can be linked to a patient.")
        referral.patient = patient
        referral.save(update_fields=["patient", "updated_at"])
        return referral


def close_referral(*, referral: Referral, status: ReferralStatus | str, reason: str, by: AbstractBaseUser) -> Referral:
    """Decline, withdraw or mark no response, with the reason; a held reservation is cancelled with it."""
    if status not in (ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN, ReferralStatus.NO_RESPONSE):
        raise InvalidInput("Close a referral as declined, withdrawn or no response.", field="status")
    reason = _reason(reason, what="closing the referral")
    with transaction.atomic():
        referral = _lock_referral(referral)
        _move(referral, to=status, by=by, reason=reason)
        referral.save()
        now = clock.now()
        Reservation.objects.filter(referral=referral, status=ReservationStatus.HELD).update(
            status=ReservationStatus.CANCELLED, closed_at=now, closed_by=by, close_reason=reason, updated_at=now
        )
        return referral


def set_priority(*, referral: Referral, priority: int, reason: str, by: AbstractBaseUser) -> Referral:
    """Move a waitlisted referral up or down; the change and its reason are kept."""
    reason = _reason(reason, what="the new priority")
    if not 1 <= priority <= 5:
        raise InvalidInput("The priority is from 1 (most urgent) to 5.", field="priority")
    with transaction.atomic():
        referral = _lock_referral(referral)
        if referral.status != ReferralStatus.ACCEPTED:
            raise ReferralNotWaiting("Only a referral on the waitlist has a place to move.")
        ReferralEvent.objects.create(
            referral=referral,
            kind=ReferralEvent.Kind.PRIORITY,
            from_value=str(referral.priority),
            to_value=str(priority),
            reason=reason,
            by=by,
            at=clock.now(),
        )
        referral.priority = priority
        referral.save(update_fields=["priority", "updated_at"])
        return referral


# --- reservations -------------------------------------------------------------------------------------


def _lapse(reservations, *, now: dt.datetime) -> int:
    return reservations.filter(status=ReservationStatus.HELD, expires_at__lte=now).update(
        status=ReservationStatus.LAPSED, closed_at=now, close_reason="Not admitted by its expiry.", updated_at=now
    )


def lapse_expired_reservations(*, now: dt.datetime | None = None) -> int:
    """Mark every held reservation past its expiry as lapsed (its bed hold goes with it). Idempotent."""
    with transaction.atomic():
        return _lapse(Reservation.objects.all(), now=now or clock.now())


def _effective_end(placement_ended_on, planned_end_on, *, today: dt.date) -> dt.date | None:
    if placement_ended_on is not None:
        return placement_ended_on
    # An open stay past its planned discharge still occupies the bed; assume at least until tomorrow.
    return max(planned_end_on, today + dt.timedelta(days=1)) if planned_end_on else None


def _check_bed_free(*, bed: Bed, start_on: dt.date, end_on: dt.date, today: dt.date, now: dt.datetime) -> None:
    reserved = (
        selectors.held_reservations(now=now)
        .filter(bed=bed, start_on__lt=end_on, planned_end_on__gt=start_on)
        .order_by("start_on")
        .first()
    )
    if reserved is not None:
        raise BedUnavailable(
            f"Bed {bed.label} is reserved from {localtime.day(reserved.start_on)} "
            f"to {localtime.day(reserved.planned_end_on)}.",
            field="bed",
        )
    stays = Placement.objects.not_cancelled().filter(bed=bed, start_on__lt=end_on).exclude(ended_on__lte=start_on)
    for stay in stays.order_by("start_on"):
        until = _effective_end(stay.ended_on, stay.planned_end_on, today=today)
        if until is None or until > start_on:
            raise BedUnavailable(
                f"Bed {bed.label} is occupied until {localtime.day(until)} (planned discharge)."
                if until
                else f"Bed {bed.label} is occupied.",
                field="bed",
            )


def _check_seat_free(*, program: Program, start_on: dt.date, end_on: dt.date, today: dt.date, now) -> None:
    days = selectors.census_over_time(
        programs=[program], start=start_on, end=end_on - dt.timedelta(days=1), today=today, now=now
    )
    full = next((day for day in days if day.expected >= program.capacity), None)
    if full is not None:
        raise ProgramFull(
            f"{program.name} is full on {localtime.day(full.day)} ({full.expected} of {program.capacity} seats taken); "
            "there is no seat to reserve from this date.",
            field="start_on",
        )


def reserve(
    *,
    referral: Referral,
    start_on: dt.date,
    expires_at: dt.datetime,
    reserved_by: AbstractBaseUser,
    bed: Bed | None = None,
    planned_end_on: dt.date | None = None,
) -> Reservation:
    """Hold a bed (residential) or a seat (IOP track) from ``start_on`` for a waitlisted patient until expiry."""
    now = clock.now()
    if expires_at <= now:
        raise InvalidInput("The expiry is already past.", field="expires_at")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        referral = _lock_referral(referral)
        if referral.status != ReferralStatus.ACCEPTED:
            raise ReferralNotWaiting(
                f"Only an accepted referral (on the waitlist) can have a reservation; this one is "
                f"{referral.get_status_display().lower()}.",
                field="referral",
            )
        # Reservations of one program queue up here (seat counts). NO KEY UPDATE, not UPDATE: an admission
        # inserting a stay takes a KEY SHARE lock on the program (its foreign key) while holding the bed,
        # and a full UPDATE lock here deadlocked against it (found by the reservation/admission race).
        program = Program.objects.select_for_update(no_key=True).get(pk=referral.program_id)
        today = _today_at(program)
        if start_on < today:
            raise InvalidDate("A reservation cannot start in the past.", field="start_on")
        if start_on > today + dt.timedelta(days=MAX_DAYS_AHEAD):
            raise InvalidDate(f"A reservation starts at most {MAX_DAYS_AHEAD} days ahead.", field="start_on")
        if program.is_residential:
            if bed is None:
                raise InvalidInput(f"{program.name} is residential: choose a bed to reserve.", field="bed")
            bed = Bed.objects.select_for_update(of=("self",)).select_related("program").get(pk=bed.pk)
            if bed.program_id != program.pk:
                raise WrongProgram(
                    f"Bed {bed.label} belongs to {bed.program.name}, not to {program.name} the patient is waiting for.",
                    field="bed",
                )
            if bed.status == Bed.Status.OUT_OF_SERVICE:
                raise BedUnavailable(f"Bed {bed.label} is out of service.", field="bed")
            planned_end_on = planned_end_on or start_on + dt.timedelta(days=program.residential_min_days)
            journey._check_stay_length(program=program, start_on=start_on, planned_end_on=planned_end_on)
            _lapse(Reservation.objects.filter(bed=bed), now=now)
            _check_bed_free(bed=bed, start_on=start_on, end_on=planned_end_on, today=today, now=now)
        else:
            if bed is not None:
                raise WrongProgram(f"{program.name} is an outpatient track: it has seats, not beds.", field="bed")
            if planned_end_on is not None and planned_end_on <= start_on:
                raise InvalidDate("The planned end must be after the start.", field="planned_end_on")
            _lapse(Reservation.objects.filter(program=program, bed__isnull=True), now=now)
            check_until = planned_end_on or start_on + dt.timedelta(days=IOP_SEAT_CHECK_DAYS)
            _check_seat_free(program=program, start_on=start_on, end_on=check_until, today=today, now=now)
        return Reservation.objects.create(
            referral=referral,
            patient=referral.patient,
            program=program,
            bed=bed,
            start_on=start_on,
            planned_end_on=planned_end_on,
            expires_at=expires_at,
            created_by=reserved_by,
        )


def cancel_reservation(*, reservation: Reservation, reason: str, by: AbstractBaseUser) -> Reservation:
    """Release a held bed or seat (the patient stays on the waitlist)."""
    reason = _reason(reason, what="cancelling the reservation")
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().get(pk=reservation.pk)
        if reservation.status != ReservationStatus.HELD:
            raise ReservationNotHeld(f"This reservation is already {reservation.get_status_display().lower()}.")
        reservation.status = ReservationStatus.CANCELLED
        reservation.closed_at, reservation.closed_by, reservation.close_reason = clock.now(), by, reason
        reservation.save()
        return reservation


def extend_reservation(*, reservation: Reservation, expires_at: dt.datetime, by: AbstractBaseUser) -> Reservation:
    """Hold the bed or seat longer: a later expiry for a reservation still held (before its planned end)."""
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update(of=("self",)).select_related("program").get(pk=reservation.pk)
        )
        zone = reservation.program.time_zone
        if reservation.status != ReservationStatus.HELD:
            raise ReservationNotHeld(
                f"This reservation is {reservation.get_status_display().lower()}; it holds nothing to extend."
            )
        if reservation.expires_at <= clock.now():
            raise ReservationLapsed(
                f"This reservation expired at {localtime.when(reservation.expires_at, zone)}; the bed is no longer "
                "held: reserve it again."
            )
        if expires_at <= reservation.expires_at:
            raise InvalidInput(
                f"Choose an expiry after the current one ({localtime.when(reservation.expires_at, zone)}).",
                field="expires_at",
            )
        if reservation.planned_end_on and localtime.local_date(expires_at, zone) >= reservation.planned_end_on:
            raise InvalidInput(
                f"The reservation ends on {localtime.day(reservation.planned_end_on)}: choose an expiry before then.",
                field="expires_at",
            )
        reservation.expires_at = expires_at
        reservation.save(update_fields=["expires_at", "updated_at"])
        return reservation


def admit_reservation(
    *, reservation: Reservation, admitted_by: AbstractBaseUser, admitted_on: dt.date | None = None
) -> Placement:
    """Admit the reserved patient: the reservation becomes the stay (or enrollment) in one transaction.

    The reservation is closed first (its bed hold released), then the stay is created through
    the care-journey service (its hold taken); both commit together or not at all. A patient in
    an IOP track is stepped up rather than admitted, so the two levels of care never overlap.
    """
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update(of=("self",))
            .select_related("program", "bed", "patient", "referral")
            .get(pk=reservation.pk)
        )
        now = clock.now()
        if reservation.status != ReservationStatus.HELD:
            raise ReservationNotHeld(
                f"This reservation is {reservation.get_status_display().lower()}; it holds nothing."
            )
        if reservation.expires_at <= now:
            raise ReservationLapsed(
                f"This reservation expired at {localtime.when(reservation.expires_at, reservation.program.time_zone)}; "
                "the bed is no longer held."
            )
        day = admitted_on or reservation.start_on
        if day < reservation.start_on or (reservation.planned_end_on and day >= reservation.planned_end_on):
            raise InvalidDate(
                f"Admit on or after the reserved day ({localtime.day(reservation.start_on)}) "
                "and before its planned end.",
                field="admitted_on",
            )
        referral = _lock_referral(reservation.referral)
        reservation.status = ReservationStatus.ADMITTED
        reservation.closed_at, reservation.closed_by = now, admitted_by
        reservation.save()  # the hold is released here; a deferred trigger checks the placement is set by commit
        placement = _start_care(reservation, on=day, by=admitted_by)
        reservation.placement = placement
        reservation.save(update_fields=["placement", "updated_at"])
        _move(referral, to=ReferralStatus.ADMITTED, by=admitted_by, reason="Admitted from the waitlist.", on=day)
        referral.save()
        return placement


def _start_care(reservation: Reservation, *, on: dt.date, by: AbstractBaseUser) -> Placement:
    patient, program = reservation.patient, reservation.program
    current = Placement.objects.open().filter(patient=patient, start_on__lt=on).first()
    if program.is_residential:
        if current is not None and current.kind == PlacementKind.IOP:
            transition = journey.step_up(
                enrollment=current,
                bed=reservation.bed,
                on=on,
                reason="Stepped up from the waitlist.",
                decided_by=by,
                planned_discharge_on=reservation.planned_end_on,
            )
            return transition.to_placement
        return journey.admit_to_residential(
            patient=patient,
            bed=reservation.bed,
            admitted_on=on,
            admitted_by=by,
            planned_discharge_on=reservation.planned_end_on,
        )
    return journey.enroll_in_iop(
        patient=patient, program=program, start_on=on, enrolled_by=by, planned_end_on=reservation.planned_end_on
    )


# --- the bed-claim hook (called by programs.services under the bed's lock) ----------------------------


def check_bed_claim(*, bed: Bed, start_on: dt.date, patient: Patient | None) -> None:
    """Before a bed is given to a patient: clear lapsed reservations on it, refuse a held one."""
    now = clock.now()
    _lapse(Reservation.objects.filter(bed=bed), now=now)
    held = (
        Reservation.objects.filter(bed=bed, status=ReservationStatus.HELD)
        .filter(Q(planned_end_on__isnull=True) | Q(planned_end_on__gt=start_on))
        .order_by("start_on")
        .first()
    )
    if held is None:
        return
    if patient is not None and held.patient_id == patient.pk:
        raise BedUnavailable(
            f"Bed {bed.label} is reserved for this patient from {localtime.day(held.start_on)}: admit them through "
            "the reservation.",
            field="bed",
        )
    raise BedUnavailable(
        f"Bed {bed.label} is reserved for another patient from {localtime.day(held.start_on)}; choose another bed.",
        field="bed",
    )
