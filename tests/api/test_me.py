import datetime as dt

import pytest
from django.urls import reverse

from clinic import clock
from programs import services

pytestmark = pytest.mark.django_db


def test_a_patient_reads_their_own_profile_with_an_etag(as_patient, patient):
    response = as_patient.get(reverse("api:me"))
    assert response.status_code == 200
    assert response.json()["id"] == str(patient.public_id)
    assert response.json()["legal_last_name"] == "Rivera"
    assert response["ETag"]


def test_an_update_needs_if_match(as_patient):
    response = as_patient.patch(reverse("api:me"), {"preferred_name": "Lex"})
    assert response.status_code == 428
    assert response.json()["error"]["code"] == "if_match_required"


def test_a_stale_if_match_is_refused_and_nothing_changes(as_patient, patient):
    etag = as_patient.get(reverse("api:me"))["ETag"]
    assert as_patient.patch(reverse("api:me"), {"preferred_name": "Lex"}, HTTP_IF_MATCH=etag).status_code == 200

    stale = as_patient.patch(reverse("api:me"), {"preferred_name": "Al"}, HTTP_IF_MATCH=etag)

    assert stale.status_code == 412 and stale.json()["error"]["code"] == "version_mismatch"
    patient.refresh_from_db()
    assert patient.preferred_name == "Lex"


def test_contact_details_are_validated_and_names_are_read_only(as_patient, patient):
    etag = as_patient.get(reverse("api:me"))["ETag"]
    bad = as_patient.patch(reverse("api:me"), {"phone": "12345"}, HTTP_IF_MATCH=etag)
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["phone"]

    tz = as_patient.patch(reverse("api:me"), {"time_zone": "Nowhere/City"}, HTTP_IF_MATCH=etag)
    assert tz.status_code == 400 and "time_zone" in tz.json()["error"]["fields"]

    # A name is the clinic's to change: refused by name (issue 11), not ignored, and nothing is written.
    named = as_patient.patch(
        reverse("api:me"), {"phone": "+1 (617) 555-0199", "legal_last_name": "Changed"}, HTTP_IF_MATCH=etag
    )
    assert named.status_code == 400
    assert named.json()["error"]["fields"] == {
        "legal_last_name": ["This field is read-only; it cannot be changed here."]
    }
    patient.refresh_from_db()
    assert patient.legal_last_name == "Rivera" and patient.phone != "+16175550199"

    ok = as_patient.patch(reverse("api:me"), {"phone": "+1 (617) 555-0199"}, HTTP_IF_MATCH=etag)
    assert ok.status_code == 200
    assert ok.json()["phone"] == "+16175550199" and ok.json()["legal_last_name"] == "Rivera"


def test_revoking_messaging_consent_takes_effect(as_patient, patient):
    etag = as_patient.get(reverse("api:me-preferences"))["ETag"]
    response = as_patient.patch(reverse("api:me-preferences"), {"messaging_consent": False}, HTTP_IF_MATCH=etag)
    assert response.status_code == 200 and response.json()["messaging_consent"] is False
    patient.refresh_from_db()
    assert not patient.has_messaging_consent


def test_the_care_journey_in_plain_words(as_patient, patient, bed, iop, clinician):
    # The patient's own date: /me/care/ judges "current" by it (at 00:30 UTC it is still yesterday in New York).
    today = clock.local_today(patient.time_zone)
    stay = services.admit_to_residential(
        patient=patient, bed=bed, admitted_on=today - dt.timedelta(days=31), admitted_by=clinician
    )
    services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)

    care = as_patient.get(reverse("api:me-care")).json()

    assert care["current_level"] == "iop" and care["current_title"] == "Intensive outpatient program"
    assert [(s["level"], s["current"]) for s in care["journey"]] == [("residential", False), ("iop", True)]
    assert care["journey"][1]["description"].startswith("You moved on from residential care on ")
