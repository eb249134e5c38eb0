"""Writes for patients: registration, contact details, messaging consent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.db import constraint_name
from clinic.errors import Conflict, InvalidInput
from clinic.versioning import check_version
from patients.models import Patient
from patients.validators import normalize_phone

EDITABLE_FIELDS = frozenset(
    {
        "legal_first_name",
        "legal_last_name",
        "preferred_name",
        "date_of_birth",
        "phone",
        "email",
        "time_zone",
        "sms_allowed",
        "email_allowed",
        "push_allowed",
        "quiet_hours_start",
        "quiet_hours_end",
        "confidential_communication",
        "confidential_instructions",
    }
)


def _validated(patient: Patient, *, phone_region: str | None) -> Patient:
    if patient.phone:
        try:
            patient.phone = normalize_phone(patient.phone, region=phone_region)
        except ValidationError as error:
            raise InvalidInput(error.messages[0], field="phone") from None
    if patient.date_of_birth and patient.date_of_birth > timezone.localdate():
        raise InvalidInput("The date of birth is in the future.", field="date_of_birth")
    try:
        patient.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise InvalidInput(messages[0], field=field) from None
    return patient


def _save(patient: Patient, **kwargs: Any) -> Patient:
    try:
        with transaction.atomic():
            patient.save(**kwargs)
    except IntegrityError as error:
        if constraint_name(error) == "patients_patient_mrn_key":
            raise Conflict(f"A patient with MRN {patient.mrn} already exists.", field="mrn") from None
        raise
    return patient


def register_patient(
    *,
    mrn: str,
    legal_first_name: str,
    legal_last_name: str,
    date_of_birth: dt.date,
    phone_region: str | None = None,
    **details: Any,
) -> Patient:
    unknown = set(details) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown patient fields: {', '.join(sorted(unknown))}.")
    patient = Patient(
        mrn=mrn.strip(),
        legal_first_name=legal_first_name.strip(),
        legal_last_name=legal_last_name.strip(),
        date_of_birth=date_of_birth,
        **details,
    )
    return _save(_validated(patient, phone_region=phone_region))


def update_patient(
    *, patient: Patient, phone_region: str | None = None, expected_version: str | None = None, **changes: Any
) -> Patient:
    """Change contact details and preferences; with ``expected_version``, only if nobody changed them since."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        check_version(patient, expected_version)
        for field, value in changes.items():
            setattr(patient, field, value)
        _validated(patient, phone_region=phone_region)
        return _save(patient, update_fields=[*changes, "updated_at"])


def give_messaging_consent(*, patient: Patient) -> Patient:
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        patient.messaging_consent_given_at = timezone.now()
        patient.messaging_consent_revoked_at = None
        patient.save(update_fields=["messaging_consent_given_at", "messaging_consent_revoked_at", "updated_at"])
        return patient


def revoke_messaging_consent(*, patient: Patient) -> Patient:
    """Takes effect at once: reminders check consent at send time."""
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        if patient.messaging_consent_revoked_at is None and patient.messaging_consent_given_at is not None:
            patient.messaging_consent_revoked_at = timezone.now()
            patient.save(update_fields=["messaging_consent_revoked_at", "updated_at"])
        return patient
