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


# --- the usual request in one statement (patients.selectors.staff_patient_page) ---------------------


def _orm_page(user, *, page: int, size: int) -> tuple[list[dict], int]:
    from patients import selectors
    from patients.staff_api import patient_as_listed

    scoped = access.scope_queryset(Patient.objects.all(), user=user)
    rows = list(selectors.patient_rows(scoped)[(page - 1) * size : page * size])
    return [patient_as_listed(row) for row in rows], scoped.count()


@pytest.mark.parametrize("size", [2, 3, 100])
def test_the_unfiltered_list_answers_as_the_orm_scope_and_count(world, api, site_clinician, other_site, size):
    """Registered at the caller's site, or placed in its programs though registered elsewhere: both listed;
    a patient of another site only is not. Every page, the count and the links as the ORM path gives them."""
    from programs import services as journey

    placed_here = PatientFactory(registered_site=other_site, legal_last_name="Aaronson")
    journey.enroll_in_iop(
        patient=placed_here, program=world.iop, start_on=world.enrollment.start_on, enrolled_by=site_clinician
    )
    elsewhere = PatientFactory(registered_site=other_site, legal_last_name="Abbott")
    PatientFactory(
        registered_site=world.site, legal_last_name="Rivera", legal_first_name="Alex"
    )  # a namesake: the id decides
    api.force_authenticate(site_clinician)

    page, seen = 1, []
    while True:
        answer = api.get("/api/v1/patients/", {"page_size": size, "page": page}).json()
        expected_rows, expected_count = _orm_page(site_clinician, page=page, size=size)
        assert answer["results"] == expected_rows and answer["count"] == expected_count
        assert (answer["next"] is None) == (page * size >= expected_count)
        assert (answer["previous"] is None) == (page == 1)
        seen += [row["id"] for row in answer["results"]]
        if answer["next"] is None:
            break
        page += 1
    assert str(placed_here.public_id) in seen and str(elsewhere.public_id) not in seen
    assert len(seen) == len(set(seen)) == expected_count
    # Past the last page: the same 404 as before.
    assert api.get("/api/v1/patients/", {"page_size": size, "page": page + 1}).status_code == 404


def test_the_unfiltered_list_costs_three_queries(world, api, site_clinician):
    from django.test.utils import CaptureQueriesContext
    from rest_framework_simplejwt.tokens import RefreshToken

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(site_clinician).access_token}")
    api.get("/api/v1/patients/")
    with CaptureQueriesContext(connection) as captured:
        assert api.get("/api/v1/patients/").json()["count"] >= 4
    assert [q["sql"].split(None, 1)[0].upper() for q in captured] == ["SELECT", "WITH", "INSERT"]
