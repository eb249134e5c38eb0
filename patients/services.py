"""Writes for patients: registration, contact details, messaging consent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic import clock
from clinic.db import constraint_name
from clinic.errors import Conflict, InvalidInput
from clinic.versioning import check_version
from patients.models import ConsentMeans, DisclosedInformation, DisclosureConsent, MessagingConsentEvent, Patient
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
        "preferred_language",
        "sms_allowed",
        "email_allowed",
        "push_allowed",
        "quiet_hours_start",
        "quiet_hours_end",
        "confidential_communication",
        "confidential_instructions",
        "registered_site",
    }
)


def _validated(patient: Patient, *, phone_region: str | None) -> Patient:
    if patient.phone:
        try:
            patient.phone = normalize_phone(patient.phone, region=phone_region)
        except ValidationError as error:
            raise InvalidInput(error.messages[0], field="phone") from None
    if patient.date_of_birth and patient.date_of_birth > clock.today():
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


# --- Consent (issue 7) ------------------------------------------------------------------
# The Patient row holds the current messaging consent (what reminders read at
# send time); MessagingConsentEvent holds its append-only history. Both change in
# one transaction under the patient's row lock, so they cannot disagree.


def give_messaging_consent(
    *,
    patient: Patient,
    means: ConsentMeans | str = ConsentMeans.NOT_RECORDED,
    recorded_by: AbstractBaseUser | None = None,
) -> Patient:
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        now = clock.now()
        patient.messaging_consent_given_at = now
        patient.messaging_consent_revoked_at = None
        patient.save(update_fields=["messaging_consent_given_at", "messaging_consent_revoked_at", "updated_at"])
        MessagingConsentEvent.objects.create(
            patient=patient, kind=MessagingConsentEvent.Kind.GIVEN, means=means, at=now, recorded_by=recorded_by
        )
        return patient


def revoke_messaging_consent(
    *,
    patient: Patient,
    means: ConsentMeans | str = ConsentMeans.NOT_RECORDED,
    recorded_by: AbstractBaseUser | None = None,
) -> Patient:
    """Takes effect at once: reminders re-read consent at send time (``patients.selectors``)."""
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        if patient.has_messaging_consent:
            now = clock.now()
            patient.messaging_consent_revoked_at = now
            patient.save(update_fields=["messaging_consent_revoked_at", "updated_at"])
            MessagingConsentEvent.objects.create(
                patient=patient, kind=MessagingConsentEvent.Kind.REVOKED, means=means, at=now, recorded_by=recorded_by
            )
        return patient


def check_disclosure_consent(
    *,
    recipient: str,
    purpose: str,
    information: str,
    expires_at: dt.datetime,
    means: ConsentMeans | str,
    given_at: dt.datetime,
    information_types: list[str] | tuple[str, ...] = (),
) -> None:
    """Raise InvalidInput (naming the field) if these would not make a valid Part 2 consent."""
    for field, value in (("recipient", recipient), ("purpose", purpose), ("information", information)):
        if not value or not value.strip():
            raise InvalidInput(f"A disclosure consent must state its {field}.", field=field)
    if expires_at <= given_at:
        raise InvalidInput("The consent must expire after it is given.", field="expires_at")
    if means not in (ConsentMeans.WRITTEN, ConsentMeans.APP):
        # Part 2 consent is a signed (paper or electronic) form, never verbal.
        raise InvalidInput("A Part 2 disclosure consent must be written or signed in the app.", field="means")
    unknown = sorted(set(information_types) - set(DisclosedInformation.values))
    if unknown:
        raise InvalidInput(
            f"Unknown kind of information {unknown[0]!r}; choose from {', '.join(DisclosedInformation.values)}.",
            field="information_types",
        )


def record_disclosure_consent(
    *,
    patient: Patient,
    recipient: str,
    purpose: str,
    information: str,
    expires_at: dt.datetime,
    means: ConsentMeans | str,
    recorded_by: AbstractBaseUser,
    given_at: dt.datetime | None = None,
    information_types: list[str] | tuple[str, ...] = (),
) -> DisclosureConsent:
    """Part 2 consent: to whom, why, what, and until when. All four are required by the rule.

    ``information_types`` (``DisclosedInformation``) says the same "what" in a form the FHIR
    API enforces for the recipient's client; without them no record reaches that client.
    """
    given_at = given_at or clock.now()
    check_disclosure_consent(
        recipient=recipient,
        purpose=purpose,
        information=information,
        expires_at=expires_at,
        means=means,
        given_at=given_at,
        information_types=information_types,
    )
    return DisclosureConsent.objects.create(
        patient=patient,
        recipient=recipient.strip(),
        purpose=purpose.strip(),
        information=information.strip(),
        information_types=sorted(set(information_types)),
        expires_at=expires_at,
        means=means,
        given_at=given_at,
        recorded_by=recorded_by,
    )


def revoke_disclosure_consent(
    *, consent: DisclosureConsent, means: ConsentMeans | str, revoked_by: AbstractBaseUser | None
) -> DisclosureConsent:
    """Takes effect at once; revoking twice keeps the first revocation."""
    with transaction.atomic():
        consent = DisclosureConsent.objects.select_for_update().get(pk=consent.pk)
        if consent.revoked_at is None:
            consent.revoked_at = max(clock.now(), consent.given_at)
            consent.revoked_means = means
            consent.revoked_by = revoked_by
            consent.save(update_fields=["revoked_at", "revoked_means", "revoked_by"])
        return consent
