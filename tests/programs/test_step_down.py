import datetime as dt

import pytest

from programs import selectors, services
from programs.errors import BedUnavailable, InvalidDate, InvalidTransition, NotReversible
from programs.models import EndReason, Placement, PlacementKind, PlacementStatus, Reversal, Transition

pytestmark = pytest.mark.django_db

D = dt.timedelta


@pytest.fixture
def stay(patient, bed, clinician, today):
    return services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(20), admitted_by=clinician)


def _census(program, on):
    return next(row for row in selectors.census(on=on) if row.program == program)


def test_step_down_on_day_d_ends_the_stay_on_d_and_starts_iop_on_d(stay, iop, residential, clinician, today):
    transition = services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)

    stay.refresh_from_db()
    enrollment = transition.to_placement
    assert stay.ended_on == today and stay.end_reason == EndReason.STEPPED_DOWN
    assert enrollment.kind == PlacementKind.IOP and enrollment.start_on == today
    assert transition.from_placement == stay and transition.effective_on == today
    # The half-open boundary: on day D the patient is counted once, in IOP.
    assert list(Placement.objects.on(today)) == [enrollment]
    assert _census(residential, today).patients == 0 and _census(residential, today).beds_occupied == 0
    assert _census(iop, today).patients == 1
    assert _census(residential, today - D(1)).patients == 1 and _census(iop, today - D(1)).patients == 0


def test_the_freed_bed_can_take_the_next_patient_the_same_day(stay, iop, bed, other_patient, clinician, today):
    services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)

    nxt = services.admit_to_residential(patient=other_patient, bed=bed, admitted_on=today, admitted_by=clinician)
    assert nxt.bed == bed


def test_step_down_from_a_stay_that_is_not_active_is_refused(stay, iop, clinician, today):
    services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)

    with pytest.raises(InvalidTransition, match="needs an active residential stay; this one is completed"):
        services.step_down(stay=stay, to_program=iop, on=today, reason="Again", decided_by=clinician)
    assert Transition.objects.count() == 1


@pytest.mark.parametrize(
    "offset, message", [(-20, "after the current level of care began"), (-30, "after"), (60, "ahead")]
)
def test_a_transition_dated_before_the_stay_or_far_ahead_is_refused(stay, iop, clinician, today, offset, message):
    with pytest.raises(InvalidDate, match=message):
        services.step_down(stay=stay, to_program=iop, on=today + D(offset), reason="x", decided_by=clinician)
    stay.refresh_from_db()
    assert stay.ended_on is None and not Transition.objects.exists() and Placement.objects.count() == 1


def test_step_down_needs_a_reason(stay, iop, clinician, today):
    with pytest.raises(InvalidTransition, match="reason"):
        services.step_down(stay=stay, to_program=iop, on=today, reason="", decided_by=clinician)


def test_reversing_a_step_down_restores_the_stay_and_cancels_the_enrollment(stay, iop, clinician, today):
    transition = services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)

    reversal = services.reverse_transition(transition=transition, reason="Wrong patient chart", reversed_by=clinician)

    stay.refresh_from_db()
    enrollment = Placement.objects.get(pk=transition.to_placement_id)
    assert stay.ended_on is None and stay.end_reason == "" and stay.status == PlacementStatus.ACTIVE
    assert enrollment.status == PlacementStatus.CANCELLED
    assert reversal.transition == transition and reversal.reversed_by == clinician
    assert list(Placement.objects.on(today)) == [stay]
    # The transition itself is history: still there, marked by its reversal.
    assert Transition.objects.filter(pk=transition.pk, reversal__isnull=False).exists()

    with pytest.raises(NotReversible, match="already been reversed"):
        services.reverse_transition(transition=transition, reason="again", reversed_by=clinician)


def test_a_step_down_cannot_be_reversed_into_a_bed_given_away(stay, iop, bed, other_patient, clinician, today):
    transition = services.step_down(stay=stay, to_program=iop, on=today - D(2), reason="Stable", decided_by=clinician)
    services.admit_to_residential(patient=other_patient, bed=bed, admitted_on=today - D(1), admitted_by=clinician)

    with pytest.raises(BedUnavailable, match="given to another patient"):
        services.reverse_transition(transition=transition, reason="Error", reversed_by=clinician)
    assert not Reversal.objects.exists()
    assert Placement.objects.get(pk=transition.to_placement_id).cancelled_at is None


def test_step_up_moves_an_iop_patient_back_into_a_bed(stay, iop, other_bed, clinician, today):
    down = services.step_down(stay=stay, to_program=iop, on=today - D(10), reason="Stable", decided_by=clinician)

    up = services.step_up(enrollment=down.to_placement, bed=other_bed, on=today, reason="Relapse", decided_by=clinician)

    assert up.from_placement.ended_on == today and up.from_placement.end_reason == EndReason.STEPPED_UP
    assert up.to_placement.bed == other_bed and up.to_placement.start_on == today
    assert up.to_placement.episode == stay.episode
    with pytest.raises(NotReversible, match="later transition"):
        services.reverse_transition(transition=down, reason="x", reversed_by=clinician)
