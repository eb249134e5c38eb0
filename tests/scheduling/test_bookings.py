"""Bookings follow the care journey; a session never takes more patients than it has seats."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from clinic.errors import DomainError
from programs import services as journey
from scheduling import services
from scheduling.models import Booking, BookingSource, Session
from tests.factories import PatientFactory
from tests.scheduling.conftest import make_series

pytestmark = pytest.mark.django_db


@pytest.fixture
def future_group(iop, clinician, today):
    return make_series(iop, clinician, starts_on=today + dt.timedelta(days=1))


def test_step_down_books_the_track_from_the_enrollment_start_and_step_up_cancels_what_follows(
    patient, bed, other_bed, iop, clinician, today, future_group
):
    stay = journey.admit_to_residential(
        patient=patient, bed=bed, admitted_on=today - dt.timedelta(days=31), admitted_by=clinician
    )
    assert not Booking.objects.filter(patient=patient).exists()  # no residential series in this test

    enrollment = journey.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)

    sessions = Session.objects.filter(series=future_group)
    booked = Booking.objects.active().filter(patient=patient)
    assert booked.count() == sessions.count() > 20
    assert set(booked.values_list("placement", flat=True)) == {enrollment.to_placement_id}
    assert all(s.booked_count == 1 for s in sessions)

    up_on = today + dt.timedelta(days=7)
    journey.step_up(enrollment=enrollment.to_placement, bed=other_bed, on=up_on, reason="Relapse",
                    decided_by=clinician)  # fmt: skip

    still = Booking.objects.active().filter(patient=patient)
    assert still.exists() and all(b.session.local_date < up_on for b in still)
    cancelled = Booking.objects.filter(patient=patient, cancelled_at__isnull=False)
    assert cancelled.exists() and {b.cancel_reason for b in cancelled} == {"placement_ended"}
    assert all(b.session.local_date >= up_on for b in cancelled)
    assert Session.objects.filter(series=future_group, local_date__gte=up_on, booked_count__gt=0).count() == 0


def test_discharge_cancels_future_bookings_and_its_reversal_books_them_again(
    patient, iop, clinician, today, future_group
):
    enrollment = journey.enroll_in_iop(
        patient=patient, program=iop, start_on=today - dt.timedelta(days=3), enrolled_by=clinician
    )
    total = Booking.objects.active().filter(patient=patient).count()
    assert total > 0

    record = journey.discharge(episode=enrollment.episode, on=today + dt.timedelta(days=1), disposition="completed",
                               decided_by=clinician)  # fmt: skip
    assert not Booking.objects.active().filter(patient=patient).exists()

    journey.reverse_discharge(discharge=record, reason="Wrong chart", reversed_by=clinician)
    assert Booking.objects.active().filter(patient=patient).count() == total


def test_reversing_a_step_down_cancels_the_enrollments_bookings(patient, bed, iop, clinician, today, future_group):
    stay = journey.admit_to_residential(
        patient=patient, bed=bed, admitted_on=today - dt.timedelta(days=10), admitted_by=clinician
    )
    mistake = journey.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)
    assert Booking.objects.active().filter(patient=patient).exists()

    journey.reverse_transition(transition=mistake, reason="Wrong chart", reversed_by=clinician)

    assert not Booking.objects.active().filter(patient=patient).exists()


def test_sessions_generated_later_are_booked_for_the_enrolled(patient, iop, clinician, today, settings):
    settings.SCHEDULING_HORIZON_WEEKS = 2
    series = make_series(iop, clinician, starts_on=today + dt.timedelta(days=1))
    journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    before = Booking.objects.filter(patient=patient).count()

    settings.SCHEDULING_HORIZON_WEEKS = 8
    result = services.generate_sessions()

    assert result.sessions_created > 0 and result.bookings_created == result.sessions_created
    assert Booking.objects.active().filter(patient=patient).count() == before + result.sessions_created
    assert Session.objects.filter(series=series).count() == Booking.objects.filter(patient=patient).count()


def test_track_booking_stops_at_capacity(iop, clinician, today):
    series = make_series(iop, clinician, starts_on=today + dt.timedelta(days=1), capacity=2)
    patients = [PatientFactory() for _ in range(3)]
    for p in patients:
        journey.enroll_in_iop(patient=p, program=iop, start_on=today, enrolled_by=clinician)

    sessions = Session.objects.filter(series=series)
    assert {s.booked_count for s in sessions} == {2}
    # First come, first seated: the two earliest enrollments hold the seats.
    assert not Booking.objects.filter(patient=patients[2]).exists()


def test_one_off_booking_needs_a_placement_in_the_program_on_that_day(patient, iop, clinician, today):
    individual = make_series(iop, clinician, name="Individual", kind="individual_counselling", capacity=1,
                             rule="FREQ=WEEKLY;BYDAY=TU", start_time=dt.time(16, 0), duration_minutes=50,
                             starts_on=today + dt.timedelta(days=1), books_enrolled=False)  # fmt: skip
    session = Session.objects.filter(series=individual).first()

    with pytest.raises(DomainError) as error:
        services.book_session(session=session, patient=patient)
    assert error.value.code == "outside_placement"

    journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    assert session.bookings.count() == 0  # not a track session: nobody booked automatically
    booking = services.book_session(session=session, patient=patient)
    assert booking.source == BookingSource.ONE_OFF

    other = PatientFactory()
    journey.enroll_in_iop(patient=other, program=iop, start_on=today, enrolled_by=clinician)
    with pytest.raises(DomainError) as full:
        services.book_session(session=session, patient=other)
    assert full.value.code == "session_full"
    assert "full" in full.value.message


def test_a_patient_is_never_in_two_overlapping_sessions(patient, iop, clinician, today, future_group):
    journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    clash = make_series(iop, clinician, name="Family evening", kind="family_session", books_enrolled=False,
                        rule="FREQ=WEEKLY;BYDAY=MO", start_time=dt.time(19, 0), duration_minutes=60,
                        starts_on=today + dt.timedelta(days=1))  # fmt: skip
    session = Session.objects.filter(series=clash).first()

    with pytest.raises(DomainError) as error:
        services.book_session(session=session, patient=patient)
    assert error.value.code == "double_booked"

    # And the database refuses it even when the check is bypassed.
    group_booking = Booking.objects.active().filter(patient=patient, session__local_date=session.local_date).get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(session=session, patient=patient, placement=group_booking.placement,
                               source="one_off", starts_at=session.starts_at, ends_at=session.ends_at)  # fmt: skip


def test_the_database_refuses_a_booking_over_capacity(iop, clinician, today):
    series = make_series(iop, clinician, starts_on=today + dt.timedelta(days=1), capacity=1, books_enrolled=False)
    session = Session.objects.filter(series=series).first()
    placements = [
        journey.enroll_in_iop(patient=PatientFactory(), program=iop, start_on=today, enrolled_by=clinician)
        for _ in range(2)
    ]
    Booking.objects.create(session=session, patient_id=placements[0].patient_id, placement=placements[0],
                           source="one_off", starts_at=session.starts_at, ends_at=session.ends_at)  # fmt: skip
    session.refresh_from_db()
    assert session.booked_count == 1

    with pytest.raises(IntegrityError) as error, transaction.atomic():
        Booking.objects.create(session=session, patient_id=placements[1].patient_id, placement=placements[1],
                               source="one_off", starts_at=session.starts_at, ends_at=session.ends_at)  # fmt: skip
    assert "session_booked_within_capacity" in str(error.value)


def test_cancelled_and_past_sessions_cannot_be_booked(patient, iop, clinician, today, running_group):
    journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    past = Session.objects.filter(series=running_group, local_date__lt=today).first()
    with pytest.raises(DomainError) as error:
        services.book_session(session=past, patient=patient)
    assert error.value.code == "session_locked"

    future = Session.objects.filter(series=running_group, local_date__gt=today).first()
    services.cancel_session(session=future, reason="Facilitator ill")
    with pytest.raises(DomainError) as cancelled:
        services.book_session(session=future, patient=patient)
    assert cancelled.value.code == "session_cancelled"


def test_a_seat_freed_by_staff_goes_to_the_next_placed_patient_not_to_one_already_booked(iop, clinician, today):
    # Capacity 2: A and B are placed first and booked; C, placed later, finds every session full.
    first, second, third = PatientFactory(), PatientFactory(), PatientFactory()
    for patient in (first, second):
        journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    series = make_series(iop, clinician, starts_on=today + dt.timedelta(days=1), capacity=2)
    journey.enroll_in_iop(patient=third, program=iop, start_on=today + dt.timedelta(days=1), enrolled_by=clinician)
    assert not Booking.objects.filter(patient=third).exists()
    freed = Booking.objects.active().filter(patient=second, session__series=series).first()
    services.cancel_booking(booking=freed)

    services.generate_sessions()

    # The seat is C's: A, still booked and first in the queue, does not take it up again.
    assert set(freed.session.bookings.active().values_list("patient", flat=True)) == {first.pk, third.pk}
    assert Booking.objects.active().filter(patient=third).count() == 1


def test_a_staff_cancelled_booking_is_not_remade_by_generation(patient, iop, clinician, today, future_group):
    journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    booking = Booking.objects.active().filter(patient=patient).first()
    services.cancel_booking(booking=booking)

    services.generate_sessions()

    assert not Booking.objects.active().filter(patient=patient, session=booking.session).exists()
    booking.session.refresh_from_db()
    assert booking.session.booked_count == 0
