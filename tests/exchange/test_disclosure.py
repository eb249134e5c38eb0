"""Another organisation's client sees only patients whose Part 2 consent in force names it, and only what it covers."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from clinic.models import AuditEvent
from exchange.resources import REDISCLOSURE_NOTICE
from patients import services as patient_services
from patients.models import ConsentMeans
from tests.exchange.conftest import INSTANT, client_token, ids

pytestmark = pytest.mark.django_db


def test_a_hospital_reads_a_consenting_patients_record(as_hospital, clinic):
    alex = str(clinic.alex.public_id)
    assert as_hospital.get(f"/fhir/R4/Patient/{alex}").status_code == 200
    episodes = as_hospital.get("/fhir/R4/EpisodeOfCare", {"patient": alex}).json()
    encounters = as_hospital.get("/fhir/R4/Encounter", {"patient": alex}).json()
    appointments = as_hospital.get("/fhir/R4/Appointment", {"patient": alex}).json()
    assert ids(episodes) == {str(clinic.stay.episode.public_id)}
    assert len(encounters["entry"]) == 4 and appointments["total"] > 3
    sam_plans = as_hospital.get("/fhir/R4/CarePlan", {"patient": str(clinic.sam.public_id)}).json()
    assert sam_plans["total"] == 0  # Sam's consent does not cover the care plan


def test_only_consenting_patients_are_listed(as_hospital, clinic):
    # Alex (all), Sam (named in capitals with spaces: the same recipient). Not Jo (another recipient), Nia
    # (revoked), Lee (expired), nor anyone without a consent. Kim at Lakeview consented: a client is not site-bound.
    listed = ids(as_hospital.get("/fhir/R4/Patient", {"_count": 100}).json())
    assert listed == {str(p.public_id) for p in (clinic.alex, clinic.sam, clinic.kim)}


@pytest.mark.parametrize("who", ["jo", "nia", "lee"])
def test_a_patient_without_a_consent_in_force_does_not_exist_for_the_client(as_hospital, clinic, who):
    patient = getattr(clinic, who)
    response = as_hospital.get(f"/fhir/R4/Patient/{patient.public_id}")
    assert response.status_code == 404
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "not-found"
    assert as_hospital.get("/fhir/R4/Encounter", {"patient": str(patient.public_id)}).json()["total"] == 0


def test_information_outside_the_consent_is_missing(as_hospital, clinic):
    sam = str(clinic.sam.public_id)
    assert as_hospital.get(f"/fhir/R4/Patient/{sam}").status_code == 200
    assert as_hospital.get("/fhir/R4/Encounter", {"patient": sam}).json()["total"] > 0
    assert as_hospital.get("/fhir/R4/Appointment", {"patient": sam}).json()["total"] == 0
    assert as_hospital.get(f"/fhir/R4/CarePlan/{clinic.plan.public_id}").status_code == 404
    assert as_hospital.get("/fhir/R4/Consent", {"patient": sam}).json()["total"] == 0


def test_a_revoked_consent_takes_effect_on_the_next_request(as_hospital, clinic):
    alex = f"/fhir/R4/Patient/{clinic.alex.public_id}"
    assert as_hospital.get(alex).status_code == 200
    patient_services.revoke_disclosure_consent(
        consent=clinic.consents.alex, means=ConsentMeans.WRITTEN, revoked_by=None
    )
    assert as_hospital.get(alex).status_code == 404
    assert as_hospital.get("/fhir/R4/Encounter", {"patient": str(clinic.alex.public_id)}).json()["total"] == 0


def test_a_consent_stops_at_its_expiry(as_hospital, clinic):
    consent = clinic.consents.alex
    alex = f"/fhir/R4/Patient/{clinic.alex.public_id}"
    with time_machine.travel(consent.expires_at - dt.timedelta(seconds=5), tick=False):
        token = client_token(as_hospital, clinic.hospital, clinic.hospital_secret)
        as_hospital.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert as_hospital.get(alex).status_code == 200
    with time_machine.travel(consent.expires_at, tick=False):
        assert as_hospital.get(alex).status_code == 404


def test_another_organisation_gets_nothing(api, clinic):
    token = client_token(api, clinic.other_org, clinic.other_secret)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    for kind in ("Patient", "EpisodeOfCare", "Encounter", "Appointment", "CarePlan", "Consent"):
        assert api.get(f"/fhir/R4/{kind}").json()["total"] == 0, kind
    assert api.get(f"/fhir/R4/Patient/{clinic.alex.public_id}").status_code == 404


def test_every_answer_to_a_client_carries_the_redisclosure_notice(as_hospital, clinic):
    answers = [
        as_hospital.get("/fhir/R4/Patient"),
        as_hospital.get(f"/fhir/R4/Patient/{clinic.alex.public_id}"),
        as_hospital.get("/fhir/R4/Location"),
        as_hospital.get(f"/fhir/R4/Patient/{clinic.jo.public_id}"),  # a 404 too
    ]
    for response in answers:
        assert response["X-Redisclosure-Notice"] == REDISCLOSURE_NOTICE
    bundle, patient = answers[0].json(), answers[1].json()
    for labelled in (bundle, patient, bundle["entry"][0]["resource"]):
        codes = {label["code"] for label in labelled["meta"]["security"]}
        assert {"42CFRPart2", "NORDSCLCD"} <= codes


def test_staff_answers_have_no_redisclosure_header(as_admin, clinic):
    assert "X-Redisclosure-Notice" not in as_admin.get("/fhir/R4/Patient")


def test_each_disclosure_is_recorded_with_the_consent_it_relied_on(as_hospital, clinic):
    as_hospital.get("/fhir/R4/Encounter", {"_count": 100})
    rows = AuditEvent.objects.filter(action="disclose", detail__startswith="FHIR Encounter")
    assert {(r.patient_id, r.detail) for r in rows} == {
        (clinic.alex.pk, f"FHIR Encounter; consent {clinic.consents.alex.public_id}"),
        (clinic.sam.pk, f"FHIR Encounter; consent {clinic.consents.sam.public_id}"),
        (clinic.kim.pk, f"FHIR Encounter; consent {clinic.consents.kim.public_id}"),
    }
    assert {(r.username, r.role, r.user_id) for r in rows} == {
        ("Mercy General (HIE gateway) (API client)", "api_client", None)
    }


def test_the_access_report_shows_disclosures(as_hospital, api, clinic):
    as_hospital.get(f"/fhir/R4/Patient/{clinic.alex.public_id}")
    api.credentials()
    api.force_authenticate(clinic.admin)
    rows = api.get(f"/api/v1/patients/{clinic.alex.public_id}/access-report/").json()["results"]
    disclosures = [row for row in rows if row["action"] == "disclose"]
    assert [(row["username"], row["role"]) for row in disclosures] == [
        ("Mercy General (HIE gateway) (API client)", "api_client")
    ]


def test_client_tokens_expire_and_die_with_their_client(api, clinic):
    from exchange import services

    token = client_token(api, clinic.hospital, clinic.hospital_secret)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/fhir/R4/Patient").status_code == 200
    with time_machine.travel(INSTANT + dt.timedelta(minutes=6), tick=False):
        expired = api.get("/fhir/R4/Patient")
    assert expired.status_code == 401 and expired.json()["issue"][0]["code"] == "login"
    token = client_token(api, clinic.hospital, clinic.hospital_secret)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    services.deactivate_client(client=clinic.hospital)
    assert api.get("/fhir/R4/Patient").status_code == 401


def test_the_token_endpoint_refuses_a_wrong_secret_the_same_way_as_an_unknown_client(api, clinic):
    wrong = api.post(
        "/fhir/R4/auth/token",
        {"grant_type": "client_credentials", "client_id": clinic.hospital.client_id, "client_secret": "guess"},
        format="multipart",
    )
    unknown = api.post(
        "/fhir/R4/auth/token",
        {"grant_type": "client_credentials", "client_id": "client_nobody", "client_secret": "guess"},
        format="multipart",
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"error": "invalid_client", "error_description": "Unknown client or wrong secret."}
    )
    grant = api.post("/fhir/R4/auth/token", {"grant_type": "password"}, format="multipart")
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


def test_the_secret_and_tokens_are_stored_only_as_hashes(api, clinic):
    from exchange.models import ClientToken

    token = client_token(api, clinic.hospital, clinic.hospital_secret)
    assert clinic.hospital_secret not in clinic.hospital.secret_hash
    assert not ClientToken.objects.filter(token_hash=token).exists()
    assert ClientToken.objects.filter(client=clinic.hospital).count() == 1
