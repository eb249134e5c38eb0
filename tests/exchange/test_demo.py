"""`make run`'s FHIR demo: the README's curl examples work against the demo clinic."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from exchange.management.commands.seed_fhir_demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from exchange.models import ApiClient
from patients.models import DisclosureConsent, Patient

pytestmark = pytest.mark.django_db


def test_the_demo_hospital_reads_the_demo_patient_and_a_second_run_changes_nothing():
    call_command("seed_demo", "--no-progress", "--patients", "3")
    call_command("seed_fhir_demo")
    call_command("seed_fhir_demo")
    assert ApiClient.objects.filter(client_id=DEMO_CLIENT_ID).count() == 1
    assert DisclosureConsent.objects.count() == 1
    api = APIClient()
    token = api.post(
        "/fhir/R4/auth/token",
        {"grant_type": "client_credentials", "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET},
        format="multipart",
    ).json()["access_token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    demo = Patient.objects.get(mrn="DEMO-0001")
    bundle = api.get("/fhir/R4/Patient").json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(demo.public_id)]
    assert api.get("/fhir/R4/EpisodeOfCare", {"patient": str(demo.public_id)}).json()["total"] >= 1
