"""Referrals, the waitlist and reservations: the services and the rules PostgreSQL keeps."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from admissions import selectors, services
from admissions.models import BedHold, Referral, ReferralEvent, ReferralStatus, Reservation, ReservationStatus
from clinic.errors import DomainError
from programs import services as journey
from programs.models import Bed, Placement
from tests.factories import BedFactory, PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def _expiry(day: dt.date, days: int = 2) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(22, 0), tzinfo=dt.UTC)


def test_the_pipeline_refer_screen_accept_reserve_admit(refer, bed, site_clinician, day):
    referral = refer(upto="new")
    assert referral.status == ReferralStatus.NEW and referral.patient is None

    referral = services.start_screening(referral=referral, by=site_clinician)
    assert referral.contacted_at is not None
    referral = services.accept_referral(
        referral=referral, by=site_clinician, reason="Meets criteria", mrn="MRN-NEW-9", confirm_new_person=True
    )
    assert referral.status == ReferralStatus.ACCEPTED and referral.patient.mrn == "MRN-NEW-9"
    assert referral.patient.registered_site == referral.program.site
    assert list(selectors.waitlist(program=referral.program)) == [referral]

    reservation = services.reserve(
        referral=referral,
        bed=bed,
        start_on=day + dt.timedelta(days=2),
        expires_at=_expiry(day, 3),
        reserved_by=site_clinician,
    )
    assert reservation.planned_end_on == day + dt.timedelta(days=32)
    assert BedHold.objects.filter(reservation=reservation, bed=bed).exists()

    with time_machine.travel(dt.datetime.combine(day + dt.timedelta(days=2), dt.time(15), tzinfo=dt.UTC)):
        stay = services.admit_reservation(reservation=reservation, admitted_by=site_clinician)

    reservation.refresh_from_db()
    referral.refresh_from_db()
    assert stay.bed == bed and stay.patient == referral.patient and stay.planned_end_on == reservation.planned_end_on
    assert reservation.status == ReservationStatus.ADMITTED and reservation.placement == stay
    assert referral.status == ReferralStatus.ADMITTED and referral.closed_on == day + dt.timedelta(days=2)
    # The reservation's hold became the stay's: one hold on the bed, the stay's.
    assert list(BedHold.objects.filter(bed=bed).values_list("placement_id", "reservation_id")) == [(stay.pk, None)]
    kinds = list(referral.events.values_list("to_value", flat=True))
    assert kinds == ["screening", "accepted", "admitted"]
    assert all(event.by == site_clinician for event in referral.events.all())


def test_transitions_are_enforced(refer, site_clinician):
    referral = refer(upto="new")
    with pytest.raises(DomainError) as refused:
        services.accept_referral(referral=referral, by=site_clinician, reason="Skip screening", mrn="X")
    assert refused.value.code == "invalid_referral_transition"
    services.close_referral(referral=referral, status="declined", reason="Needs detox first", by=site_clinician)
    referral.refresh_from_db()
    assert (referral.status, referral.decision_reason, referral.decided_by) == (
        "declined",
        "Needs detox first",
        site_clinician,
    )
    with pytest.raises(DomainError):
        services.start_screening(referral=referral, by=site_clinician)
    with pytest.raises(DomainError) as no_reason:
        services.close_referral(
            referral=refer(upto="new", last_name="Other"), status="withdrawn", reason=" ", by=site_clinician
        )
    assert no_reason.value.field == "reason"


def test_a_decision_without_who_and_why_is_refused_by_postgresql(refer):
    referral = refer(upto="new")
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.filter(pk=referral.pk).update(status=ReferralStatus.DECLINED, closed_on=referral.referred_on)


def test_accepting_flags_a_possible_duplicate_before_saving(refer, site_clinician):
    existing = PatientFactory(legal_first_name="Nia", legal_last_name="Okafor", date_of_birth=dt.date(1990, 2, 3))
    referral = refer(upto="screening")
    with pytest.raises(DomainError) as flagged:
        services.accept_referral(referral=referral, by=site_clinician, reason="Meets criteria", mrn="MRN-NEW-2")
    assert flagged.value.code == "possible_duplicate" and existing.mrn in flagged.value.message
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.SCREENING and referral.patient is None
    # Linked to the patient who exists, it is accepted without registering anyone.
    services.link_patient(referral=referral, patient=existing, by=site_clinician)
    accepted = services.accept_referral(referral=referral, by=site_clinician, reason="Meets criteria")
    assert accepted.patient == existing


def test_a_duplicate_by_phone_is_flagged_too(refer, site_clinician):
    PatientFactory(phone="+14155550177", legal_first_name="Someone", legal_last_name="Else")
    referral = refer(upto="screening", phone="+1 415 555 0177")
    with pytest.raises(DomainError) as flagged:
        services.accept_referral(referral=referral, by=site_clinician, reason="ok", mrn="MRN-NEW-3")
    assert flagged.value.code == "possible_duplicate"


def test_waitlist_order_is_priority_then_acceptance_and_reordering_keeps_the_reason(refer, site_clinician):
    first = refer(upto="accepted", last_name="A", mrn="M-A")
    second = refer(upto="accepted", last_name="B", mrn="M-B")
    assert list(selectors.waitlist(program=first.program)) == [first, second]
    services.set_priority(referral=second, priority=1, reason="Pregnant; urgent", by=site_clinician)
    assert list(selectors.waitlist(program=first.program)) == [second, first]
    event = ReferralEvent.objects.get(referral=second, kind="priority")
    assert (event.from_value, event.to_value, event.reason) == ("3", "1", "Pregnant; urgent")
    with pytest.raises(DomainError):
        services.set_priority(referral=second, priority=2, reason="", by=site_clinician)


@pytest.fixture
def waiting(refer):
    return refer(upto="accepted")


def test_a_reservation_is_refused_on_a_bed_out_of_service(waiting, bed, site_clinician, day):
    Bed.objects.filter(pk=bed.pk).update(status=Bed.Status.OUT_OF_SERVICE)
    with pytest.raises(DomainError) as refused:
        services.reserve(referral=waiting, bed=bed, start_on=day, expires_at=_expiry(day), reserved_by=site_clinician)
    assert refused.value.code == "bed_unavailable" and "out of service" in refused.value.message
    assert not Reservation.objects.exists()


def test_a_reservation_is_refused_in_another_program(waiting, site_clinician, day, other_site):
    elsewhere = BedFactory(program=ProgramFactory(site=other_site))
    with pytest.raises(DomainError) as refused:
        services.reserve(
            referral=waiting, bed=elsewhere, start_on=day, expires_at=_expiry(day), reserved_by=site_clinician
        )
    assert refused.value.code == "wrong_program"
    assert not Reservation.objects.exists()


def test_a_reservation_is_refused_on_an_occupied_bed(waiting, bed, site_clinician, day):
    stay = journey.admit_to_residential(
        patient=PatientFactory(), bed=bed, admitted_on=day - dt.timedelta(days=10), admitted_by=site_clinician
    )
    with pytest.raises(DomainError) as refused:
        services.reserve(
            referral=waiting,
            bed=bed,
            start_on=day + dt.timedelta(days=5),
            expires_at=_expiry(day),
            reserved_by=site_clinician,
        )
    assert refused.value.code == "bed_unavailable" and "occupied" in refused.value.message
    # From the planned discharge on, the bed can be held for the next person.
    reservation = services.reserve(
        referral=waiting, bed=bed, start_on=stay.planned_end_on, expires_at=_expiry(day), reserved_by=site_clinician
    )
    assert reservation.status == ReservationStatus.HELD


def test_two_reservations_of_one_bed_are_refused(refer, bed, site_clinician, day):
    first = refer(upto="accepted", last_name="A", mrn="M-A")
    second = refer(upto="accepted", last_name="B", mrn="M-B")
    services.reserve(
        referral=first,
        bed=bed,
        start_on=day + dt.timedelta(days=3),
        expires_at=_expiry(day),
        reserved_by=site_clinician,
    )
    with pytest.raises(DomainError) as refused:
        services.reserve(referral=second, bed=bed, start_on=day, expires_at=_expiry(day), reserved_by=site_clinician)
    assert refused.value.code == "bed_unavailable" and "reserved" in refused.value.message
    assert Reservation.objects.count() == 1


def test_postgresql_refuses_a_second_hold_even_without_the_services(refer, bed, site_clinician, day):
    """The rule is the database's: an INSERT that skips every check still fails."""
    first = services.reserve(
        referral=refer(upto="accepted", last_name="A", mrn="M-A"),
        bed=bed,
        start_on=day,
        expires_at=_expiry(day),
        reserved_by=site_clinician,
    )
    second = refer(upto="accepted", last_name="B", mrn="M-B")
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        Reservation.objects.create(
            referral=second,
            patient=second.patient,
            program=second.program,
            bed=bed,
            start_on=day + dt.timedelta(days=5),
            planned_end_on=day + dt.timedelta(days=40),
            expires_at=_expiry(day),
            created_by=site_clinician,
        )
    assert "bed_one_hold_per_day" in str(refused.value)
    # And a stay on the reserved days, inserted directly, is refused the same way.
    with pytest.raises(IntegrityError) as stay_refused, transaction.atomic():
        journey_patient = PatientFactory()
        episode = journey_patient.episodes.create(status="active", started_on=day)
        Placement.objects.create(
            kind="residential",
            episode=episode,
            patient=journey_patient,
            program=bed.program,
            bed=bed,
            start_on=day + dt.timedelta(days=1),
            planned_end_on=day + dt.timedelta(days=31),
        )
    assert "bed_one_hold_per_day" in str(stay_refused.value)
    assert first.status == ReservationStatus.HELD


def test_admitting_someone_else_to_a_reserved_bed_is_refused(waiting, bed, site_clinician, day):
    services.reserve(referral=waiting, bed=bed, start_on=day, expires_at=_expiry(day), reserved_by=site_clinician)
    stranger = PatientFactory()
    with pytest.raises(DomainError) as refused:
        journey.admit_to_residential(patient=stranger, bed=bed, admitted_on=day, admitted_by=site_clinician)
    assert refused.value.code == "bed_unavailable" and "reserved for another patient" in refused.value.message
    assert not Placement.objects.filter(patient=stranger).exists()
    # The reserved patient is pointed to the reservation rather than admitted beside it.
    with pytest.raises(DomainError) as pointed:
        journey.admit_to_residential(patient=waiting.patient, bed=bed, admitted_on=day, admitted_by=site_clinician)
    assert "through the reservation" in pointed.value.message


def test_extending_a_stay_into_a_reservation_is_refused(refer, bed, site_clinician, day):
    stay = journey.admit_to_residential(
        patient=PatientFactory(), bed=bed, admitted_on=day - dt.timedelta(days=20), admitted_by=site_clinician
    )
    waiting = refer(upto="accepted")
    services.reserve(
        referral=waiting, bed=bed, start_on=stay.planned_end_on, expires_at=_expiry(day), reserved_by=site_clinician
    )
    with pytest.raises(DomainError) as refused:
        journey.extend_stay(
            stay=stay,
            new_planned_discharge_on=stay.planned_end_on + dt.timedelta(days=7),
            reason="Needs longer",
            approved_by=site_clinician,
        )
    assert refused.value.code == "bed_unavailable"
    stay.refresh_from_db()
    assert not stay.extensions.exists()


def test_a_reservation_lapses_at_its_expiry_and_frees_the_bed(waiting, bed, site_clinician, day, instant):
    expires = instant + dt.timedelta(hours=30)
    reservation = services.reserve(
        referral=waiting, bed=bed, start_on=day + dt.timedelta(days=2), expires_at=expires, reserved_by=site_clinician
    )
    assert services.lapse_expired_reservations() == 0  # not yet

    with time_machine.travel(expires + dt.timedelta(minutes=1)):
        # Expired but not yet marked: it holds nothing for the census, nor for a new admission.
        assert not selectors.held_reservations(now=expires + dt.timedelta(minutes=1)).exists()
        with pytest.raises(DomainError) as late:
            services.admit_reservation(reservation=reservation, admitted_by=site_clinician)
        assert late.value.code == "reservation_lapsed"
        stay = journey.admit_to_residential(
            patient=PatientFactory(), bed=bed, admitted_on=day + dt.timedelta(days=2), admitted_by=site_clinician
        )
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.LAPSED  # cleared under the bed's lock by the admission
    assert stay.bed == bed
    assert not BedHold.objects.filter(reservation=reservation).exists()
    waiting.refresh_from_db()
    assert waiting.status == ReferralStatus.ACCEPTED  # still on the waitlist


def test_the_beat_task_marks_expired_reservations(waiting, bed, site_clinician, day, instant):
    from admissions.tasks import lapse_reservations

    reservation = services.reserve(
        referral=waiting, bed=bed, start_on=day, expires_at=instant + dt.timedelta(hours=2), reserved_by=site_clinician
    )
    lapse_reservations()
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.HELD
    with time_machine.travel(instant + dt.timedelta(hours=3)):
        lapse_reservations()
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.LAPSED and reservation.closed_at is not None


def test_an_iop_seat_is_reserved_without_a_bed_and_refused_when_the_track_is_full(refer, iop, site_clinician, day):
    iop.capacity = 1
    iop.save()
    first = refer(program=iop, upto="accepted", last_name="A", mrn="M-A")
    second = refer(program=iop, upto="accepted", last_name="B", mrn="M-B")
    seat = services.reserve(
        referral=first, start_on=day + dt.timedelta(days=1), expires_at=_expiry(day), reserved_by=site_clinician
    )
    assert seat.bed is None
    with pytest.raises(DomainError) as full:
        services.reserve(
            referral=second, start_on=day + dt.timedelta(days=3), expires_at=_expiry(day), reserved_by=site_clinician
        )
    assert full.value.code == "program_full"
    assert Reservation.objects.count() == 1
    with time_machine.travel(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(15), tzinfo=dt.UTC)):
        enrollment = services.admit_reservation(reservation=seat, admitted_by=site_clinician)
    assert enrollment.kind == "iop" and enrollment.program == iop


def test_an_iop_patient_reserved_a_bed_is_stepped_up(refer, bed, iop, site_clinician, day):
    patient = PatientFactory()
    journey.enroll_in_iop(
        patient=patient, program=iop, start_on=day - dt.timedelta(days=10), enrolled_by=site_clinician
    )
    referral = refer(patient=patient, upto="accepted")
    reservation = services.reserve(
        referral=referral, bed=bed, start_on=day, expires_at=_expiry(day), reserved_by=site_clinician
    )
    stay = services.admit_reservation(reservation=reservation, admitted_by=site_clinician)
    assert stay.transition_in.kind == "step_up"
    assert Placement.objects.get(patient=patient, kind="iop").ended_on == day


def test_an_admitted_reservation_must_name_its_stay(waiting, bed, site_clinician, day, instant):
    reservation = services.reserve(
        referral=waiting, bed=bed, start_on=day, expires_at=_expiry(day), reserved_by=site_clinician
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.filter(pk=reservation.pk).update(status="admitted", closed_at=instant)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS reservation_admitted_has_placement IMMEDIATE")
