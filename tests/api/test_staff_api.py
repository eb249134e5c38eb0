"""Staff endpoints: what they do, and how they refuse (4xx with the error body, never a 500)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import AuditEvent
from scheduling.models import Booking, Session
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_clinician(api, site_clinician):
    api.force_authenticate(site_clinician)
    return api


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


# --- patients -----------------------------------------------------------------------------------------


def test_front_desk_registers_a_patient_at_their_site_and_finds_them(api, front_desk, site):
    api.force_authenticate(front_desk)
    created = api.post(
        "/api/v1/patients/",
        {"mrn": "MRN-77", "registered_site": str(site.public_id), "legal_first_name": "Nia",
         "legal_last_name": "Okafor", "date_of_birth": "1990-02-03", "phone": "+1 (617) 555-0199"},
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["phone"] == "+16175550199"
    found = api.get("/api/v1/patients/", {"q": "okaf"}).json()["results"]
    assert [p["mrn"] for p in found] == ["MRN-77"]
    duplicate = api.post(
        "/api/v1/patients/",
        {"mrn": "MRN-77", "registered_site": str(site.public_id), "legal_first_name": "X",
         "legal_last_name": "Y", "date_of_birth": "1990-02-03"},
    )  # fmt: skip
    assert _error(duplicate, 409)["fields"] == {"mrn": ["A patient with MRN MRN-77 already exists."]}


def test_patching_a_patient_needs_the_current_etag(as_clinician, world):
    url = f"/api/v1/patients/{world.patient.public_id}/"
    assert _error(as_clinician.patch(url, {"preferred_name": "Lex"}), 428)["code"] == "if_match_required"
    etag = as_clinician.get(url)["ETag"]
    changed = as_clinician.patch(url, {"preferred_name": "Lex"}, HTTP_IF_MATCH=etag)
    assert changed.status_code == 200 and changed.json()["preferred_name"] == "Lex"
    stale = as_clinician.patch(url, {"preferred_name": "Al"}, HTTP_IF_MATCH=etag)
    assert _error(stale, 412)["code"] == "version_mismatch"


@pytest.mark.parametrize(
    "body",
    [
        {"date_of_birth": "0001-01-01"},
        {"date_of_birth": "9999-12-31"},
        {"date_of_birth": "not a date"},
        {"phone": "12"},
        {"time_zone": "Mars/Base"},
        {"sms_allowed": "perhaps"},
        ["a", "list"],
    ],
)
def test_bad_patient_input_is_a_400(as_clinician, world, body):
    url = f"/api/v1/patients/{world.patient.public_id}/"
    etag = as_clinician.get(url)["ETag"]
    assert _error(as_clinician.patch(url, body, format="json", HTTP_IF_MATCH=etag), 400)["code"]


def test_unknown_and_malformed_ids_are_404(as_clinician, world):
    for id_ in (uuid.uuid4(), "not-a-uuid", "1"):
        assert _error(as_clinician.get(f"/api/v1/patients/{id_}/"), 404)["code"] == "not_found"
        assert _error(as_clinician.post(f"/api/v1/residential-stays/{id_}/extend/", {}), 404)["code"] == "not_found"


def test_a_patient_list_is_audited_in_one_insert(as_clinician, world):
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        response = as_clinician.get("/api/v1/patients/", {"q": "Rivera"})
    inserts = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "clinic_auditevent"')]
    assert len(inserts) == 1
    rows = AuditEvent.objects.order_by("-id")[: AuditEvent.objects.count() - before]
    assert {row.patient_id for row in rows} == {world.patient.pk}
    assert {(r.action, r.category, r.username, r.detail) for r in rows} == {
        ("view", "demographics", "marcus.clinician", "filters: q")
    }
    assert response.json()["count"] == 1


def test_program_admins_read_who_looked_at_a_record(api, world, site_clinician, program_admin):
    api.force_authenticate(site_clinician)
    api.get(f"/api/v1/patients/{world.patient.public_id}/")
    assert api.get(f"/api/v1/patients/{world.patient.public_id}/access-report/").status_code == 403
    api.force_authenticate(program_admin)
    report = api.get(f"/api/v1/patients/{world.patient.public_id}/access-report/").json()["results"]
    assert ("marcus.clinician", "view", "demographics") in {(e["username"], e["action"], e["category"]) for e in report}
    # Reading the report is itself recorded.
    assert AuditEvent.objects.filter(patient=world.patient, category="audit", username=program_admin.username).exists()


# --- the care journey -------------------------------------------------------------------------------------


def test_front_desk_sees_no_clinical_detail(api, world, front_desk, site_clinician):
    api.force_authenticate(site_clinician)
    as_clinician = api.get("/api/v1/discharges/").json()["results"][0]
    assert as_clinician["clinical"] == {
        "disposition": "completed",
        "notes": "Did well",
        "decided_by": "marcus.clinician",
    }
    later = str(timezone.localdate() + dt.timedelta(days=40))
    extend = f"/api/v1/residential-stays/{world.stay.public_id}/extend/"
    assert api.post(extend, {"new_planned_discharge_on": later, "reason": "Cravings"}).status_code == 200

    api.force_authenticate(front_desk)
    assert api.get("/api/v1/discharges/").status_code == 403
    assert api.get("/api/v1/transitions/").status_code == 403
    stay = api.get(f"/api/v1/residential-stays/{world.stay.public_id}/").json()
    assert stay["extensions"] and all(ext["clinical"] is None for ext in stay["extensions"])
    assert "Cravings" not in str(api.get("/api/v1/residential-stays/").json())


def test_admit_then_the_same_bed_again_is_a_conflict(as_clinician, world, today):
    body = {"patient": str(world.newcomer.public_id), "bed": str(world.free_bed.public_id), "admitted_on": str(today)}
    created = as_clinician.post("/api/v1/residential-stays/", body)
    assert created.status_code == 201 and created.json()["bed"] == world.free_bed.label
    someone = PatientFactory(registered_site=world.site)
    taken = as_clinician.post("/api/v1/residential-stays/", {**body, "patient": str(someone.public_id)})
    assert _error(taken, 409)["code"] == "bed_unavailable"


STEP_DOWN = "residential-stays/{stay}/step-down/"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        (STEP_DOWN, {"to_program": "{residential}", "on": "{today}", "reason": "x"}, 400, "wrong_program"),
        (STEP_DOWN, {"to_program": "{iop}", "on": "{far}", "reason": "x"}, 400, "invalid_date"),
        (STEP_DOWN, {"to_program": "{iop}", "on": "{today}", "reason": " "}, 400, "invalid"),
        (STEP_DOWN, {"to_program": "{iop}", "on": "10000-01-01", "reason": "x"}, 400, "invalid"),
        (STEP_DOWN, {"to_program": "{iop}", "on": "0001-01-01", "reason": "x"}, 400, "invalid"),
        (STEP_DOWN, {"to_program": str(uuid.uuid4()), "on": "{today}", "reason": "x"}, 400, "invalid"),
        (STEP_DOWN, {"to_program": 12, "on": "{today}", "reason": "x"}, 400, "invalid"),
        ("residential-stays/{completed_stay}/extend/", {"new_planned_discharge_on": "{far}", "reason": "x"}, 400,
         "invalid_transition"),
        ("iop-enrollments/{enrollment}/step-up/", {"bed": "{bed}", "on": "{today}", "reason": "x"}, 409,
         "bed_unavailable"),
        ("episodes/{episode}/discharge/", {"on": "{today}", "disposition": "vanished"}, 400, "invalid"),
        ("discharges/{discharge}/reverse/", {"reason": ""}, 400, "invalid"),
    ],
)  # fmt: skip
def test_domain_errors_are_4xx_with_the_error_body(as_clinician, world, today, path, body, status, code):
    values = {
        "stay": world.stay.public_id, "completed_stay": world.completed_stay.public_id,
        "enrollment": world.enrollment.public_id, "episode": world.episode.public_id,
        "discharge": world.discharge.public_id, "residential": world.residential.public_id, "iop": world.iop.public_id,
        "bed": world.stay.bed.public_id, "today": today, "far": today + dt.timedelta(days=300),
    }  # fmt: skip
    filled = {key: value.format(**values) if isinstance(value, str) else value for key, value in body.items()}
    error = _error(as_clinician.post(f"/api/v1/{path.format(**values)}", filled, format="json"), status)
    assert error["code"] == code and error["message"]


def test_reversing_twice_is_a_conflict(as_clinician, world):
    url = f"/api/v1/transitions/{world.transition.public_id}/reverse/"
    assert as_clinician.post(url, {"reason": "Entered in error"}).status_code == 201
    assert _error(as_clinician.post(url, {"reason": "Again"}), 409)["code"] == "not_reversible"


def test_malformed_json_and_wrong_content_are_400_or_415(as_clinician, world):
    url = f"/api/v1/episodes/{world.episode.public_id}/discharge/"
    bad = as_clinician.post(url, data="{nope", content_type="application/json")
    assert _error(bad, 400)["code"] == "malformed_request"
    assert _error(as_clinician.post(url, data="x", content_type="text/plain"), 415)["code"] == "unsupported_media_type"


# --- schedules --------------------------------------------------------------------------------------------


def test_attendance_for_a_whole_session_in_one_request(as_clinician, world):
    past = (
        Session.objects.filter(series=world.series, starts_at__lt=timezone.now(), bookings__patient=world.patient)
        .order_by("-starts_at")
        .first()
    )
    url = f"/api/v1/sessions/{past.public_id}/attendance/"
    marks = [{"patient": str(world.patient.public_id), "attendance": "late", "minutes_attended": 120}]
    recorded = as_clinician.post(url, {"marks": marks}, format="json")
    assert recorded.status_code == 200
    mine = [b for b in recorded.json() if b["patient"]["id"] == str(world.patient.public_id)]
    assert [(b["attendance"], b["minutes_attended"]) for b in mine] == [("late", 120)]
    correction = [{"patient": str(world.patient.public_id), "attendance": "present"}]
    assert _error(as_clinician.post(url, {"marks": correction}, format="json"), 400)["fields"] == {
        "reason": ["Attendance is already recorded for this patient; give the reason for the correction."]
    }
    stranger = [{"patient": str(uuid.uuid4()), "attendance": "present"}]
    assert _error(as_clinician.post(url, {"marks": stranger}, format="json"), 400)["code"] == "invalid_attendance"
    future = f"/api/v1/sessions/{world.session.public_id}/attendance/"
    assert _error(as_clinician.post(future, {"marks": marks}, format="json"), 400)["code"] == "session_not_started"
    assert AuditEvent.objects.filter(patient=world.patient, action="change", category="schedule").exists()


def test_cancel_and_move_one_session(as_clinician, world):
    moved = as_clinician.post(
        f"/api/v1/sessions/{world.session.public_id}/move/", {"starts_at": "2999-01-01T10:00:00Z"}, format="json"
    )
    assert _error(moved, 400)["fields"]["starts_at"]
    past = as_clinician.post(
        f"/api/v1/sessions/{world.session.public_id}/move/", {"starts_at": "2020-01-01T10:00:00Z"}, format="json"
    )
    assert _error(past, 400)["code"] == "invalid_schedule"
    cancelled = as_clinician.post(f"/api/v1/sessions/{world.session.public_id}/cancel/", {"reason": "Snow"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = as_clinician.post(f"/api/v1/sessions/{world.session.public_id}/cancel/", {"reason": "Snow"})
    assert _error(again, 409)["code"] == "session_cancelled"
    assert not Booking.objects.active().filter(session=world.session).exists()


def test_a_one_off_booking_and_its_cancellation(api, world, front_desk):
    api.force_authenticate(front_desk)
    body = {"session": str(world.one_off_session.public_id), "patient": str(world.patient.public_id)}
    booked = api.post("/api/v1/bookings/", body)
    assert booked.status_code == 201 and booked.json()["source"] == "one_off"
    full = api.post("/api/v1/bookings/", {**body, "patient": str(world.resident.public_id)})
    assert _error(full, 400)["code"] == "outside_placement"
    cancelled = api.post(f"/api/v1/bookings/{booked.json()['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["cancel_reason"] == "staff"


def test_compliance_lists_validate_their_parameters(as_clinician, world):
    assert as_clinician.get("/api/v1/compliance/below-minimum/").status_code == 200
    assert _error(as_clinician.get("/api/v1/compliance/below-minimum/", {"basis": "vibes"}), 400)["fields"]
    assert _error(as_clinician.get("/api/v1/compliance/below-minimum/", {"week_of": "0001-01-01"}), 400)
    assert _error(as_clinician.get("/api/v1/compliance/consecutive-absences/", {"n": 0}), 400)
    assert _error(as_clinician.get("/api/v1/compliance/consecutive-absences/", {"program": "x"}), 400)
