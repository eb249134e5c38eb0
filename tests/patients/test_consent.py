"""Consent records: messaging consent with its means and history, Part 2 disclosure consent."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clinic.errors import InvalidInput
from patients import selectors, services
from patients.models import ConsentMeans, MessagingConsentEvent

pytestmark = pytest.mark.django_db


def test_revoking_messaging_consent_takes_effect_at_once_and_is_kept_in_history(patient, front_desk):
    # A reminder task holding an older copy of the patient must still see the revocation.
    stale_copy = type(patient).objects.get(pk=patient.pk)
    assert selectors.has_messaging_consent(patient_id=patient.pk)

    services.revoke_messaging_consent(patient=patient, means=ConsentMeans.TEXT_REPLY, recorded_by=None)

    assert stale_copy.has_messaging_consent  # what the old object remembers...
    assert not selectors.has_messaging_consent(patient_id=patient.pk)  # ...is not what counts at send time
    event = MessagingConsentEvent.objects.get(patient=patient)
    assert (event.kind, event.means) == ("revoked", "text_reply")
    patient.refresh_from_db()
    assert patient.messaging_consent_revoked_at == event.at


def test_giving_consent_again_records_the_means_and_who(patient, front_desk):
    services.revoke_messaging_consent(patient=patient, means=ConsentMeans.VERBAL, recorded_by=front_desk)
    services.revoke_messaging_consent(patient=patient, means=ConsentMeans.VERBAL, recorded_by=front_desk)  # no-op
    patient = services.give_messaging_consent(patient=patient, means=ConsentMeans.WRITTEN, recorded_by=front_desk)
    assert patient.has_messaging_consent
    history = list(MessagingConsentEvent.objects.filter(patient=patient).order_by("at").values_list("kind", "means"))
    assert history == [("revoked", "verbal"), ("given", "written")]


def test_consent_history_cannot_be_rewritten(patient):
    services.revoke_messaging_consent(patient=patient, means=ConsentMeans.APP)
    event = MessagingConsentEvent.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE patients_messagingconsentevent SET kind = 'given' WHERE id = %s", [event.pk])


def _disclosure(patient, user, **overrides):
    data = {
        "patient": patient,
        "recipient": "Dr. Jane Moss, Harbor Family Practice",
        "purpose": "Coordination of care with primary care",
        "information": "Dates of treatment and current medications",
        "expires_at": timezone.now() + dt.timedelta(days=180),
        "means": ConsentMeans.WRITTEN,
        "recorded_by": user,
    }
    return services.record_disclosure_consent(**{**data, **overrides})


def test_a_part_2_consent_is_in_force_until_it_expires_or_is_revoked(patient, site_clinician):
    consent = _disclosure(patient, site_clinician)
    later = timezone.now() + dt.timedelta(days=181)
    assert list(selectors.disclosure_consents_in_force(patient=patient)) == [consent]
    assert not selectors.disclosure_consents_in_force(patient=patient, at=later).exists()

    services.revoke_disclosure_consent(consent=consent, means=ConsentMeans.WRITTEN, revoked_by=site_clinician)

    assert not selectors.disclosure_consents_in_force(patient=patient).exists()
    consent.refresh_from_db()
    assert not consent.in_force_at(timezone.now())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"recipient": "  "}, "recipient"),
        ({"purpose": ""}, "purpose"),
        ({"expires_at": timezone.now() - dt.timedelta(days=1)}, "expires_at"),
        ({"means": ConsentMeans.VERBAL}, "means"),
    ],
)
def test_a_part_2_consent_names_recipient_purpose_expiry_and_is_signed(patient, site_clinician, overrides, field):
    with pytest.raises(InvalidInput) as error:
        _disclosure(patient, site_clinician, **overrides)
    assert error.value.field == field
