"""Who is reading, and which patients they may read: staff by their sites, API clients by Part 2 consent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from clinic import access
from exchange.models import ApiClient
from patients.models import DisclosureConsent, Patient


@dataclass(frozen=True)
class ClientPrincipal:
    """What ``request.user`` is for a call authenticated with an API client's token.

    It answers the questions Django and DRF ask of a user, and ``clinic.access``
    gives it no role: it reaches patient data only through ``consents_in_force``.
    """

    client: ApiClient

    is_api_client = True
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def get_username(self) -> str:
        return f"{self.client.name} (API client)"[:150]

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def __str__(self) -> str:
        return self.get_username()


@dataclass(frozen=True)
class Reader:
    """The caller of a FHIR request: a staff user, a patient (their own record only) or an API client."""

    user: object | None = None
    client: ApiClient | None = None

    @property
    def is_client(self) -> bool:
        return self.client is not None


def reader_of(user) -> Reader:
    if getattr(user, "is_api_client", False):
        return Reader(client=user.client)
    return Reader(user=user)


def consents_in_force(client: ApiClient, *, at: dt.datetime, information: str | None = None) -> QuerySet:
    """Part 2 consents in force at ``at`` that name the client's recipient (and cover ``information``)."""
    consents = DisclosureConsent.objects.filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gt=at),
        recipient__iexact=client.recipient.strip(),
        given_at__lte=at,
        expires_at__gt=at,
    )
    if information is not None:
        consents = consents.filter(information_types__contains=[information])
    return consents


def readable_patients(reader: Reader, *, at: dt.datetime, information: str | None) -> QuerySet:
    """The patients whose data of kind ``information`` the reader may receive, as a queryset of Patient."""
    if reader.is_client:
        return Patient.objects.filter(
            pk__in=consents_in_force(reader.client, at=at, information=information).values("patient_id")
        )
    return access.visible_patients(reader.user)


def consent_for_each(
    client: ApiClient, patient_ids: list[int], *, at: dt.datetime, information: str
) -> dict[int, object]:
    """For the audit trail: the consent each disclosure relied on (the latest in force), by patient id. One query."""
    rows = (
        consents_in_force(client, at=at, information=information)
        .filter(patient_id__in=patient_ids)
        .order_by("patient_id", "-given_at")
        .distinct("patient_id")
        .values_list("patient_id", "public_id")
    )
    return dict(rows)
