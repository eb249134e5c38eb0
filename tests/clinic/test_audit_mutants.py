"""What one audit row holds, and who reads the trail (mutation testing, issue 18)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
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


# --- What the trail's readers rely on (second mutation pass) --------------------------------------


def test_a_request_without_a_user_or_headers_is_recorded_with_empty_fields(db):
    request = RequestFactory().get("/admin/login/")  # before any middleware: no user, id, agent or buffer
    [event] = audit.record(request, action=AuditAction.LOGIN_FAILED)
    row = AuditEvent.objects.get()
    assert (row.user, row.username, row.role, row.category, row.detail) == (None, "", "", "", "")
    assert (row.user_agent, row.request_id, row.object_type, row.object_id) == ("", "", "", "")
    assert (row.path, row.ip_address) == ("/admin/login/", "127.0.0.1")
    assert (event.pk, event.action, event.path, event.username) == (row.pk, "login_failed", "/admin/login/", "")


def test_the_events_returned_carry_the_user_and_every_field_written(site_clinician, patient):
    [event] = audit.record(
        _request(site_clinician, HTTP_USER_AGENT="Firefox"),
        action=AuditAction.VIEW,
        category=AuditCategory.DEMOGRAPHICS,
        patients=[patient],
        detail="fields=phone",
    )
    row = AuditEvent.objects.get()
    assert event.user == site_clinician
    names = ["pk", "at", "username", "role", "ip_address", "user_agent", "action", "category", "patient_id",
             "object_type", "object_id", "path", "request_id", "detail"]  # fmt: skip
    assert [getattr(event, n) for n in names] == [getattr(row, n) for n in names]


def test_an_object_without_a_public_id_is_named_by_its_primary_key(site_clinician, front_desk):
    assert not hasattr(front_desk, "public_id")
    audit.record(None, action=AuditAction.CHANGE, obj=front_desk, user=site_clinician)
    row = AuditEvent.objects.get()
    assert (row.object_type, row.object_id) == (front_desk._meta.label_lower, str(front_desk.pk))


def test_an_object_not_saved_has_no_id_to_record(site_clinician):
    draft = UserFactory.build()
    audit.record(None, action=AuditAction.CHANGE, obj=draft, user=site_clinician)
    assert AuditEvent.objects.values_list("object_type", "object_id").get() == (draft._meta.label_lower, "")


def test_client_ip_without_a_forwarded_header_is_the_sockets(settings):
    settings.CLINIC_TRUSTED_PROXY_COUNT = 1
    assert audit.client_ip(_request(REMOTE_ADDR="10.0.0.9")) == "10.0.0.9"


def test_several_accesses_in_one_request_keep_each_ones_values(site_clinician, patient, other_patient):
    import datetime as dt

    import time_machine

    request = _request(site_clinician)
    setattr(request, audit._BUFFER, [])
    # At one instant (a fast request): the accesses differ only in what was done, to whom, and why.
    with time_machine.travel(dt.datetime(2027, 3, 1, 15, tzinfo=dt.UTC), tick=False):
        for action, who, detail in [
            ("view", patient, ""),
            ("export", other_patient, ""),
            ("view", other_patient, "again"),
        ]:
            audit.record(request, action=action, category=AuditCategory.DEMOGRAPHICS, patients=[who], detail=detail)
    assert audit.flush(request) == 3
    rows = AuditEvent.objects.order_by("id").values_list("action", "patient_id", "detail", "at")
    at = dt.datetime(2027, 3, 1, 15, tzinfo=dt.UTC)
    assert list(rows) == [
        ("view", patient.pk, "", at),
        ("export", other_patient.pk, "", at),
        ("view", other_patient.pk, "again", at),
    ]


def test_flush_of_a_request_that_collected_nothing_writes_nothing(db):
    assert audit.flush(RequestFactory().get("/")) == 0
    assert not AuditEvent.objects.exists()


def test_after_a_flush_the_next_rows_wait_for_the_next_flush(site_clinician, patient):
    request = _request(site_clinician)
    setattr(request, audit._BUFFER, [])
    audit.record(request, action=AuditAction.VIEW, patients=[patient])
    assert audit.flush(request) == 1
    audit.record(request, action=AuditAction.EXPORT, patients=[patient])
    assert AuditEvent.objects.count() == 1  # collected, not written at once
    assert audit.flush(request) == 1 and AuditEvent.objects.count() == 2


def test_the_middleware_collects_the_views_rows_and_logs_under_the_request_id(site_clinician, patient):
    from clinic.logfilters import current_request_id

    seen = {}

    def view(request):
        audit.record(request, action=AuditAction.VIEW, patients=[patient])
        seen["written during the view"] = AuditEvent.objects.count()
        seen["log id"] = current_request_id.get()
        return HttpResponse("ok")

    request = RequestFactory().get("/x/", HTTP_X_REQUEST_ID="req-abcdefgh")
    request.user = site_clinician
    response = audit.AuditMiddleware(view)(request)
    assert seen == {"written during the view": 0, "log id": "req-abcdefgh"}
    assert response["X-Request-ID"] == "req-abcdefgh"
    assert AuditEvent.objects.values_list("request_id", "patient_id").get() == ("req-abcdefgh", patient.pk)
    assert current_request_id.get() == "-"


def test_logins_logouts_and_failed_logins_are_recorded_with_where_they_came_from(client, site_clinician):
    site_clinician.set_password("a-long-passphrase-1")
    site_clinician.save()
    client.post("/admin/login/", {"username": site_clinician.username, "password": "wrong"}, REMOTE_ADDR="10.0.0.7")
    client.post("/admin/login/", {"username": site_clinician.username, "password": "a-long-passphrase-1"},
                REMOTE_ADDR="10.0.0.7")  # fmt: skip
    client.post("/admin/logout/", REMOTE_ADDR="10.0.0.7")
    rows = AuditEvent.objects.order_by("id").values_list("action", "user", "username", "path", "ip_address")
    assert list(rows) == [
        ("login_failed", None, site_clinician.username, "/admin/login/", "10.0.0.7"),
        ("login", site_clinician.pk, site_clinician.username, "/admin/login/", "10.0.0.7"),
        ("logout", site_clinician.pk, site_clinician.username, "/admin/logout/", "10.0.0.7"),
    ]


def test_a_failed_login_without_a_username_records_an_empty_name(db):
    from django.contrib.auth.signals import user_login_failed

    user_login_failed.send(sender=__name__, credentials={"password": "********"}, request=_request())
    assert AuditEvent.objects.values_list("action", "username").get() == ("login_failed", "")


def test_the_access_report_is_newest_first_and_by_id_within_one_instant(site_clinician, patient):
    import datetime as dt

    import time_machine

    with time_machine.travel(dt.datetime(2027, 3, 2, 15, tzinfo=dt.UTC), tick=False):
        later = audit.record(None, action=AuditAction.VIEW, patients=[patient], user=site_clinician)[0]
    with time_machine.travel(dt.datetime(2027, 3, 1, 15, tzinfo=dt.UTC), tick=False):
        earlier = audit.record(None, action=AuditAction.VIEW, patients=[patient], user=site_clinician)[0]
        same_instant = audit.record(None, action=AuditAction.EXPORT, patients=[patient], user=site_clinician)[0]
    assert [e.pk for e in audit.access_report(patient=patient)] == [later.pk, same_instant.pk, earlier.pk]


def test_access_summary_rows_name_the_person_role_and_span(site_clinician, patient):
    import datetime as dt

    import time_machine

    first, last = dt.datetime(2027, 3, 1, 15, tzinfo=dt.UTC), dt.datetime(2027, 3, 4, 9, tzinfo=dt.UTC)
    for instant in (first, last):
        with time_machine.travel(instant, tick=False):
            audit.record(None, action=AuditAction.VIEW, patients=[patient], user=site_clinician)
    assert audit.access_summary(patient=patient) == [
        {"user_id": site_clinician.pk, "username": site_clinician.username, "role": "clinician", "action": "view",
         "times": 2, "first_at": first, "last_at": last},
    ]  # fmt: skip


def test_search_ids_finds_patients_by_mrn_last_name_or_first_and_last(db):
    from patients.models import Patient

    by_mrn = PatientFactory(mrn="MRN-4711")
    van_dyke = PatientFactory(legal_first_name="Ann", legal_last_name="Van Dyke")
    named = PatientFactory(legal_first_name="Van", legal_last_name="Dyke")
    PatientFactory(legal_first_name="Other", legal_last_name="Dyke")
    PatientFactory(legal_first_name="Van", legal_last_name="Smith")
    de_la_cruz = PatientFactory(legal_first_name="Rosa", legal_last_name="De la Cruz")
    assert audit.search_ids("  mrn-4711 ") == ([by_mrn.pk], [])
    assert sorted(audit.search_ids("van dyke")[0]) == sorted([van_dyke.pk, named.pk])
    assert audit.search_ids("rosa de la cruz") == ([de_la_cruz.pk], [])
    assert audit.search_ids("nobody") == ([], [])
    assert Patient.objects.count() == 6


def test_search_ids_finds_users_by_username_and_at_most_200_patients(db):
    jdoe = UserFactory(username="jdoe")
    assert audit.search_ids("JDOE") == ([], [jdoe.pk])
    PatientFactory.create_batch(201, legal_last_name="Many")
    assert [len(ids) for ids in audit.search_ids("many")] == [200, 0]
