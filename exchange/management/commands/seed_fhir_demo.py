"""Demo data for the FHIR API: a registered hospital and one demo patient's Part 2 consent naming it. Idempotent."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clinic import clock
from exchange import services
from exchange.models import ApiClient
from patients import services as patient_services
from patients.models import ConsentMeans, DisclosedInformation, Patient

DEMO_CLIENT_ID = "demo-hospital"
DEMO_CLIENT_SECRET = "demo-fhir-secret-2026"  # demo only; printed by `make run`
DEMO_RECIPIENT = "Demo General Hospital"


class Command(BaseCommand):
    help = "Register a demo hospital as a FHIR API client and record DEMO-0001's consent naming it."

    def handle(self, *args, **options) -> None:
        admin = get_user_model().objects.filter(username="demo.admin").first()
        patient = Patient.objects.filter(mrn="DEMO-0001").first()
        if admin is None or patient is None:
            raise CommandError("Run seed_demo first.")
        if not ApiClient.objects.filter(client_id=DEMO_CLIENT_ID).exists():
            services.register_client(
                name="Demo General Hospital (HIE)",
                recipient=DEMO_RECIPIENT,
                registered_by=admin,
                client_id=DEMO_CLIENT_ID,
                secret=DEMO_CLIENT_SECRET,
            )
        if not patient.disclosure_consents.filter(recipient=DEMO_RECIPIENT).exists():
            now = clock.now()
            patient_services.record_disclosure_consent(
                patient=patient,
                recipient=DEMO_RECIPIENT,
                purpose="Continuity of care with the patient's hospital",
                information="Treatment episodes, levels of care, appointments and the aftercare plan",
                information_types=list(DisclosedInformation.values),
                expires_at=now + dt.timedelta(days=365),
                means=ConsentMeans.WRITTEN,
                recorded_by=admin,
                given_at=now,
            )
        self.stdout.write(
            f"Demo FHIR client: {DEMO_CLIENT_ID} / {DEMO_CLIENT_SECRET} (DEMO-0001 consented to {DEMO_RECIPIENT})"
        )
