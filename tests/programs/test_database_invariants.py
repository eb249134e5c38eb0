"""Rows written around the services are refused by PostgreSQL itself."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from clinic import clock
from clinic.db import constraint_name
from programs import services
from programs.models import (
    Placement,
    PlacementKind,
    StayExtension,
    Transition,
    TreatmentEpisode,
)
from tests.factories import BedFactory, PatientFactory

pytestmark = pytest.mark.django_db

D = dt.timedelta


def refused(constraint: str):
    """Assert the block raises IntegrityError naming ``constraint``, and keep the test transaction usable."""

    class _Refused:
        def __enter__(self):
            self.atomic = transaction.atomic()
            self.atomic.__enter__()

        def __exit__(self, exc_type, exc, tb):
            self.atomic.__exit__(exc_type, exc, tb)
            assert exc_type is not None and issubclass(exc_type, IntegrityError), "the write was not refused"
            assert constraint_name(exc) == constraint, f"refused by {constraint_name(exc)}, expected {constraint}"
            return True

    return _Refused()


def _stay(*, patient, bed, start, end=None, planned_days=30):
    episode = TreatmentEpisode.objects.filter(
        patient=patient, status="active"
    ).first() or TreatmentEpisode.objects.create(patient=patient, started_on=start)
    return Placement.objects.create(
        kind=PlacementKind.RESIDENTIAL,
        episode=episode,
        patient=patient,
        program=bed.program,
        bed=bed,
        start_on=start,
        planned_end_on=start + D(planned_days),
        ended_on=end,
        end_reason="discharged" if end else "",
    )


def test_a_bed_holds_one_patient_per_day(bed, patient, other_patient, today):
    _stay(patient=patient, bed=bed, start=today - D(10), end=today)
    _stay(patient=other_patient, bed=bed, start=today)  # half-open: starting on the end day is fine
    with refused("placement_one_patient_per_bed_per_day"):
        _stay(patient=PatientFactory(), bed=bed, start=today - D(3))


def test_a_patient_has_one_level_of_care_per_day(bed, other_bed, patient, iop, today):
    stay = _stay(patient=patient, bed=bed, start=today - D(10))
    with refused("placement_one_level_of_care_per_day"):
        Placement.objects.create(
            kind=PlacementKind.IOP, episode=stay.episode, patient=patient, program=iop, start_on=today
        )


def test_a_cancelled_placement_does_not_hold_the_bed(bed, patient, other_patient, today):
    stay = _stay(patient=patient, bed=bed, start=today)
    Placement.objects.filter(pk=stay.pk).update(cancelled_at=clock.now())
    _stay(patient=other_patient, bed=bed, start=today)


def test_one_open_episode_per_patient(patient, today):
    TreatmentEpisode.objects.create(patient=patient, started_on=today)
    with refused("episode_one_open_per_patient"):
        TreatmentEpisode.objects.create(patient=patient, started_on=today, status="waitlist")
    TreatmentEpisode.objects.create(patient=patient, started_on=today, status="finished", ended_on=today)


@pytest.mark.parametrize("days", [10, 29, 91, 365])
def test_planned_length_outside_the_program_range_is_refused(bed, patient, today, days):
    with refused("placement_stay_length_within_program_range"):
        _stay(patient=patient, bed=bed, start=today, planned_days=days)


def test_planned_length_beyond_the_maximum_needs_a_covering_extension(bed, patient, clinician, today):
    stay = _stay(patient=patient, bed=bed, start=today, planned_days=90)
    with refused("placement_stay_length_within_program_range"):
        Placement.objects.filter(pk=stay.pk).update(planned_end_on=today + D(100))
    StayExtension.objects.create(
        stay=stay,
        previous_planned_end_on=today + D(90),
        new_planned_end_on=today + D(100),
        reason="r",
        approved_by=clinician,
    )
    Placement.objects.filter(pk=stay.pk).update(planned_end_on=today + D(100))
    with refused("placement_stay_length_within_program_range"):
        Placement.objects.filter(pk=stay.pk).update(planned_end_on=today + D(101))


def test_placement_patient_must_match_its_episode(bed, patient, other_patient, today):
    stay = _stay(patient=patient, bed=bed, start=today)
    with refused("placement_episode_patient_fk"), connection.cursor() as cursor:
        cursor.execute("UPDATE programs_placement SET patient_id = %s WHERE id = %s", [other_patient.pk, stay.pk])


def test_a_bed_must_belong_to_the_placement_program(bed, patient, today, site):
    foreign_bed = BedFactory()  # another residential program
    stay = _stay(patient=patient, bed=bed, start=today)
    with refused("placement_bed_in_program_fk"), connection.cursor() as cursor:
        cursor.execute("UPDATE programs_placement SET bed_id = %s WHERE id = %s", [foreign_bed.pk, stay.pk])


def test_an_empty_range_is_refused(bed, patient, today):
    with refused("placement_ends_after_start"):
        _stay(patient=patient, bed=bed, start=today, end=today)


@pytest.mark.parametrize("statement", ["UPDATE {table} SET reason = 'edited'", "DELETE FROM {table}"])
def test_history_cannot_be_edited_or_deleted_even_with_raw_sql(patient, bed, iop, clinician, today, statement):
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(20), admitted_by=clinician)
    services.extend_stay(stay=stay, new_planned_discharge_on=today + D(30), reason="r", approved_by=clinician)
    transition = services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)
    services.reverse_transition(transition=transition, reason="oops", reversed_by=clinician)

    for table in ["programs_transition", "programs_stayextension", "programs_reversal"]:
        with refused(f"{table}_append_only"), connection.cursor() as cursor:
            cursor.execute(statement.format(table=table))
    assert Transition.objects.get().reason == "Stable"
