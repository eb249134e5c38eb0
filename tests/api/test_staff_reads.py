"""Issue 17: the staff patient list reads dicts (as its detail reads) and its scope is answered through an index."""

from __future__ import annotations

import pytest
from django.db import connection

from clinic import access
from patients.models import Patient
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_a_listed_patient_reads_exactly_as_their_detail(world, api, site_clinician):
    # The list is built from values() rows, the detail from a Patient instance: one serializer, one answer.
    PatientFactory(registered_site=world.site, preferred_name="Lex", legal_last_name="Quinn")
    api.force_authenticate(site_clinician)
    rows = api.get("/api/v1/patients/", {"page_size": 100}).json()["results"]
    assert len(rows) >= 5
    for row in rows:
        assert row == api.get(f"/api/v1/patients/{row['id']}/").json()
    assert {"Lex Quinn", "Nia Okafor"} <= {row["display_name"] for row in rows}  # preferred name, or the legal one


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # Tables this small are cheaper to scan, so the planner would scan whatever the query; with scans
        # priced out it shows whether an index can answer the query at all (the OR of the two site
        # conditions this replaced could not: it stayed a sequential scan of patients_patient).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = on")
    return plan


def _unbounded_reads_of_patients(plan: str) -> list[str]:
    """Scans of patients_patient that read the whole table: a Seq Scan, or an index scan with no condition."""
    lines = plan.splitlines()
    unbounded = []
    for index, line in enumerate(lines):
        if " on patients_patient" not in line:
            continue
        details = []
        for following in lines[index + 1 :]:
            if "->" in following or not following.startswith(" "):
                break
            details.append(following.strip())
        if "Seq Scan" in line or not any(d.startswith(("Index Cond", "Recheck Cond")) for d in details):
            unbounded.append(line.strip())
    return unbounded


def test_the_staff_scope_of_patients_is_answered_through_indexes(world, site_clinician):
    page = access.scope_queryset(Patient.objects.all(), user=site_clinician).order_by("legal_last_name", "id")[:50]
    plan = _plan(page)
    assert _unbounded_reads_of_patients(plan) == [], plan
    assert "patients_patient_pkey" in plan, plan
    # And it is still the right set: registered at the clinician's site or placed in its programs.
    assert set(access.visible_patients(site_clinician)) == set(Patient.objects.filter(registered_site=world.site)) | {
        world.patient,
        world.discharged_patient,
        world.resident,
    }
