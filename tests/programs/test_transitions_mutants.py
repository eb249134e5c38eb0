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
