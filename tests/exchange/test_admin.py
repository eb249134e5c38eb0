"""Staff record Part 2 consents and register API clients in the admin; what they save is what FHIR enforces."""

from __future__ import annotations

import re

import pytest

from exchange.models import ApiClient
from patients.models import DisclosureConsent

pytestmark = pytest.mark.django_db

ADD_CONSENT = "/admin/patients/disclosureconsent/add/"


def consent_form(clinic, **overrides) -> dict:
    return {
        "patient": clinic.jo.pk,
        "recipient": "Mercy General Hospital",
        "purpose": "Continuity of care",
        "information": "Treatment history",
        "information_types": ["demographics", "treatment"],
        "means": "written",
        # The browser's own date-and-time picker (datetime-local), in the user's zone.
        "given_at": "2026-11-18T09:00",
        "expires_at": "2027-11-18T09:00",
        **overrides,
    }


def test_a_clinician_records_a_consent_and_the_hospital_sees_the_patient(client, api, clinic, as_hospital):
    jo = f"/fhir/R4/Patient/{clinic.jo.public_id}"
    assert as_hospital.get(jo).status_code == 404
    client.force_login(clinic.clinician)
    response = client.post(ADD_CONSENT, consent_form(clinic))
    assert response.status_code == 302, response.content[:2000]
    consent = DisclosureConsent.objects.get(patient=clinic.jo, recipient="Mercy General Hospital")
    assert consent.information_types == ["demographics", "treatment"] and consent.recorded_by == clinic.clinician
    assert as_hospital.get(jo).status_code == 200
    assert as_hospital.get("/fhir/R4/Appointment", {"patient": str(clinic.jo.public_id)}).json()["total"] == 0


def test_a_consent_that_breaks_the_rule_is_a_form_error_and_nothing_is_saved(client, clinic):
    client.force_login(clinic.clinician)
    before = DisclosureConsent.objects.count()
    response = client.post(ADD_CONSENT, consent_form(clinic, expires_at="2026-01-01T09:00"))
    assert response.status_code == 200
    assert "The consent must expire after it is given." in response.content.decode()
    assert DisclosureConsent.objects.count() == before


def test_front_desk_cannot_record_or_see_consents(client, clinic):
    client.force_login(clinic.front_desk)
    assert client.get(ADD_CONSENT).status_code == 403
    assert client.get("/admin/patients/disclosureconsent/").status_code == 403


def test_a_program_admin_registers_a_client_and_sees_the_secret_once(client, api, clinic):
    client.force_login(clinic.admin)
    response = client.post(
        "/admin/exchange/apiclient/add/", {"name": "St Luke's", "recipient": "St Luke's Hospital"}, follow=True
    )
    registered = ApiClient.objects.get(name="St Luke's")
    page = response.content.decode()
    assert registered.client_id in page and "client_secret: " in page
    secret = re.search(r"client_secret: ([A-Za-z0-9_-]+)", page).group(1)
    token = api.post(
        "/fhir/R4/auth/token",
        {"grant_type": "client_credentials", "client_id": registered.client_id, "client_secret": secret},
        format="multipart",
    )
    assert token.status_code == 200
    again = client.get(f"/admin/exchange/apiclient/{registered.pk}/change/").content.decode()
    assert secret not in again


def test_a_clinician_cannot_register_clients(client, clinic):
    client.force_login(clinic.clinician)
    assert client.get("/admin/exchange/apiclient/add/").status_code == 403
