"""A small clinic with every phase of the journey, two organisations, and their consents (FHIR, issue 16).

Every test here runs at a chosen instant (a Wednesday afternoon in New York), so
"40 days ago" and "the last group" are the same whatever the hour CI runs at.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from clinic.access import Role
from patients import services as patient_services
from patients.models import ConsentMeans, DisclosedInformation
from tests.factories import BedFactory, PatientFactory, ProgramFactory, SiteFactory, UserFactory, staff_member

INSTANT = dt.datetime(2026, 11, 18, 20, 0, tzinfo=dt.UTC)  # Wed 18 Nov 2026, 15:00 in New York
TODAY = INSTANT.date()
HOSPITAL = "Mercy General Hospital"
ALL_INFORMATION = list(DisclosedInformation.values)


@pytest.fixture(autouse=True)
def at_the_instant():
    with time_machine.travel(INSTANT, tick=True):
        yield


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def clinic(db):
    """Riverside: Alex stepped down from residential to IOP (two groups attended, one missed); Sam
    discharged into aftercare; Jo in a bed; Nia and Lee with consents no longer in force. Lakeview:
    Kim, whom Riverside staff cannot see."""
    from programs import services as journey
    from scheduling import services as schedule
    from scheduling.models import Booking, SessionKind

    site = SiteFactory(name="Riverside Campus", code="riverside")
    lakeview = SiteFactory(name="Lakeview Center", code="lakeview")
    residential = ProgramFactory(site=site, name="Residential 3.5")
    iop = ProgramFactory(site=site, iop=True, name="Evening IOP")
    lakeview_iop = ProgramFactory(site=lakeview, iop=True, name="Day IOP")
    bed, bed_b = BedFactory(program=residential, label="101-A"), BedFactory(program=residential, label="101-B")
    clinician = staff_member(role=Role.CLINICIAN, sites=[site], username="dana.clinician")
    admin = staff_member(role=Role.PROGRAM_ADMIN, sites=[site], username="priya.programadmin")
    front_desk = staff_member(role=Role.FRONT_DESK, sites=[site], username="lena.frontdesk")
    elsewhere = staff_member(role=Role.PROGRAM_ADMIN, sites=[lakeview], username="omar.lakeview")

    alex = PatientFactory(legal_first_name="Alex", legal_last_name="Rivera", preferred_name="Al", registered_site=site)
    sam = PatientFactory(legal_first_name="Sam", legal_last_name="Chen", registered_site=site)
    jo = PatientFactory(legal_first_name="Jo", legal_last_name="Park", registered_site=site)
    nia = PatientFactory(legal_first_name="Nia", legal_last_name="Okafor", registered_site=site)
    lee = PatientFactory(legal_first_name="Lee", legal_last_name="Nguyen", registered_site=site)
    kim = PatientFactory(legal_first_name="Kim", legal_last_name="Lopez", registered_site=lakeview)

    monday = days(-TODAY.weekday() - 21)  # three weeks ago, Monday
    series = schedule.create_series(
        program=iop,
        name="Evening process group",
        kind=SessionKind.GROUP_THERAPY,
        rule="FREQ=WEEKLY;BYDAY=MO,WE,TH",
        start_time=dt.time(18, 0),
        duration_minutes=180,
        facilitator=clinician,
        capacity=12,
        starts_on=monday,
    )
    schedule.generate_sessions(series_ids=[series.pk], from_on=monday)
    stay = journey.admit_to_residential(patient=alex, bed=bed, admitted_on=days(-40), admitted_by=clinician)
    step_down = journey.step_down(stay=stay, to_program=iop, on=days(-8), reason="Stable", decided_by=clinician)
    sam_enrollment = journey.enroll_in_iop(patient=sam, program=iop, start_on=days(-30), enrolled_by=clinician)
    # Placements recorded after the fact book only sessions still to come; the history since is a backfill.
    schedule.generate_sessions(series_ids=[series.pk], from_on=monday)
    # Alex's groups since the step-down on Tue 10 Nov (Wed 11, Thu 12, Mon 16 at 18:00): present, late, absent.
    past = list(Booking.objects.filter(patient=alex, starts_at__lt=INSTANT).order_by("starts_at"))
    marks = ["present", "late", "absent"]
    for booking, mark in zip(past, marks, strict=True):
        minutes = 150 if mark == "late" else None
        schedule.record_attendance(
            session=booking.session,
            marks=[schedule.Mark(patient_id=alex.pk, attendance=mark, minutes_attended=minutes)],
            recorded_by=clinician,
        )
    discharge = journey.discharge(
        episode=sam_enrollment.episode, on=days(-7), disposition="completed", decided_by=clinician
    )
    jo_stay = journey.admit_to_residential(patient=jo, bed=bed_b, admitted_on=days(-10), admitted_by=clinician)
    journey.enroll_in_iop(patient=kim, program=lakeview_iop, start_on=days(-3), enrolled_by=elsewhere)

    patient_services.give_messaging_consent(patient=alex, means=ConsentMeans.VERBAL)
    patient_services.revoke_messaging_consent(patient=alex, means=ConsentMeans.TEXT_REPLY)
    patient_services.give_messaging_consent(patient=alex, means=ConsentMeans.APP)

    def consent(patient, recipient=HOSPITAL, information=ALL_INFORMATION, **fields):
        return patient_services.record_disclosure_consent(
            patient=patient,
            recipient=recipient,
            purpose="Continuity of care after discharge",
            information="Treatment history and appointments",
            information_types=information,
            expires_at=fields.pop("expires_at", INSTANT + dt.timedelta(days=365)),
            means=ConsentMeans.WRITTEN,
            recorded_by=clinician,
            **fields,
        )

    consents = SimpleNamespace(
        alex=consent(alex),
        # Sam allowed identity and treatment only: no appointments, care plan or consents.
        sam=consent(sam, recipient=f"  {HOSPITAL.upper()} ", information=["demographics", "treatment"]),
        jo=consent(jo, recipient="Another Clinic"),
        nia=consent(nia),
        lee=consent(lee, given_at=INSTANT - dt.timedelta(days=400), expires_at=INSTANT - dt.timedelta(days=35)),
        kim=consent(kim),
    )
    patient_services.revoke_disclosure_consent(consent=consents.nia, means=ConsentMeans.WRITTEN, revoked_by=clinician)

    from exchange import services as exchange_services

    hospital, secret = exchange_services.register_client(
        name="Mercy General (HIE gateway)", recipient=HOSPITAL, registered_by=admin
    )
    other_org, other_secret = exchange_services.register_client(
        name="County Health", recipient="County Health Department", registered_by=admin
    )
    return SimpleNamespace(
        site=site,
        lakeview=lakeview,
        residential=residential,
        iop=iop,
        lakeview_iop=lakeview_iop,
        bed=bed,
        series=series,
        clinician=clinician,
        admin=admin,
        front_desk=front_desk,
        elsewhere=elsewhere,
        superuser=UserFactory(username="root", is_superuser=True),
        alex=alex,
        sam=sam,
        jo=jo,
        nia=nia,
        lee=lee,
        kim=kim,
        stay=stay,
        step_down=step_down,
        enrollment=step_down.to_placement,
        jo_stay=jo_stay,
        discharge=discharge,
        plan=discharge.aftercare_plan,
        attended=[b for b, m in zip(past, marks, strict=True) if m != "absent"],
        missed=[b for b, m in zip(past, marks, strict=True) if m == "absent"],
        consents=consents,
        hospital=hospital,
        hospital_secret=secret,
        other_org=other_org,
        other_secret=other_secret,
    )


def client_token(api: APIClient, client, secret: str) -> str:
    response = api.post(
        "/fhir/R4/auth/token",
        {"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": secret},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture
def as_hospital(api, clinic):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {client_token(api, clinic.hospital, clinic.hospital_secret)}")
    return api


@pytest.fixture
def as_admin(api, clinic):
    api.force_authenticate(clinic.admin)
    return api


def ids(bundle: dict, kind: str | None = None, mode: str = "match") -> set[str]:
    return {
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == mode and (kind is None or e["resource"]["resourceType"] == kind)
    }
