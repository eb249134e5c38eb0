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


# The staff list's usual request (no filter) for a member of some sites: a page of patient_rows over
# the patients clinic.access lets them see (registered at their sites, or placed in their sites'
# programs), and the total, in one statement. Compiling the ORM's count and page queries cost the
# request more than running them (issue 17); tests/api/test_staff_patient_page.py holds the two equal.
STAFF_PATIENT_PAGE_SQL = f"""
WITH sites AS (SELECT site_id FROM clinic_sitemembership WHERE user_id = %(user)s),
visible AS (
    SELECT id FROM patients_patient WHERE registered_site_id IN (SELECT site_id FROM sites)
    UNION
    SELECT pl.patient_id
      FROM programs_placement pl JOIN programs_program pr ON pr.id = pl.program_id
     WHERE pl.cancelled_at IS NULL AND pr.site_id IN (SELECT site_id FROM sites)
)
SELECT {", ".join(f"p.{name}" for name in ROW_FIELDS)}, si.public_id AS registered_site__public_id,
       COALESCE(NULLIF(p.preferred_name, ''), p.legal_first_name) || ' ' || p.legal_last_name AS display_name,
       (p.messaging_consent_given_at IS NOT NULL AND p.messaging_consent_revoked_at IS NULL) AS has_messaging_consent,
       count(*) OVER () AS total
  FROM patients_patient p
  LEFT JOIN programs_site si ON si.id = p.registered_site_id
 WHERE p.id = ANY(ARRAY(SELECT id FROM visible))
 ORDER BY p.legal_last_name, p.legal_first_name, p.id
 LIMIT %(limit)s OFFSET %(offset)s
"""


def staff_patient_page(*, user_id: int, limit: int, offset: int) -> tuple[list[dict], int]:
    """Rows ``offset`` to ``offset + limit`` of the patients a site member sees, as patient_rows writes them,
    and how many they see in all (0 when the page is past the end: ask ``patient_rows`` then)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(STAFF_PATIENT_PAGE_SQL, {"user": user_id, "limit": limit, "offset": offset})
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    total = rows[0]["total"] if rows else 0
    for row in rows:
        del row["total"]
    return rows, total
