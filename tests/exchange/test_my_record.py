"""The patient's own record as one FHIR Bundle (/api/v1/me/record/): only theirs, valid, audited."""

from __future__ import annotations

import json

import pytest
from fhir.resources import get_fhir_model_class

from clinic.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_alex(api, clinic):
    clinic.alex.user = UserFactory(username="alex.patient", is_staff=False)
    clinic.alex.save(update_fields=["user"])
    api.force_authenticate(clinic.alex.user)
    return api


def test_the_patient_downloads_their_whole_record(as_alex, clinic):
    response = as_alex.get("/api/v1/me/record/")
    assert response.status_code == 200
    bundle = response.json()
    get_fhir_model_class("Bundle").parse_obj(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Patient") == 1 and kinds.count("EpisodeOfCare") == 1 and kinds.count("Encounter") == 4
    assert {"Appointment", "Consent"} <= set(kinds)
    mine = f"Patient/{clinic.alex.public_id}"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        refs = json.dumps(resource)
        assert resource["id"] == str(clinic.alex.public_id) or mine in refs
        assert str(clinic.sam.public_id) not in refs
    categories = set(
        AuditEvent.objects.filter(patient=clinic.alex, path="/api/v1/me/record/").values_list("category", flat=True)
    )
    assert categories == {"demographics", "clinical", "schedule"}


def test_staff_and_strangers_get_nothing(api, clinic):
    assert api.get("/api/v1/me/record/").status_code == 401
    api.force_authenticate(clinic.admin)
    assert api.get("/api/v1/me/record/").status_code == 403
