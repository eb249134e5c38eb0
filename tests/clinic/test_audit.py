"""The audit trail: append-only in PostgreSQL, cheap for lists, complete for logins, audited export."""

import csv
import io

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic import audit
from clinic.models import AuditAction, AuditCategory, AuditEvent
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

PATIENT_LIST = "admin:patients_patient_changelist"


def _inserts_into_audit(queries) -> int:
    return sum(1 for q in queries if q["sql"].startswith('INSERT INTO "clinic_auditevent"'))


@pytest.fixture
def event(patient, site, site_clinician):
    patient.registered_site = site
    patient.save()
    return audit.record(
        None, action=AuditAction.VIEW, category=AuditCategory.DEMOGRAPHICS, patients=[patient], user=site_clinician
    )[0]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE clinic_auditevent SET username = 'someone-else' WHERE id = %s",
        "DELETE FROM clinic_auditevent WHERE id = %s",
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_delete_audit_rows(event, sql):
    with (
        pytest.raises(IntegrityError, match="cannot be changed or deleted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    event.refresh_from_db()
    assert event.username == "marcus.clinician"


def test_nobody_can_add_change_or_delete_audit_rows_in_the_admin(client, superuser, event):
    client.force_login(superuser)
    assert client.get(reverse("admin:clinic_auditevent_add")).status_code == 403
    assert client.get(reverse("admin:clinic_auditevent_delete", args=[event.pk])).status_code == 403
    change = client.post(reverse("admin:clinic_auditevent_change", args=[event.pk]), {"username": "x"})
    assert change.status_code == 403
    event.refresh_from_db()
    assert event.username == "marcus.clinician"


def _list_cost(client, n: int) -> tuple[int, int, int]:
    PatientFactory.create_batch(n, registered_site=client.site)
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(PATIENT_LIST))
    assert response.status_code == 200
    return len(queries), _inserts_into_audit(queries.captured_queries), AuditEvent.objects.count() - before


def test_a_list_of_50_patients_is_audited_in_one_insert_and_a_constant_number_of_queries(client, site, site_clinician):
    client.force_login(site_clinician)
    client.site = site
    queries_for_10, inserts_10, rows_10 = _list_cost(client, 10)
    queries_for_50, inserts_50, rows_50 = _list_cost(client, 40)  # 50 in all now

    assert (rows_10, rows_50) == (10, 50)
    assert inserts_10 == inserts_50 == 1
    assert queries_for_50 == queries_for_10 <= 20
    rows = AuditEvent.objects.filter(action=AuditAction.VIEW).order_by("-id")[:50]
    assert {e.category for e in rows} == {AuditCategory.DEMOGRAPHICS}
    assert len({e.request_id for e in rows}) == 1 and {e.username for e in rows} == {"marcus.clinician"}


def test_a_change_page_records_who_what_whom_and_from_where(client, site, site_clinician):
    patient = PatientFactory(registered_site=site)
    client.force_login(site_clinician)
    response = client.get(
        reverse("admin:patients_patient_change", args=[patient.pk]),
        headers={"user-agent": "Tablet/1.0", "x-request-id": "req-1234-abcd"},
        REMOTE_ADDR="10.1.2.3",
    )
    assert response["X-Request-ID"] == "req-1234-abcd"
    event = AuditEvent.objects.get(patient=patient)
    assert (event.action, event.category, event.role) == ("view", "demographics", "clinician")
    assert (event.ip_address, event.user_agent, event.request_id) == ("10.1.2.3", "Tablet/1.0", "req-1234-abcd")
    assert event.object_type == "patients.patient" and event.object_id == str(patient.public_id)
    assert event.at.tzinfo is not None


def test_a_malformed_request_id_is_replaced(client):
    response = client.get("/admin/login/", headers={"x-request-id": "bad id with spaces"})
    assert response["X-Request-ID"] != "bad id with spaces" and len(response["X-Request-ID"]) == 32


def test_login_logout_and_failed_login_are_recorded(client):
    UserFactory(username="sam.staff")
    client.post("/admin/login/", {"username": "sam.staff", "password": "wrong-password-1"})
    client.post("/admin/login/", {"username": "sam.staff", "password": "correct-horse-battery-staple"})
    client.post("/admin/logout/")
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "username"))
    assert actions == [("login_failed", "sam.staff"), ("login", "sam.staff"), ("logout", "sam.staff")]


def test_program_admin_exports_the_trail_and_the_export_is_recorded(client, program_admin, site, event):
    client.force_login(program_admin)
    page = client.get(reverse("admin:clinic_auditevent_changelist"))
    assert page.status_code == 200 and "marcus.clinician" in page.content.decode()
    response = client.get(reverse("admin:clinic_auditevent_export"), {"action__exact": "view"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["user"] for r in rows if r["patient_mrn"]] == ["marcus.clinician"]
    export = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert export.username == "priya.programadmin" and export.category == AuditCategory.AUDIT
    assert "action__exact" in export.detail and "rows" in export.detail


def test_only_program_admins_read_or_export_the_trail(client, site_clinician, front_desk, event):
    for user in (site_clinician, front_desk):
        client.force_login(user)
        assert client.get(reverse("admin:clinic_auditevent_changelist")).status_code == 403
        assert client.get(reverse("admin:clinic_auditevent_export")).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_a_program_admin_elsewhere_does_not_see_this_sites_trail(client, other_site, event):
    from clinic.access import Role
    from tests.factories import staff_member

    client.force_login(staff_member(role=Role.PROGRAM_ADMIN, sites=[other_site], username="lake.admin"))
    assert "marcus.clinician" not in client.get(reverse("admin:clinic_auditevent_changelist")).content.decode()


def test_access_report_and_summary(patient, site_clinician, front_desk, other_patient):
    for user in (site_clinician, site_clinician, front_desk):
        audit.record(None, action=AuditAction.VIEW, category=AuditCategory.DEMOGRAPHICS, patients=[patient], user=user)
    audit.record(None, action=AuditAction.VIEW, patients=[other_patient], user=front_desk)
    assert audit.access_report(patient=patient).count() == 3
    summary = {(r["username"], r["action"]): r["times"] for r in audit.access_summary(patient=patient)}
    assert summary == {("marcus.clinician", "view"): 2, ("lena.frontdesk", "view"): 1}


def test_a_nul_in_a_parameter_name_or_user_agent_is_audited_not_a_server_error(site_clinician, site):
    from rest_framework.test import APIClient

    from clinic.models import AuditEvent
    from tests.factories import PatientFactory

    PatientFactory(registered_site=site)  # a patient on the page, so the list writes its audit row
    api = APIClient()
    api.force_authenticate(site_clinician)
    response = api.get("/api/v1/patients/?a%00b=1", HTTP_USER_AGENT="agent\x00x")
    assert response.status_code == 200
    row = AuditEvent.objects.filter(user=site_clinician).latest("id")
    assert "\x00" not in row.detail + row.user_agent + row.path
