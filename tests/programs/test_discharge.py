import datetime as dt

import pytest

from programs import services
from programs.errors import AlreadyDischarged, InvalidTransition, NotReversible
from programs.models import AftercareCheckIn, AftercarePlan, EpisodeStatus, Placement

pytestmark = pytest.mark.django_db

D = dt.timedelta


@pytest.fixture
def stay(patient, bed, clinician, today):
    return services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(35), admitted_by=clinician)


def test_discharge_ends_the_stay_and_episode_and_schedules_aftercare(stay, clinician, today):
    record = services.discharge(episode=stay.episode, on=today, disposition="completed", decided_by=clinician)

    stay.refresh_from_db()
    assert stay.ended_on == today and stay.episode.status == EpisodeStatus.FINISHED
    plan = record.aftercare_plan
    assert plan.status == AftercarePlan.Status.ACTIVE and plan.starts_on == today
    assert [(c.offset_days, c.due_on) for c in plan.checkins.all()] == [
        (7, today + D(7)),
        (30, today + D(30)),
        (90, today + D(90)),
    ]


def test_a_second_discharge_is_refused(stay, clinician, today):
    services.discharge(episode=stay.episode, on=today, disposition="completed", decided_by=clinician)
    with pytest.raises(AlreadyDischarged):
        services.discharge(episode=stay.episode, on=today, disposition="completed", decided_by=clinician)
    assert AftercarePlan.objects.count() == 1


def test_an_unknown_disposition_is_refused(stay, clinician, today):
    with pytest.raises(InvalidTransition, match="not a discharge disposition"):
        services.discharge(episode=stay.episode, on=today, disposition="escaped", decided_by=clinician)
    assert not AftercarePlan.objects.exists()


def test_reversing_a_discharge_reopens_the_episode_and_revokes_aftercare(stay, clinician, today):
    record = services.discharge(episode=stay.episode, on=today, disposition="against_advice", decided_by=clinician)

    services.reverse_discharge(discharge=record, reason="Discharged the wrong chart", reversed_by=clinician)

    stay.refresh_from_db()
    stay.episode.refresh_from_db()
    assert stay.ended_on is None and stay.episode.status == EpisodeStatus.ACTIVE and stay.episode.ended_on is None
    assert AftercarePlan.objects.get().status == AftercarePlan.Status.REVOKED
    assert set(AftercareCheckIn.objects.values_list("status", flat=True)) == {AftercareCheckIn.Status.CANCELLED}
    with pytest.raises(NotReversible):
        services.reverse_discharge(discharge=record, reason="again", reversed_by=clinician)


def test_a_discharge_cannot_be_reversed_once_the_patient_started_again(stay, other_bed, clinician, today):
    record = services.discharge(episode=stay.episode, on=today - D(3), disposition="completed", decided_by=clinician)
    services.admit_to_residential(patient=stay.patient, bed=other_bed, admitted_on=today, admitted_by=clinician)

    with pytest.raises(NotReversible, match="new episode"):
        services.reverse_discharge(discharge=record, reason="x", reversed_by=clinician)
    assert Placement.objects.get(pk=stay.pk).ended_on == today - D(3)
