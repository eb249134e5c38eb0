"""Reads for patients: consent as it stands now (checked at send and export time)."""

from __future__ import annotations

import datetime as dt

from django.db.models import BooleanField, CharField, ExpressionWrapper, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Concat, NullIf

from clinic import clock
from patients.models import DisclosureConsent, Patient


def has_messaging_consent(*, patient_id: int) -> bool:
    """Consent as committed right now, not as a loaded object remembers it: a revocation counts at once."""
    return Patient.objects.filter(
        pk=patient_id, messaging_consent_given_at__isnull=False, messaging_consent_revoked_at__isnull=True
    ).exists()


def disclosure_consents_in_force(*, patient: Patient, at: dt.datetime | None = None) -> QuerySet[DisclosureConsent]:
    """Part 2 consents that allow a disclosure at ``at`` (now by default)."""
    at = at or clock.now()
    return DisclosureConsent.objects.filter(patient=patient, given_at__lte=at, expires_at__gt=at).filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gt=at)
    )


# What the staff API shows of a patient, read as columns (the rest is computed in patient_rows).
ROW_FIELDS = [
    "id", "public_id", "mrn", "legal_first_name", "legal_last_name", "preferred_name", "date_of_birth", "phone",
    "email", "time_zone", "sms_allowed", "email_allowed", "push_allowed", "confidential_communication",
    "confidential_instructions", "created_at", "updated_at", "preferred_language",
]  # fmt: skip


def patient_rows(patients: QuerySet[Patient]) -> QuerySet:
    """``patients`` as the staff API shows them: one dict per patient, in the queryset's order.

    A ``values()`` query with the two computed fields worked out by PostgreSQL, so a page of 50 builds
    no model instances (issue 17); ``patients.staff_api.patient_as_listed`` writes each as the API shows it.
    """
    first = Coalesce(NullIf("preferred_name", Value("")), "legal_first_name")
    return patients.values(
        *ROW_FIELDS,
        "registered_site__public_id",
        display_name=Concat(first, Value(" "), "legal_last_name", output_field=CharField()),
        has_messaging_consent=ExpressionWrapper(
            Q(messaging_consent_given_at__isnull=False, messaging_consent_revoked_at__isnull=True),
            output_field=BooleanField(),
        ),
    )
