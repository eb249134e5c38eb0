"""What one audit row holds, and who reads the trail (mutation testing, issue 18)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from clinic import audit
from clinic.models import AuditAction, AuditCategory, AuditEvent
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def _request(user=None, **meta):
    request = RequestFactory().get("/admin/patients/patient/", **meta)
    request.user = user if user is not None else AnonymousUser()
    request.request_id = "req-12345678"
    return request


def test_one_row_per_distinct_patient_with_who_where_and_what(site_clinician, patient, other_patient):
    request = _request(site_clinician, HTTP_USER_AGENT="Firefox", REMOTE_ADDR="10.1.2.3")
    events = audit.record(
        request,
        action=AuditAction.VIEW,
        category=AuditCategory.DEMOGRAPHICS,
        patients=[patient, other_patient.pk, patient, None],
        obj=patient,
        detail="search=name",
    )
    rows = list(AuditEvent.objects.order_by("patient_id"))
    assert [r.patient_id for r in rows] == sorted([patient.pk, other_patient.pk]) == [e.patient_id for e in events]
    row = rows[0]
    assert (row.user, row.username, row.role) == (site_clinician, site_clinician.username, "clinician")
    assert (row.ip_address, row.user_agent, row.path, row.request_id) == (
        "10.1.2.3",
        "Firefox",
        "/admin/patients/patient/",
        "req-12345678",
    )
    assert (row.action, row.category, row.detail) == (AuditAction.VIEW, AuditCategory.DEMOGRAPHICS, "search=name")
    assert (row.object_type, row.object_id) == ("patients.patient", str(patient.public_id))


def test_an_access_about_no_patient_is_one_row_without_one(site_clinician):
    [event] = audit.record(_request(site_clinician), action=AuditAction.LOGIN)
    assert event.patient_id is None and AuditEvent.objects.get().patient_id is None


def test_long_values_are_cut_to_the_columns_and_nuls_dropped(db):
    audit.record(
        _request(HTTP_USER_AGENT="A\x00" + "a" * 400),
        action=AuditAction.LOGIN_FAILED,
        username="u" * 200,
        detail="d" * 400,
        path="/p" + "x" * 400,
    )
    row = AuditEvent.objects.get()
    assert row.username == "u" * 150 and row.user is None and row.role == ""
    assert len(row.user_agent) == 299 and "\x00" not in row.user_agent  # cut to 300, then the NUL dropped
    assert row.detail == "d" * 300 and len(row.path) == 300


def test_an_anonymous_caller_is_recorded_by_the_name_and_label_given(site_clinician, patient):
    audit.record(
        _request(site_clinician),
        action=AuditAction.VIEW,
        patients=[patient],
        anonymous=True,
        username="partner-ehr",
        role_label="api client",
    )
    row = AuditEvent.objects.get()
    assert (row.user, row.username, row.role) == (None, "partner-ehr", "api client")


def test_outside_a_request_the_row_is_written_at_once_with_the_user_given(site_clinician, patient):
    audit.record(None, action=AuditAction.VIEW, patients=[patient], user=site_clinician)
    row = AuditEvent.objects.get()
    assert (row.user, row.path, row.ip_address, row.request_id, row.user_agent) == (site_clinician, "", None, "", "")


def test_inside_a_request_rows_wait_for_the_flush(site_clinician, patient):
    request = _request(site_clinician)
    setattr(request, audit._BUFFER, [])
    audit.record(request, action=AuditAction.VIEW, patients=[patient])
    assert not AuditEvent.objects.exists()
    assert audit.flush(request) == 1
    assert AuditEvent.objects.count() == 1
    assert audit.flush(request) == 0 and AuditEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("proxies", "forwarded", "ip"),
    [
        (0, "1.1.1.1", "10.0.0.9"),  # no trusted proxy: the header is the caller's word, not used
        (1, "1.1.1.1, 2.2.2.2", "2.2.2.2"),  # the entry our one proxy added
        (2, "1.1.1.1, 2.2.2.2", "1.1.1.1"),
        (2, "2.2.2.2", "10.0.0.9"),  # fewer entries than proxies: not trustworthy
        (1, " , ", "10.0.0.9"),
    ],
)
def test_client_ip_trusts_only_what_our_proxies_added(settings, proxies, forwarded, ip):
    settings.CLINIC_TRUSTED_PROXY_COUNT = proxies
    assert audit.client_ip(_request(REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)) == ip


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [("abcdefgh", True), ("a" * 64, True), ("abcdefg", False), ("a" * 65, False), ("abc def gh", False)],
)
def test_a_callers_request_id_is_kept_only_when_it_looks_like_one(client, incoming, kept):
    response = client.get("/admin/login/", HTTP_X_REQUEST_ID=incoming)
    assert (response["X-Request-ID"] == incoming) is kept
    assert len(response["X-Request-ID"]) in (len(incoming), 32)


def test_only_program_admins_and_superusers_read_the_trail(program_admin, site_clinician, superuser, site, patient):
    patient.registered_site = site
    patient.save()
    elsewhere = PatientFactory()
    audit.record(None, action=AuditAction.VIEW, patients=[patient, elsewhere], user=site_clinician)
    audit.record(None, action=AuditAction.LOGIN, user=site_clinician)  # a colleague's login
    audit.record(None, action=AuditAction.LOGIN, user=UserFactory())  # someone else's
    assert audit.visible_events(superuser).count() == 4
    assert audit.visible_events(site_clinician).count() == 0
    mine = audit.visible_events(program_admin)
    assert {(e.patient_id, e.action) for e in mine} == {(patient.pk, "view"), (None, "login")}
    assert all(e.user == site_clinician for e in mine)


def test_access_summary_counts_each_persons_actions(site_clinician, front_desk, patient):
    for _ in range(3):
        audit.record(None, action=AuditAction.VIEW, patients=[patient], user=site_clinician)
    audit.record(None, action=AuditAction.VIEW, patients=[patient], user=front_desk)
    summary = {(row["username"], row["action"]): row["times"] for row in audit.access_summary(patient=patient)}
    assert summary == {(site_clinician.username, "view"): 3, (front_desk.username, "view"): 1}
    assert audit.access_summary(patient=patient)[0]["username"] == front_desk.username  # the latest first
    assert audit.access_report(patient=patient).first().user == front_desk
