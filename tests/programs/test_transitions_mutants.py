"""Each check of admit, step-down and discharge: where its boundary lies and the exact error staff
read (mutation testing, issue 18). A rejected change leaves nothing behind."""

import datetime as dt

import pytest
from django.conf import settings

from clinic.localtime import day
from programs import services
from programs.errors import (
    BedUnavailable,
    InvalidDate,
    InvalidTransition,
    PlacementOverlap,
    StayLengthOutOfRange,
    WrongProgram,
)
from programs.models import Bed, Placement, TreatmentEpisode
from tests.factories import BedFactory, PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db
D = dt.timedelta


def _raises(error, message, field=None):
    """The error class, its exact message and the field it points at."""

    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(error)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            assert str(self.info.value) == message
            assert self.info.value.field == field
            return handled

    return Check()


def test_admission_dates_up_to_the_limit_ahead_are_accepted(patient, bed, clinician, today):
    limit = today + D(days=settings.CLINIC_MAX_DAYS_AHEAD)
    too_far = limit + D(1)
    with _raises(
        InvalidDate,
        f"The admission date {day(too_far)} is more than {settings.CLINIC_MAX_DAYS_AHEAD} days ahead; check the date.",
        "on",
    ):
        services.admit_to_residential(patient=patient, bed=bed, admitted_on=too_far, admitted_by=clinician)
    assert not Placement.objects.exists() and not TreatmentEpisode.objects.exists()
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=limit, admitted_by=clinician)
    assert stay.start_on == limit


def test_planned_stay_length_within_the_programs_range(patient, bed, residential, clinician, today):
    admit = {"patient": patient, "bed": bed, "admitted_on": today, "admitted_by": clinician}
    with _raises(
        StayLengthOutOfRange,
        f"The planned discharge ({day(today)}) must come after the admission ({day(today)}).",
        "planned_discharge_on",
    ):
        services.admit_to_residential(**admit, planned_discharge_on=today)
    with _raises(
        StayLengthOutOfRange,
        f"A planned stay of 29 days is shorter than {residential.name}'s minimum of 30 days.",
        "planned_discharge_on",
    ):
        services.admit_to_residential(**admit, planned_discharge_on=today + D(29))
    with _raises(
        StayLengthOutOfRange,
        f"A planned stay of 91 days is longer than {residential.name}'s maximum of 90 days; "
        "admit within the range and record an extension.",
        "planned_discharge_on",
    ):
        services.admit_to_residential(**admit, planned_discharge_on=today + D(91))
    assert not Placement.objects.exists()
    assert services.admit_to_residential(**admit, planned_discharge_on=today + D(90)).planned_end_on == today + D(90)


def test_the_shortest_stay_is_the_programs_minimum(patient, bed, clinician, today):
    stay = services.admit_to_residential(
        patient=patient, bed=bed, admitted_on=today, admitted_by=clinician, planned_discharge_on=today + D(30)
    )
    assert stay.planned_end_on == today + D(30)
    other = PatientFactory()
    default = services.admit_to_residential(
        patient=other, bed=BedFactory(program=bed.program, label="2"), admitted_on=today, admitted_by=clinician
    )
    assert default.planned_end_on == today + D(30)  # the minimum when no date is given


def test_a_bed_must_be_residential_in_service_and_free(patient, other_patient, bed, iop, clinician, today):
    iop_bed = BedFactory(program=iop, label="X")
    with _raises(WrongProgram, f"{iop.name} is not a residential program.", "bed"):
        services.admit_to_residential(patient=patient, bed=iop_bed, admitted_on=today, admitted_by=clinician)
    Bed.objects.filter(pk=bed.pk).update(status=Bed.Status.OUT_OF_SERVICE)
    with _raises(BedUnavailable, f"Bed {bed.label} is out of service.", "bed"):
        services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician)
    Bed.objects.filter(pk=bed.pk).update(status=Bed.Status.AVAILABLE)
    services.admit_to_residential(patient=patient, bed=bed, admitted_on=today + D(1), admitted_by=clinician)
    with _raises(BedUnavailable, f"Bed {bed.label} is taken on or after {day(today)}.", "bed"):
        services.admit_to_residential(patient=other_patient, bed=bed, admitted_on=today, admitted_by=clinician)


def test_a_bed_is_free_again_on_the_day_its_stay_ends(patient, other_patient, bed, iop, clinician, today):
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(10), admitted_by=clinician)
    services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)
    assert services.admit_to_residential(patient=other_patient, bed=bed, admitted_on=today, admitted_by=clinician)


def test_a_patient_in_care_is_not_admitted_twice(patient, bed, iop, clinician, today):
    enrollment = services.enroll_in_iop(patient=patient, program=iop, start_on=today - D(5), enrolled_by=clinician)
    with _raises(
        PlacementOverlap,
        f"The patient is already in {iop.name} from {day(today - D(5))}"
        "; use a step-down or step-up to change the level of care.",
    ):
        services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician)
    # Discharged today: a stay dated before today would still overlap, and the message gives the end.
    services.discharge(episode=enrollment.episode, on=today, disposition="completed", decided_by=clinician)
    with _raises(
        PlacementOverlap,
        f"The patient is already in {iop.name} from {day(today - D(5))} to {day(today)}"
        "; use a step-down or step-up to change the level of care.",
    ):
        services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(1), admitted_by=clinician)
    assert services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician)


def test_an_enrollment_needs_an_active_outpatient_track(patient, residential, site, clinician, today):
    with _raises(
        WrongProgram, f"{residential.name} is residential; an enrollment needs an outpatient track.", "program"
    ):
        services.enroll_in_iop(patient=patient, program=residential, start_on=today, enrolled_by=clinician)
    closed = ProgramFactory(site=site, iop=True, is_active=False)
    with _raises(WrongProgram, f"{closed.name} is not taking patients.", "program"):
        services.enroll_in_iop(patient=patient, program=closed, start_on=today, enrolled_by=clinician)


def test_a_planned_end_comes_after_the_start(patient, iop, clinician, today):
    with _raises(InvalidDate, "The planned end must be after the start.", "planned_end_on"):
        services.enroll_in_iop(
            patient=patient, program=iop, start_on=today, enrolled_by=clinician, planned_end_on=today
        )
    enrollment = services.enroll_in_iop(
        patient=patient, program=iop, start_on=today, enrolled_by=clinician, planned_end_on=today + D(1)
    )
    assert enrollment.planned_end_on == today + D(1)


def test_a_step_down_starts_from_an_active_stay_after_its_first_day(patient, bed, iop, clinician, today):
    enrollment = services.enroll_in_iop(patient=patient, program=iop, start_on=today - D(5), enrolled_by=clinician)
    with _raises(InvalidTransition, "A step-down starts from a residential stay, not a IOP enrollment."):
        services.step_down(stay=enrollment, to_program=iop, on=today, reason="Stable", decided_by=clinician)

    other = PatientFactory()
    future = services.admit_to_residential(patient=other, bed=bed, admitted_on=today + D(2), admitted_by=clinician)
    with _raises(InvalidTransition, "A step-down needs an active residential stay; this one is planned."):
        services.step_down(stay=future, to_program=iop, on=today + D(3), reason="Stable", decided_by=clinician)


def test_a_step_down_is_dated_after_the_stay_began(patient, bed, iop, clinician, today):
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(3), admitted_by=clinician)
    with _raises(
        InvalidDate,
        f"The step-down must be dated after the current level of care began ({day(today - D(3))}).",
        "on",
    ):
        services.step_down(stay=stay, to_program=iop, on=today - D(3), reason="Stable", decided_by=clinician)
    with _raises(InvalidTransition, "Give the reason for the step-down.", "reason"):
        services.step_down(stay=stay, to_program=iop, on=today, reason="  ", decided_by=clinician)
    transition = services.step_down(stay=stay, to_program=iop, on=today - D(2), reason=" Stable ", decided_by=clinician)
    assert transition.reason == "Stable" and transition.effective_on == today - D(2)


# --- Step-up, discharge, aftercare and who decided (second mutation pass) -------------------------


def _enrolled(patient, iop, clinician, start):
    return services.enroll_in_iop(patient=patient, program=iop, start_on=start, enrolled_by=clinician)


def test_a_step_up_needs_a_reason_an_active_enrollment_and_a_date_after_it_began(
    patient, bed, other_bed, iop, clinician, today
):
    enrollment = _enrolled(patient, iop, clinician, today - D(3))
    step = {"bed": bed, "on": today, "reason": "Relapse", "decided_by": clinician}
    with _raises(InvalidTransition, "Give the reason for the step-up.", "reason"):
        services.step_up(enrollment=enrollment, **{**step, "reason": "  "})
    with _raises(
        InvalidDate, f"The step-up must be dated after the current level of care began ({day(today - D(3))}).", "on"
    ):
        services.step_up(enrollment=enrollment, **{**step, "on": today - D(3)})
    too_far = today + D(settings.CLINIC_MAX_DAYS_AHEAD + 1)
    with _raises(
        InvalidDate,
        f"The step-up date {day(too_far)} is more than {settings.CLINIC_MAX_DAYS_AHEAD} days ahead; check the date.",
        "on",
    ):
        services.step_up(enrollment=enrollment, **{**step, "on": too_far})
    transition = services.step_up(enrollment=enrollment, **step)
    with _raises(InvalidTransition, "A step-up starts from a iop enrollment, not a Residential stay."):
        services.step_up(enrollment=transition.to_placement, **{**step, "bed": other_bed})
    with _raises(InvalidTransition, "A step-up needs an active iop enrollment; this one is completed."):
        services.step_up(enrollment=enrollment, **{**step, "bed": other_bed})


def test_a_step_up_records_who_decided_and_moves_the_bookings(patient, bed, iop, residential, clinician, today):
    from scheduling import services as scheduling
    from scheduling.models import Booking
    from tests.scheduling.conftest import make_series

    for program in (iop, residential):
        scheduling.generate_sessions(
            series_ids=[make_series(program, clinician, starts_on=today - D(7)).pk], from_on=today
        )
    enrollment = _enrolled(patient, iop, clinician, today - D(3))
    assert Booking.objects.active().filter(placement=enrollment, session__local_date__gt=today + D(1)).exists()
    transition = services.step_up(
        enrollment=enrollment, bed=bed, on=today + D(1), reason=" Relapse ", decided_by=clinician
    )
    stay = transition.to_placement
    assert (transition.kind, transition.reason, transition.decided_by) == ("step_up", "Relapse", clinician)
    assert (stay.kind, stay.bed, stay.start_on, stay.created_by) == ("residential", bed, today + D(1), clinician)
    # The enrollment's sessions from the step-up day on are released; the stay's are booked.
    assert not Booking.objects.active().filter(placement=enrollment, session__local_date__gte=today + D(1)).exists()
    assert Booking.objects.active().filter(placement=stay, session__local_date__gte=today + D(1)).exists()


def test_a_step_down_records_who_decided_the_planned_end_and_moves_the_bookings(
    patient, bed, iop, residential, clinician, today
):
    from scheduling import services as scheduling
    from scheduling.models import Booking
    from tests.scheduling.conftest import make_series

    for program in (iop, residential):
        scheduling.generate_sessions(
            series_ids=[make_series(program, clinician, starts_on=today - D(7)).pk], from_on=today
        )
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(3), admitted_by=clinician)
    assert stay.created_by == clinician
    assert Booking.objects.active().filter(placement=stay, session__local_date__gt=today + D(1)).exists()
    transition = services.step_down(
        stay=stay, to_program=iop, on=today + D(1), reason="Stable", decided_by=clinician, planned_end_on=today + D(60)
    )
    enrollment = transition.to_placement
    assert (transition.kind, transition.decided_by) == ("step_down", clinician)
    assert (enrollment.planned_end_on, enrollment.created_by) == (today + D(60), clinician)
    assert not Booking.objects.active().filter(placement=stay, session__local_date__gte=today + D(1)).exists()
    assert Booking.objects.active().filter(placement=enrollment, session__local_date__gte=today + D(1)).exists()


def test_an_enrollment_records_who_enrolled_and_its_date_limit(patient, iop, clinician, today):
    too_far = today + D(settings.CLINIC_MAX_DAYS_AHEAD + 1)
    with _raises(
        InvalidDate,
        f"The enrollment date {day(too_far)} is more than {settings.CLINIC_MAX_DAYS_AHEAD} days ahead; check the date.",
        "on",
    ):
        _enrolled(patient, iop, clinician, too_far)
    assert _enrolled(patient, iop, clinician, today).created_by == clinician


def test_a_stay_of_one_day_is_judged_against_the_programs_minimum(patient, bed, residential, clinician, today):
    with _raises(
        StayLengthOutOfRange,
        f"A planned stay of 1 days is shorter than {residential.name}'s minimum of "
        f"{residential.residential_min_days} days.",
        "planned_discharge_on",
    ):
        services.admit_to_residential(
            patient=patient, bed=bed, admitted_on=today, admitted_by=clinician, planned_discharge_on=today + D(1)
        )


@pytest.mark.parametrize("status", ["planned", "waitlist", "onhold"])
def test_an_admission_takes_up_the_patients_open_episode_and_makes_it_active(patient, bed, clinician, today, status):
    waiting = TreatmentEpisode.objects.create(patient=patient, status=status, started_on=today - D(10))
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician)
    waiting.refresh_from_db()
    assert stay.episode == waiting and waiting.status == "active"
    assert TreatmentEpisode.objects.filter(patient=patient).count() == 1


def test_a_new_episode_is_active_from_the_first_day(patient, bed, clinician, today):
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician)
    assert (stay.episode.status, stay.episode.started_on) == ("active", today)


def test_discharge_checks_in_order_with_exact_errors(patient, other_patient, bed, other_bed, clinician, today):
    from programs.errors import AlreadyDischarged

    with _raises(InvalidTransition, "'home' is not a discharge disposition.", "disposition"):
        services.discharge(episode=None, on=today, disposition="home", decided_by=clinician)
    upcoming = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today + D(2), admitted_by=clinician)
    with _raises(InvalidTransition, "The patient has not started this level of care yet; cancel it instead."):
        services.discharge(episode=upcoming.episode, on=today + D(3), disposition="completed", decided_by=clinician)
    started_today = services.admit_to_residential(
        patient=other_patient, bed=other_bed, admitted_on=today, admitted_by=clinician
    )
    with _raises(
        InvalidDate, f"The discharge must be dated after the current level of care began ({day(today)}).", "on"
    ):
        services.discharge(episode=started_today.episode, on=today, disposition="completed", decided_by=clinician)
    record = services.discharge(
        episode=started_today.episode, on=today + D(1), disposition="completed", decided_by=clinician
    )
    assert record.notes == ""
    with _raises(AlreadyDischarged, "This episode is already finished."):
        services.discharge(
            episode=started_today.episode, on=today + D(2), disposition="completed", decided_by=clinician
        )


def test_an_open_episode_without_a_current_level_of_care_cannot_be_discharged(patient, clinician, today):
    episode = TreatmentEpisode.objects.create(patient=patient, status="waitlist", started_on=today)
    with _raises(InvalidTransition, "The episode has no current level of care to discharge from."):
        services.discharge(episode=episode, on=today, disposition="completed", decided_by=clinician)


def test_discharge_ends_this_episodes_current_level_of_care_only(
    patient, other_patient, bed, other_bed, iop, clinician, today
):
    services.admit_to_residential(patient=other_patient, bed=other_bed, admitted_on=today - D(9), admitted_by=clinician)
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(9), admitted_by=clinician)
    step = services.step_down(stay=stay, to_program=iop, on=today - D(4), reason="Stable", decided_by=clinician)
    record = services.discharge(
        episode=stay.episode, on=today, disposition="completed", decided_by=clinician, notes="  Went home  "
    )
    assert (record.ended_placement, record.disposition, record.notes, record.decided_by) == (
        step.to_placement,
        "completed",
        "Went home",
        clinician,
    )
    rows = Placement.objects.order_by("id").values_list("patient", "kind", "ended_on")
    assert list(rows) == [
        (other_patient.pk, "residential", None),
        (patient.pk, "residential", today - D(4)),
        (patient.pk, "iop", today),
    ]


def test_discharge_plans_the_reminders_of_every_check_in_once_committed(
    patient, other_patient, bed, other_bed, clinician, today, django_capture_on_commit_callbacks
):
    from reminders.models import Reminder

    # An earlier discharge whose reminders are not planned yet (the sweep's work): left to the sweep.
    earlier = services.admit_to_residential(
        patient=other_patient, bed=other_bed, admitted_on=today - D(30), admitted_by=clinician
    )
    with django_capture_on_commit_callbacks(execute=False):
        services.discharge(episode=earlier.episode, on=today, disposition="completed", decided_by=clinician)
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(30), admitted_by=clinician)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record = services.discharge(episode=stay.episode, on=today, disposition="completed", decided_by=clinician)
    assert not Reminder.objects.exists()  # planned once the discharge is committed, not before
    for callback in callbacks:
        callback()
    checkins = list(record.aftercare_plan.checkins.all())
    assert len(checkins) == len(set(bed.program.aftercare_checkin_offsets)) > 0
    assert {r.checkin_id for r in Reminder.objects.all()} == {c.pk for c in checkins}


def test_a_bed_reserved_for_the_patient_is_taken_through_the_reservation_only(
    site_clinician, residential, bed, iop, today
):
    from admissions import services as admissions
    from admissions.models import ReferralSource

    referral = admissions.create_referral(
        program=residential, source=ReferralSource.HOSPITAL, referred_on=today - D(3), created_by=site_clinician,
        first_name="Nia", last_name="Okafor", date_of_birth=dt.date(1990, 2, 3),
    )  # fmt: skip
    referral = admissions.start_screening(referral=referral, by=site_clinician)
    referral = admissions.accept_referral(
        referral=referral, by=site_clinician, reason="Meets criteria", mrn="MRN-REF-1", confirm_new_person=True
    )
    patient = referral.patient
    expires = dt.datetime.combine(today + D(3), dt.time(22), tzinfo=dt.UTC)
    admissions.reserve(
        referral=referral, bed=bed, start_on=today + D(1), expires_at=expires, reserved_by=site_clinician
    )
    message = (
        f"Bed {bed.label} is reserved for this patient from {day(today + D(1))}: admit them through the reservation."
    )
    with _raises(BedUnavailable, message, "bed"):
        services.admit_to_residential(patient=patient, bed=bed, admitted_on=today + D(1), admitted_by=site_clinician)
    enrollment = _enrolled(patient, iop, site_clinician, today - D(2))
    with _raises(BedUnavailable, message, "bed"):
        services.step_up(enrollment=enrollment, bed=bed, on=today + D(1), reason="Relapse", decided_by=site_clinician)
    assert Placement.objects.filter(patient=patient).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_discharge_stands_when_planning_its_reminders_fails(patient, bed, clinician, today, settings):
    from programs.models import Discharge
    from reminders.models import Reminder

    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(30), admitted_by=clinician)
    settings.REMINDERS_CHANNELS = ["carrier-pigeon"]  # longer than the channel column: the planning INSERT fails
    record = services.discharge(episode=stay.episode, on=today, disposition="completed", decided_by=clinician)
    assert Discharge.objects.get() == record and record.aftercare_plan.checkins.exists()
    assert not Reminder.objects.exists()  # the periodic sweep plans them once the channel is right


def test_discharge_ends_the_reopened_stay_not_a_cancelled_step_down(patient, bed, iop, clinician, today):
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(9), admitted_by=clinician)
    step = services.step_down(stay=stay, to_program=iop, on=today - D(4), reason="Stable", decided_by=clinician)
    services.reverse_transition(transition=step, reason="Recorded in error", reversed_by=clinician)
    record = services.discharge(episode=stay.episode, on=today, disposition="completed", decided_by=clinician)
    assert record.ended_placement == stay
    cancelled = Placement.objects.get(pk=step.to_placement_id)
    assert cancelled.cancelled_at is not None and cancelled.ended_on is None


def test_an_open_episode_whose_last_level_of_care_has_ended_has_nothing_to_discharge(patient, bed, clinician, today):
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(9), admitted_by=clinician)
    Placement.objects.filter(pk=stay.pk).update(ended_on=today - D(2), end_reason="stepped_down")  # a correction
    with _raises(InvalidTransition, "The episode has no current level of care to discharge from."):
        services.discharge(episode=stay.episode, on=today, disposition="completed", decided_by=clinician)
