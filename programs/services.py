"""Writes for the care journey: admission, extension, step-down/up, discharge, reversal.

Every function is keyword-only, runs in one transaction, locks the rows it
changes, checks the request first (raising a clear domain error) and relies on
PostgreSQL's constraints as the last word for races it cannot see.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from clinic import clock, localtime
from clinic.db import translate_integrity_errors
from clinic.errors import InvalidInput
from patients.models import Patient
from programs.errors import (
    AlreadyDischarged,
    BedUnavailable,
    CheckInClosed,
    CheckInNotOpenYet,
    EpisodeAlreadyOpen,
    InvalidDate,
    InvalidTransition,
    NotReversible,
    PlacementOverlap,
    StayLengthOutOfRange,
    WrongProgram,
)
from programs.models import (
    OPEN_EPISODE_STATUSES,
    AftercareCheckIn,
    AftercarePlan,
    Bed,
    Discharge,
    Disposition,
    EndReason,
    EpisodeStatus,
    Placement,
    PlacementKind,
    Program,
    Reversal,
    StayExtension,
    Transition,
    TransitionKind,
    TreatmentEpisode,
)
from reminders import services as reminder_services

CONSTRAINT_ERRORS = {
    "placement_one_level_of_care_per_day": lambda: PlacementOverlap(
        "The patient already has a level of care on these dates."
    ),
    "placement_one_patient_per_bed_per_day": lambda: BedUnavailable(
        "This bed was just given to another patient; choose another bed."
    ),
    "placement_stay_length_within_program_range": lambda: StayLengthOutOfRange(
        "The planned stay is outside the program's range and no extension covers it."
    ),
    "episode_one_open_per_patient": lambda: EpisodeAlreadyOpen("The patient already has an open treatment episode."),
    # Kept by the admissions app: a stay and a held reservation may not share a bed on any day.
    "bed_one_hold_per_day": lambda: BedUnavailable(
        "This bed is reserved or occupied on these dates; admit a reserved patient through the reservation."
    ),
}


# --- checks shared by the services -------------------------------------------------


def _sync_bookings(*placements: Placement) -> None:
    """Keep session bookings in step with the placements just started, ended, cancelled or reopened.

    Called explicitly (not from a signal) inside the same transaction, so a
    journey change and its bookings commit or fail together. Imported lazily:
    scheduling depends on programs, not the other way round.
    """
    from scheduling.services import sync_placement_bookings

    for placement in placements:
        sync_placement_bookings(placement=placement)


def _today() -> dt.date:
    return clock.today()


def _check_not_far_future(day: dt.date, *, what: str) -> None:
    limit = _today() + dt.timedelta(days=settings.CLINIC_MAX_DAYS_AHEAD)
    if day > limit:
        raise InvalidDate(
            f"The {what} date {localtime.day(day)} is more than {settings.CLINIC_MAX_DAYS_AHEAD} days ahead; "
            "check the date.",
            field="on",
        )


def _check_stay_length(*, program: Program, start_on: dt.date, planned_end_on: dt.date) -> None:
    days = (planned_end_on - start_on).days
    if days <= 0:
        raise StayLengthOutOfRange(
            f"The planned discharge ({localtime.day(planned_end_on)}) must come after the admission "
            f"({localtime.day(start_on)}).",
            field="planned_discharge_on",
        )
    if days < program.residential_min_days:
        raise StayLengthOutOfRange(
            f"A planned stay of {days} days is shorter than {program.name}'s minimum of "
            f"{program.residential_min_days} days.",
            field="planned_discharge_on",
        )
    if days > program.residential_max_days:
        raise StayLengthOutOfRange(
            f"A planned stay of {days} days is longer than {program.name}'s maximum of "
            f"{program.residential_max_days} days; admit within the range and record an extension.",
            field="planned_discharge_on",
        )


# Checks a later app runs when a bed is about to be given to a patient (admissions: a reserved bed),
# ``check(bed=, start_on=, patient=)`` raising a domain error; registered from an AppConfig.ready()
# so programs does not import the apps above it.
BED_CLAIM_CHECKS: list = []


def register_bed_claim_check(check) -> None:
    if check not in BED_CLAIM_CHECKS:
        BED_CLAIM_CHECKS.append(check)


def _lock_bed_for(*, bed: Bed, start_on: dt.date, patient: Patient | None = None) -> Bed:
    """Lock the bed row so two admissions to it queue up, then check it is free from ``start_on`` on."""
    # The bed row only (not its program's too): a reservation locks the program, then the bed, and
    # locking both here in one statement deadlocked against it (found by the admission/reservation race).
    bed = Bed.objects.select_for_update(of=("self",)).select_related("program").get(pk=bed.pk)
    for check in BED_CLAIM_CHECKS:
        check(bed=bed, start_on=start_on, patient=patient)
    if not bed.program.is_residential:
        raise WrongProgram(f"{bed.program.name} is not a residential program.", field="bed")
    if bed.status == Bed.Status.OUT_OF_SERVICE:
        raise BedUnavailable(f"Bed {bed.label} is out of service.", field="bed")
    taken = Placement.objects.not_cancelled().filter(bed=bed).exclude(ended_on__lte=start_on).exists()
    if taken:
        raise BedUnavailable(f"Bed {bed.label} is taken on or after {localtime.day(start_on)}.", field="bed")
    return bed


def _check_no_overlap(*, patient: Patient, start_on: dt.date) -> None:
    clash = Placement.objects.not_cancelled().filter(patient=patient).exclude(ended_on__lte=start_on).first()
    if clash is not None:
        raise PlacementOverlap(
            f"The patient is already in {clash.program.name} from {localtime.day(clash.start_on)}"
            + (f" to {localtime.day(clash.ended_on)}" if clash.ended_on else "")
            + "; use a step-down or step-up to change the level of care.",
        )


def _open_episode_for(*, patient: Patient, start_on: dt.date) -> TreatmentEpisode:
    """The patient's open episode, or a new one starting ``start_on``."""
    episode = (
        TreatmentEpisode.objects.select_for_update().filter(patient=patient, status__in=OPEN_EPISODE_STATUSES).first()
    )
    if episode is None:
        return TreatmentEpisode.objects.create(patient=patient, status=EpisodeStatus.ACTIVE, started_on=start_on)
    if episode.status != EpisodeStatus.ACTIVE:
        episode.status = EpisodeStatus.ACTIVE
        episode.save(update_fields=["status", "updated_at"])
    return episode


def _lock_patient(patient: Patient) -> Patient:
    # Every change to a patient's journey locks the patient row first, so two
    # staff acting on one patient at once are serialised rather than interleaved.
    return Patient.objects.select_for_update().get(pk=patient.pk)


def _lock_open_placement(placement: Placement, *, kind: PlacementKind, action: str) -> Placement:
    placement = Placement.objects.select_for_update().select_related("program", "episode").get(pk=placement.pk)
    today = _today()
    if placement.kind != kind:
        raise InvalidTransition(f"A {action} starts from a {kind.label.lower()}, not a {placement.get_kind_display()}.")
    if placement.cancelled_at is not None or placement.ended_on is not None or placement.start_on > today:
        raise InvalidTransition(
            f"A {action} needs an active {kind.label.lower()}; this one is {placement.status_on(today).label.lower()}."
        )
    return placement


def _check_transition_date(*, placement: Placement, on: dt.date, action: str) -> None:
    if on <= placement.start_on:
        raise InvalidDate(
            f"The {action} must be dated after the current level of care began ({localtime.day(placement.start_on)}).",
            field="on",
        )
    _check_not_far_future(on, what=action)


# --- admission and enrollment ---------------------------------------------------------


def admit_to_residential(
    *,
    patient: Patient,
    bed: Bed,
    admitted_on: dt.date,
    admitted_by: AbstractBaseUser,
    planned_discharge_on: dt.date | None = None,
) -> Placement:
    """Admit a patient to a residential bed, opening an episode if none is open."""
    _check_not_far_future(admitted_on, what="admission")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        patient = _lock_patient(patient)
        bed = _lock_bed_for(bed=bed, start_on=admitted_on, patient=patient)
        program = bed.program
        planned = planned_discharge_on or admitted_on + dt.timedelta(days=program.residential_min_days)
        _check_stay_length(program=program, start_on=admitted_on, planned_end_on=planned)
        _check_no_overlap(patient=patient, start_on=admitted_on)
        episode = _open_episode_for(patient=patient, start_on=admitted_on)
        stay = Placement.objects.create(
            kind=PlacementKind.RESIDENTIAL,
            episode=episode,
            patient=patient,
            program=program,
            bed=bed,
            start_on=admitted_on,
            planned_end_on=planned,
            created_by=admitted_by,
        )
        _sync_bookings(stay)
        return stay


def enroll_in_iop(
    *,
    patient: Patient,
    program: Program,
    start_on: dt.date,
    enrolled_by: AbstractBaseUser,
    planned_end_on: dt.date | None = None,
) -> Placement:
    """Enroll a patient directly in an outpatient track (no residential stay before it)."""
    _check_not_far_future(start_on, what="enrollment")
    _check_outpatient(program)
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        patient = _lock_patient(patient)
        _check_no_overlap(patient=patient, start_on=start_on)
        episode = _open_episode_for(patient=patient, start_on=start_on)
        enrollment = _create_enrollment(
            episode=episode, program=program, start_on=start_on, planned_end_on=planned_end_on, by=enrolled_by
        )
        _sync_bookings(enrollment)
        return enrollment


def _check_outpatient(program: Program) -> None:
    if program.is_residential:
        raise WrongProgram(f"{program.name} is residential; an enrollment needs an outpatient track.", field="program")
    if not program.is_active:
        raise WrongProgram(f"{program.name} is not taking patients.", field="program")


def _create_enrollment(
    *, episode: TreatmentEpisode, program: Program, start_on: dt.date, planned_end_on: dt.date | None, by
) -> Placement:
    if planned_end_on is not None and planned_end_on <= start_on:
        raise InvalidDate("The planned end must be after the start.", field="planned_end_on")
    return Placement.objects.create(
        kind=PlacementKind.IOP,
        episode=episode,
        patient_id=episode.patient_id,
        program=program,
        start_on=start_on,
        planned_end_on=planned_end_on,
        created_by=by,
    )


def extend_stay(
    *, stay: Placement, new_planned_discharge_on: dt.date, reason: str, approved_by: AbstractBaseUser
) -> StayExtension:
    """Move a stay's planned discharge later, keeping the approval as its own record."""
    if not reason.strip():
        raise InvalidTransition("Give the reason for the extension.", field="reason")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        stay = _lock_open_placement(stay, kind=PlacementKind.RESIDENTIAL, action="extension")
        if new_planned_discharge_on <= stay.planned_end_on:
            raise InvalidDate(
                f"The new planned discharge must be after the current one ({localtime.day(stay.planned_end_on)}).",
                field="new_planned_discharge_on",
            )
        # The extension row goes in first: the database accepts the longer plan only once it exists.
        extension = StayExtension.objects.create(
            stay=stay,
            previous_planned_end_on=stay.planned_end_on,
            new_planned_end_on=new_planned_discharge_on,
            reason=reason.strip(),
            approved_by=approved_by,
        )
        stay.planned_end_on = new_planned_discharge_on
        stay.save(update_fields=["planned_end_on", "updated_at"])
        return extension


# --- transitions -----------------------------------------------------------------------


def step_down(
    *,
    stay: Placement,
    to_program: Program,
    on: dt.date,
    reason: str,
    decided_by: AbstractBaseUser,
    planned_end_on: dt.date | None = None,
) -> Transition:
    """End a residential stay on ``on`` and start an IOP enrollment the same day."""
    _check_outpatient(to_program)
    if not reason.strip():
        raise InvalidTransition("Give the reason for the step-down.", field="reason")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        _lock_patient(stay.patient)
        stay = _lock_open_placement(stay, kind=PlacementKind.RESIDENTIAL, action="step-down")
        _check_transition_date(placement=stay, on=on, action="step-down")
        _end_placement(stay, on=on, reason=EndReason.STEPPED_DOWN)
        enrollment = _create_enrollment(
            episode=stay.episode, program=to_program, start_on=on, planned_end_on=planned_end_on, by=decided_by
        )
        _sync_bookings(stay, enrollment)
        return Transition.objects.create(
            kind=TransitionKind.STEP_DOWN,
            episode=stay.episode,
            from_placement=stay,
            to_placement=enrollment,
            effective_on=on,
            reason=reason.strip(),
            decided_by=decided_by,
        )


def step_up(
    *,
    enrollment: Placement,
    bed: Bed,
    on: dt.date,
    reason: str,
    decided_by: AbstractBaseUser,
    planned_discharge_on: dt.date | None = None,
) -> Transition:
    """End an IOP enrollment on ``on`` and admit the patient to a residential bed the same day."""
    if not reason.strip():
        raise InvalidTransition("Give the reason for the step-up.", field="reason")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        _lock_patient(enrollment.patient)
        enrollment = _lock_open_placement(enrollment, kind=PlacementKind.IOP, action="step-up")
        _check_transition_date(placement=enrollment, on=on, action="step-up")
        bed = _lock_bed_for(bed=bed, start_on=on, patient=enrollment.patient)
        planned = planned_discharge_on or on + dt.timedelta(days=bed.program.residential_min_days)
        _check_stay_length(program=bed.program, start_on=on, planned_end_on=planned)
        _end_placement(enrollment, on=on, reason=EndReason.STEPPED_UP)
        stay = Placement.objects.create(
            kind=PlacementKind.RESIDENTIAL,
            episode=enrollment.episode,
            patient_id=enrollment.patient_id,
            program=bed.program,
            bed=bed,
            start_on=on,
            planned_end_on=planned,
            created_by=decided_by,
        )
        _sync_bookings(enrollment, stay)
        return Transition.objects.create(
            kind=TransitionKind.STEP_UP,
            episode=enrollment.episode,
            from_placement=enrollment,
            to_placement=stay,
            effective_on=on,
            reason=reason.strip(),
            decided_by=decided_by,
        )


def _end_placement(placement: Placement, *, on: dt.date, reason: EndReason) -> None:
    placement.ended_on = on
    placement.end_reason = reason
    placement.save(update_fields=["ended_on", "end_reason", "updated_at"])


def _reopen_placement(placement: Placement) -> None:
    placement.ended_on = None
    placement.end_reason = ""
    placement.save(update_fields=["ended_on", "end_reason", "updated_at"])


# --- discharge and aftercare ---------------------------------------------------------


def discharge(
    *,
    episode: TreatmentEpisode,
    on: dt.date,
    disposition: Disposition | str,
    decided_by: AbstractBaseUser,
    notes: str = "",
) -> Discharge:
    """End the current level of care and the episode, and start the aftercare plan."""
    if disposition not in Disposition.values:
        raise InvalidTransition(f"{disposition!r} is not a discharge disposition.", field="disposition")
    with translate_integrity_errors(CONSTRAINT_ERRORS), transaction.atomic():
        _lock_patient(episode.patient)
        episode = TreatmentEpisode.objects.select_for_update().get(pk=episode.pk)
        if not episode.is_open:
            raise AlreadyDischarged(f"This episode is already {episode.get_status_display().lower()}.")
        placement = (
            Placement.objects.select_for_update()
            .select_related("program")
            .filter(episode=episode, cancelled_at__isnull=True, ended_on__isnull=True)
            .first()
        )
        if placement is None:
            raise InvalidTransition("The episode has no current level of care to discharge from.")
        if placement.start_on > _today():
            raise InvalidTransition("The patient has not started this level of care yet; cancel it instead.")
        _check_transition_date(placement=placement, on=on, action="discharge")
        _end_placement(placement, on=on, reason=EndReason.DISCHARGED)
        _sync_bookings(placement)
        episode.status = EpisodeStatus.FINISHED
        episode.ended_on = on
        episode.save(update_fields=["status", "ended_on", "updated_at"])
        record = Discharge.objects.create(
            episode=episode,
            ended_placement=placement,
            effective_on=on,
            disposition=disposition,
            notes=notes.strip(),
            decided_by=decided_by,
        )
        _start_aftercare(discharge=record, program=placement.program)
        return record


def _start_aftercare(*, discharge: Discharge, program: Program) -> AftercarePlan:
    plan = AftercarePlan.objects.create(
        discharge=discharge, patient_id=discharge.episode.patient_id, program=program, starts_on=discharge.effective_on
    )
    # The discharge day does not count: day 7 is the seventh day after it (HEDIS FUI).
    checkins = AftercareCheckIn.objects.bulk_create(
        AftercareCheckIn(plan=plan, offset_days=days, due_on=discharge.effective_on + dt.timedelta(days=days))
        for days in sorted(set(program.aftercare_checkin_offsets))
    )
    ids = [c.pk for c in checkins]

    def plan_checkin_reminders() -> None:
        reminder_services.plan_for(target="checkin", ids=ids)

    # Reminders: planned once the discharge is committed; if this fails, the periodic sweep plans them.
    # A named function, not a partial: Django's robust on_commit logs a failure by the callable's
    # __qualname__, which a partial lacks (the AttributeError then escaped the committed discharge).
    transaction.on_commit(plan_checkin_reminders, robust=True)
    return plan


# A check-in can be answered from the day its first reminder goes out (the day before it is due);
# late answers are welcome: the patient reaching out matters more than the date.
CHECKIN_OPENS_DAYS_BEFORE = 1
ANSWER_TEXT_MAX = 2000


def patient_today(patient: Patient) -> dt.date:
    return clock.local_today(patient.time_zone)


def checkin_opens_on(checkin: AftercareCheckIn) -> dt.date:
    return checkin.due_on - dt.timedelta(days=CHECKIN_OPENS_DAYS_BEFORE)


def answer_checkin(
    *, checkin: AftercareCheckIn, mood: int | None, text: str = "", needs_help: bool = False
) -> AftercareCheckIn:
    """Record the patient's answer to an aftercare check-in; the check-in is completed.

    "I need help" opens an urgent follow-up for the staff of the plan's program in
    the same transaction, so an answer is never stored without its follow-up. It
    is work for staff, never a message to the patient.
    """
    text = text.strip()
    if mood is None and not needs_help:
        raise InvalidInput(_("Tell us how you are doing (1 to 5), or ask for help."), field="mood")
    if mood is not None and not 1 <= mood <= 5:
        raise InvalidInput(_("Choose how you are doing from 1 to 5."), field="mood")
    if len(text) > ANSWER_TEXT_MAX:
        raise InvalidInput(_("Keep it under %(count)s characters.") % {"count": ANSWER_TEXT_MAX}, field="text")
    with transaction.atomic():
        checkin = AftercareCheckIn.objects.select_for_update().select_related("plan__patient").get(pk=checkin.pk)
        plan = checkin.plan
        if checkin.answered_at is not None:
            raise CheckInClosed(_("You have already answered this check-in."))
        if plan.status != AftercarePlan.Status.ACTIVE or checkin.status not in (
            AftercareCheckIn.Status.SCHEDULED,
            AftercareCheckIn.Status.MISSED,
        ):
            raise CheckInClosed(_("This check-in is closed."))
        opens_on = checkin_opens_on(checkin)
        if patient_today(plan.patient) < opens_on:
            raise CheckInNotOpenYet(
                _("This check-in opens on %(date)s.")
                % {"date": date_format(opens_on, pgettext("date format", "F j, Y"))}
            )
        now = clock.now()
        checkin.mood = mood
        checkin.answer_text = text
        checkin.needs_help = needs_help
        checkin.answered_at = now
        checkin.status = AftercareCheckIn.Status.COMPLETED
        checkin.completed_at = now
        checkin.save(
            update_fields=["mood", "answer_text", "needs_help", "answered_at", "status", "completed_at", "updated_at"]
        )
        # Reminders for a check-in already answered would only confuse; cancelled with the answer.
        reminder_services.cancel_for(target="checkin", ids=[checkin.pk])
        if needs_help:
            reminder_services.open_follow_up(
                program=plan.program,
                patient=plan.patient,
                kind="help_requested",
                urgency="urgent",
                details=f"Asked for help in the day-{checkin.offset_days} aftercare check-in; "
                "see the check-in for the answer.",
            )
        return checkin


def record_checkin_contact(*, checkin: AftercareCheckIn, note: str, recorded_by: AbstractBaseUser) -> AftercareCheckIn:
    """Staff reached the patient for an aftercare check-in (a call, a visit): the check-in is completed.

    For a check-in still open (scheduled or missed) of an active plan; its reminders are cancelled with
    it, as with the patient's own answer. The note is what was said, and who recorded it is kept.
    """
    note = note.strip()
    if not note:
        raise InvalidInput("Say briefly how the patient was reached and how they are.", field="note")
    with transaction.atomic():
        checkin = AftercareCheckIn.objects.select_for_update().select_related("plan").get(pk=checkin.pk)
        if checkin.plan.status != AftercarePlan.Status.ACTIVE or checkin.status not in (
            AftercareCheckIn.Status.SCHEDULED,
            AftercareCheckIn.Status.MISSED,
        ):
            raise CheckInClosed(f"This check-in is already {checkin.get_status_display().lower()}.")
        checkin.status = AftercareCheckIn.Status.COMPLETED
        checkin.completed_at = clock.now()
        checkin.contacted_by = recorded_by
        checkin.contact_note = note
        checkin.save(update_fields=["status", "completed_at", "contacted_by", "contact_note", "updated_at"])
        reminder_services.cancel_for(target="checkin", ids=[checkin.pk])
        return checkin


# --- corrections -------------------------------------------------------------------------


def reverse_transition(*, transition: Transition, reason: str, reversed_by: AbstractBaseUser) -> Reversal:
    """Undo a step-down or step-up recorded in error: the new placement is cancelled, the old one resumes."""
    if not reason.strip():
        raise NotReversible("Give the reason for the reversal.", field="reason")
    with (
        translate_integrity_errors(
            {
                **CONSTRAINT_ERRORS,
                "placement_one_patient_per_bed_per_day": lambda: BedUnavailable(
                    "The bed of the earlier stay has been given to another patient since; "
                    "the step-down cannot be reversed into it."
                ),
            }
        ),
        transaction.atomic(),
    ):
        _lock_patient(transition.episode.patient)
        transition = Transition.objects.select_related("episode").get(pk=transition.pk)
        if Reversal.objects.filter(transition=transition).exists():
            raise NotReversible("This transition has already been reversed.")
        episode = TreatmentEpisode.objects.select_for_update().get(pk=transition.episode_id)
        if not episode.is_open:
            raise NotReversible("The episode has been discharged since; reverse the discharge first.")
        latest = (
            Transition.objects.filter(episode=episode, reversal__isnull=True).order_by("-effective_on", "-id").first()
        )
        if latest != transition:
            raise NotReversible("A later transition exists; reverse that one first.")
        new = Placement.objects.select_for_update().get(pk=transition.to_placement_id)
        old = Placement.objects.select_for_update().get(pk=transition.from_placement_id)
        if new.ended_on is not None or new.cancelled_at is not None:
            raise NotReversible("The level of care it started has ended since; it cannot be reversed.")
        new.cancelled_at = clock.now()
        new.save(update_fields=["cancelled_at", "updated_at"])
        _reopen_placement(old)
        _sync_bookings(new, old)
        return Reversal.objects.create(transition=transition, reason=reason.strip(), reversed_by=reversed_by)


def reverse_discharge(*, discharge: Discharge, reason: str, reversed_by: AbstractBaseUser) -> Reversal:
    """Undo a discharge recorded in error: the episode and its last level of care resume, aftercare is revoked."""
    if not reason.strip():
        raise NotReversible("Give the reason for the reversal.", field="reason")
    with (
        translate_integrity_errors(
            {
                **CONSTRAINT_ERRORS,
                "episode_one_open_per_patient": lambda: NotReversible(
                    "The patient has started a new episode since; the discharge cannot be reversed."
                ),
                "placement_one_level_of_care_per_day": lambda: NotReversible(
                    "The patient has a later level of care; the discharge cannot be reversed."
                ),
                "placement_one_patient_per_bed_per_day": lambda: BedUnavailable(
                    "The patient's bed has been given to another patient since; the discharge cannot be reversed."
                ),
            }
        ),
        transaction.atomic(),
    ):
        _lock_patient(discharge.episode.patient)
        discharge = Discharge.objects.select_related("episode").get(pk=discharge.pk)
        if Reversal.objects.filter(discharge=discharge).exists():
            raise NotReversible("This discharge has already been reversed.")
        episode = TreatmentEpisode.objects.select_for_update().get(pk=discharge.episode_id)
        if episode.status != EpisodeStatus.FINISHED:
            raise NotReversible("The episode is not discharged.")
        episode.status = EpisodeStatus.ACTIVE
        episode.ended_on = None
        episode.save(update_fields=["status", "ended_on", "updated_at"])
        reopened = Placement.objects.select_for_update().get(pk=discharge.ended_placement_id)
        _reopen_placement(reopened)
        _sync_bookings(reopened)
        plan = AftercarePlan.objects.select_for_update().get(discharge=discharge)
        plan.status = AftercarePlan.Status.REVOKED
        plan.save(update_fields=["status", "updated_at"])
        plan.checkins.filter(status=AftercareCheckIn.Status.SCHEDULED).update(
            status=AftercareCheckIn.Status.CANCELLED, updated_at=clock.now()
        )
        # Reminders: cancelled in the same transaction, so none goes out for a revoked plan.
        reminder_services.cancel_for(target="checkin", ids=plan.checkins.values_list("id", flat=True))
        return Reversal.objects.create(discharge=discharge, reason=reason.strip(), reversed_by=reversed_by)
