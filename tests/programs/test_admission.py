import datetime as dt

import pytest

from programs import services
from programs.errors import (
    BedUnavailable,
    InvalidDate,
    InvalidTransition,
    PlacementOverlap,
    StayLengthOutOfRange,
    WrongProgram,
)
from programs.models import Bed, EpisodeStatus, Placement, PlacementStatus, StayExtension, TreatmentEpisode

pytestmark = pytest.mark.django_db

D = dt.timedelta


def test_admission_opens_an_episode_and_a_stay_with_the_program_minimum_as_plan(patient, bed, clinician, today):
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician)

    assert stay.is_residential and stay.bed == bed
    assert stay.planned_end_on == today + D(days=30)
    assert stay.status == PlacementStatus.ACTIVE
    assert stay.episode.status == EpisodeStatus.ACTIVE and stay.episode.patient == patient


def test_a_bed_already_taken_is_refused_and_nothing_is_written(patient, other_patient, bed, clinician, today):
    services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician)

    with pytest.raises(BedUnavailable, match="101-A is taken"):
        services.admit_to_residential(patient=other_patient, bed=bed, admitted_on=today, admitted_by=clinician)

    assert not TreatmentEpisode.objects.filter(patient=other_patient).exists()
    assert Placement.objects.count() == 1


def test_an_out_of_service_bed_is_refused(patient, bed, clinician, today):
    Bed.objects.filter(pk=bed.pk).update(status=Bed.Status.OUT_OF_SERVICE)

    with pytest.raises(BedUnavailable, match="out of service"):
        services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician)
    assert not Placement.objects.exists()


@pytest.mark.parametrize("days", [29, 91])
def test_a_planned_stay_outside_30_to_90_days_is_refused(patient, bed, clinician, today, days):
    with pytest.raises(StayLengthOutOfRange):
        services.admit_to_residential(
            patient=patient, bed=bed, admitted_on=today, admitted_by=clinician, planned_discharge_on=today + D(days)
        )
    assert not Placement.objects.exists() and not TreatmentEpisode.objects.exists()


@pytest.mark.parametrize("days", [30, 90])
def test_the_range_ends_are_allowed(patient, bed, clinician, today, days):
    stay = services.admit_to_residential(
        patient=patient, bed=bed, admitted_on=today, admitted_by=clinician, planned_discharge_on=today + D(days)
    )
    assert stay.planned_length_days == days


def test_an_extension_allows_a_longer_plan_and_keeps_every_approval(patient, bed, clinician, today):
    stay = services.admit_to_residential(
        patient=patient, bed=bed, admitted_on=today - D(80), admitted_by=clinician, planned_discharge_on=today + D(10)
    )
    services.extend_stay(
        stay=stay, new_planned_discharge_on=today + D(25), reason="Medical necessity", approved_by=clinician
    )
    services.extend_stay(
        stay=stay, new_planned_discharge_on=today + D(30), reason="Awaiting bed", approved_by=clinician
    )

    stay.refresh_from_db()
    assert stay.planned_length_days == 110
    assert list(
        StayExtension.objects.filter(stay=stay).values_list("previous_planned_end_on", "new_planned_end_on")
    ) == [
        (today + D(10), today + D(25)),
        (today + D(25), today + D(30)),
    ]


def test_an_extension_must_move_the_plan_later_and_give_a_reason(patient, bed, clinician, today):
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician)
    with pytest.raises(InvalidDate, match="after the current one"):
        services.extend_stay(stay=stay, new_planned_discharge_on=stay.planned_end_on, reason="x", approved_by=clinician)
    with pytest.raises(InvalidTransition, match=r"^Give the reason for the extension\.$") as refused:
        services.extend_stay(stay=stay, new_planned_discharge_on=today + D(60), reason="  ", approved_by=clinician)
    assert refused.value.field == "reason"
    assert not StayExtension.objects.exists()


def test_a_second_level_of_care_overlapping_the_first_is_refused(patient, bed, iop, clinician, today):
    services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(5), admitted_by=clinician)

    with pytest.raises(PlacementOverlap, match="step-down or step-up"):
        services.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    assert Placement.objects.count() == 1


def test_admission_far_in_the_future_is_a_typo(patient, bed, clinician, today):
    with pytest.raises(InvalidDate, match="more than 14 days ahead"):
        services.admit_to_residential(patient=patient, bed=bed, admitted_on=today + D(200), admitted_by=clinician)


def test_enrollment_needs_an_outpatient_program(patient, residential, clinician, today):
    with pytest.raises(WrongProgram, match="residential"):
        services.enroll_in_iop(patient=patient, program=residential, start_on=today, enrolled_by=clinician)


def test_readmission_after_discharge_opens_a_new_episode(patient, bed, clinician, today):
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(40), admitted_by=clinician)
    services.discharge(episode=stay.episode, on=today - D(5), disposition="completed", decided_by=clinician)

    again = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician)

    assert again.episode != stay.episode
    assert TreatmentEpisode.objects.filter(patient=patient).count() == 2
