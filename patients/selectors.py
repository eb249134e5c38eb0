"""Reads for patients: consent as it stands now (checked at send and export time)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

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
