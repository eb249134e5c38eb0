from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from clinic import clock
from tests.factories import BedFactory, PatientFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the (real) Redis cache; each test starts from zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def patient_user(patient):
    patient.user = UserFactory(username="alex.patient", is_staff=False)
    patient.save(update_fields=["user"])
    return patient.user


@pytest.fixture
def other_patient_user(other_patient):
    other_patient.user = UserFactory(username="sam.patient", is_staff=False)
    other_patient.save(update_fields=["user"])
    return other_patient.user


@pytest.fixture
def as_patient(api, patient_user):
    api.force_authenticate(patient_user)
    return api


@pytest.fixture
def unlinked_patient(db):
    return PatientFactory()


# --- REST API (issue 5): one clinic with every kind of record, for the permission matrix ----------------


@pytest.fixture
def world(site, residential, iop, bed, other_bed, patient, other_patient, site_clinician, today):
    """At Riverside: Alex stepped down from residential to the evening IOP (booked into its group), Sam
    discharged from IOP into aftercare, Jo in a residential bed, Nia just registered. Every object an
    endpoint can address exists once, in a state where the right person's action succeeds."""
    import datetime as dt
    from types import SimpleNamespace

    from programs import services as journey
    from scheduling import services as schedule
    from scheduling.models import Booking, SessionKind

    monday = today - dt.timedelta(days=today.weekday(), weeks=3)
    series = schedule.create_series(
        program=iop,
        name="Evening process group",
        kind=SessionKind.GROUP_THERAPY,
        rule="FREQ=WEEKLY;BYDAY=MO,WE,TH",
        start_time=dt.time(18, 0),
        duration_minutes=180,
        facilitator=site_clinician,
        capacity=12,
        starts_on=monday,
    )
    schedule.generate_sessions(series_ids=[series.pk], from_on=monday)
    stay = journey.admit_to_residential(
        patient=patient, bed=bed, admitted_on=today - dt.timedelta(days=40), admitted_by=site_clinician
    )
    transition = journey.step_down(
        stay=stay, to_program=iop, on=today - dt.timedelta(days=5), reason="Stable", decided_by=site_clinician
    )
    enrollment = transition.to_placement
    sam = journey.enroll_in_iop(
        patient=other_patient, program=iop, start_on=today - dt.timedelta(days=20), enrolled_by=site_clinician
    )
    # A week ago: Sam's day-7 aftercare check-in is due today, so Sam can answer it.
    discharge = journey.discharge(
        episode=sam.episode,
        on=today - dt.timedelta(days=7),
        disposition="completed",
        notes="Did well",
        decided_by=site_clinician,
    )
    resident = PatientFactory(legal_first_name="Jo", legal_last_name="Park", registered_site=site)
    third_bed = BedFactory(program=residential, label="102-A")
    active_stay = journey.admit_to_residential(
        patient=resident, bed=third_bed, admitted_on=today - dt.timedelta(days=35), admitted_by=site_clinician
    )
    newcomer = PatientFactory(legal_first_name="Nia", legal_last_name="Okafor", registered_site=site)
    counselling = schedule.create_series(
        program=iop,
        name="Individual counselling",
        kind=SessionKind.INDIVIDUAL_COUNSELLING,
        rule="FREQ=WEEKLY;BYDAY=TU",
        start_time=dt.time(10, 0),
        duration_minutes=50,
        facilitator=site_clinician,
        capacity=1,
        starts_on=today + dt.timedelta(days=1),
        books_enrolled=False,
    )
    # The journeys book only sessions not yet started; the past weeks' bookings are a backfill of history.
    schedule.generate_sessions(series_ids=[series.pk], from_on=monday)
    upcoming = Booking.objects.active().filter(patient=patient, starts_at__gt=timezone.now()).order_by("starts_at")
    booking = upcoming.first()
    from reminders import services as reminding
    from reminders.models import FollowUpItem, Reminder

    checkin = discharge.aftercare_plan.checkins.order_by("due_on").first()
    reminding.plan_for(target="checkin", ids=[checkin.pk])  # discharge plans them on commit, which tests never reach
    device = reminding.register_push_device(patient=patient, token="fcm-token-" + "a" * 40, platform="android")
    follow_up = reminding.open_follow_up(
        program=iop, patient=patient, kind=FollowUpItem.Kind.MISSED_SESSIONS, details="2 sessions missed in a row"
    )
    # Admissions (issue 14): a new referral, one in screening, one waiting, one with bed 101-A reserved.
    from admissions import services as admitting

    def referral(last_name, *, patient=None, upto="new"):
        made = admitting.create_referral(
            program=residential,
            source="hospital",
            referred_on=today - dt.timedelta(days=2),
            created_by=site_clinician,
            patient=patient,
            first_name="Ola",
            last_name=last_name,
            date_of_birth=dt.date(1985, 6, 1),
        )
        if upto != "new":
            made = admitting.start_screening(referral=made, by=site_clinician)
        if upto == "accepted":
            made = admitting.accept_referral(referral=made, by=site_clinician, reason="Meets criteria")
        return made

    waitlisted = referral("Waiting", patient=PatientFactory(registered_site=site), upto="accepted")
    reserved = referral("Reserved", patient=PatientFactory(registered_site=site), upto="accepted")
    reservation = admitting.reserve(
        referral=reserved,
        bed=bed,
        start_on=today,
        expires_at=clock.now() + dt.timedelta(days=2),
        reserved_by=site_clinician,
    )
    # A session that has started, for taking attendance (Mon/Wed/Thu: one falls in any five days).
    attended = Booking.objects.active().filter(patient=patient, starts_at__lt=timezone.now()).order_by("-starts_at")
    # Utilization review (issue 15): Alex's coverage, an approved IOP authorization and a pending residential one.
    from utilization import services as ur
    from utilization.models import Payer

    payer = Payer.objects.create(name="Blue Harbor Health", kind=Payer.Kind.COMMERCIAL)
    coverage = ur.add_coverage(
        patient=patient,
        payer=payer,
        effective_on=today - dt.timedelta(days=60),
        member_id="BH-1",
        created_by=site_clinician,
    )
    authorization = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=iop.asam_level, requested_units=20,
        start_on=today - dt.timedelta(days=5), end_on=today + dt.timedelta(days=30), requested_by=site_clinician,
        requested_on=today - dt.timedelta(days=6), notes="Step-down plan",
    )  # fmt: skip
    ur.record_decision(
        authorization=authorization, status="approved", decided_on=today - dt.timedelta(days=6), number="W-IOP-1",
        approved_units=20, start_on=today - dt.timedelta(days=5), end_on=today + dt.timedelta(days=30),
        decided_by=site_clinician,
    )  # fmt: skip
    requested_authorization = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=residential.asam_level, requested_units=35,
        start_on=today - dt.timedelta(days=40), end_on=today - dt.timedelta(days=6), requested_by=site_clinician,
        requested_on=today - dt.timedelta(days=40),
    )  # fmt: skip
    return SimpleNamespace(
        payer=payer,
        coverage=coverage,
        authorization=authorization,
        requested_authorization=requested_authorization,
        site=site,
        residential=residential,
        iop=iop,
        bed=bed,
        free_bed=other_bed,
        patient=patient,
        discharged_patient=other_patient,
        series=series,
        session=booking.session,
        past_session=attended.first().session,
        checkin=checkin,
        reminder=Reminder.objects.filter(checkin=checkin).first(),
        device=device,
        follow_up=follow_up,
        booking=booking,
        one_off_session=counselling.sessions.order_by("starts_at").first(),
        resident=resident,
        newcomer=newcomer,
        completed_stay=stay,
        stay=active_stay,
        enrollment=enrollment,
        episode=stay.episode,
        transition=transition,
        discharge=discharge,
        referral=referral("New"),
        screening_referral=referral("Screening", upto="screening"),
        waitlisted=waitlisted,
        reservation=reservation,
    )
