"""Issue 13: sync that saves a phone's data. ETag and 304 on every /me/ read; `updated_since` on /me/sessions/."""

from __future__ import annotations

import pytest

from clinic import clock
from scheduling import services as schedule

pytestmark = pytest.mark.django_db


def _me_reads(world) -> list[str]:
    return [
        "/api/v1/me/",
        "/api/v1/me/preferences/",
        "/api/v1/me/care/",
        "/api/v1/me/sessions/",
        "/api/v1/me/sessions/?when=upcoming",
        f"/api/v1/me/sessions/{world.booking.public_id}/",
        "/api/v1/me/devices/",
        "/api/v1/me/calendar-feed/",
    ]


def test_every_me_read_has_an_etag_and_answers_304_when_unchanged(world, as_patient):
    for url in _me_reads(world):
        first = as_patient.get(url)
        assert first.status_code == 200, url
        tag = first["ETag"]
        assert tag, url
        again = as_patient.get(url, HTTP_IF_NONE_MATCH=tag)
        assert again.status_code == 304, url
        assert again.content == b"" and again["ETag"] == tag
        assert as_patient.get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200


def test_the_aftercare_reads_too(world, api, other_patient_user):
    api.force_authenticate(other_patient_user)
    for url in ("/api/v1/me/aftercare/", f"/api/v1/me/aftercare/checkins/{world.checkin.public_id}/"):
        tag = api.get(url)["ETag"]
        assert api.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 304


def test_a_list_gets_a_new_etag_when_an_item_changes(world, as_patient):
    url = "/api/v1/me/sessions/?when=upcoming"
    old = as_patient.get(url)["ETag"]
    detail_url = f"/api/v1/me/sessions/{world.booking.public_id}/"
    old_detail = as_patient.get(detail_url)["ETag"]
    answered = as_patient.post(f"{detail_url}response/", {"response": "declined"}, format="json")
    assert answered.status_code == 200
    fresh = as_patient.get(url, HTTP_IF_NONE_MATCH=old)
    assert fresh.status_code == 200 and fresh["ETag"] != old
    assert fresh.json()["results"][0]["response"] == "declined"
    assert as_patient.get(detail_url, HTTP_IF_NONE_MATCH=old_detail).status_code == 200
    assert as_patient.get(url, HTTP_IF_NONE_MATCH=fresh["ETag"]).status_code == 304


def test_the_profile_etag_is_its_version_and_changes_with_it(world, api, patient_user):
    from rest_framework_simplejwt.tokens import RefreshToken

    # A real token, as the app sends it: each request loads the patient afresh.
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(patient_user).access_token}")
    as_patient = api
    read = as_patient.get("/api/v1/me/")
    tag = read["ETag"]
    patched = as_patient.patch("/api/v1/me/", {"preferred_name": "Al"}, format="json", HTTP_IF_MATCH=tag)
    assert patched.status_code == 200
    fresh = as_patient.get("/api/v1/me/", HTTP_IF_NONE_MATCH=tag)
    assert fresh.status_code == 200 and fresh["ETag"] == patched["ETag"] != tag


def test_a_304_is_still_an_audited_read(world, as_patient):
    from clinic.models import AuditEvent

    tag = as_patient.get("/api/v1/me/care/")["ETag"]
    before = AuditEvent.objects.filter(patient=world.patient, path="/api/v1/me/care/").count()
    assert as_patient.get("/api/v1/me/care/", HTTP_IF_NONE_MATCH=tag).status_code == 304
    assert AuditEvent.objects.filter(patient=world.patient, path="/api/v1/me/care/").count() == before + 1


def test_updated_since_returns_what_changed_including_a_cancelled_booking(world, as_patient):
    since = clock.now()
    schedule.cancel_booking(booking=world.booking)  # staff take Alex out of one session
    # The usual list no longer shows it; a sync asks for what changed and learns it was cancelled.
    everything = as_patient.get("/api/v1/me/sessions/?page_size=100").json()["results"]
    assert str(world.booking.public_id) not in {row["id"] for row in everything}
    changed = as_patient.get("/api/v1/me/sessions/", {"updated_since": since.isoformat()})
    assert changed.status_code == 200
    rows = changed.json()["results"]
    assert [(row["id"], row["status"]) for row in rows] == [(str(world.booking.public_id), "cancelled")]


def test_updated_since_includes_a_session_the_clinic_moved(world, as_patient):
    import datetime as dt

    since = clock.now()
    session = world.booking.session
    schedule.move_session(session=session, starts_at=session.starts_at + dt.timedelta(hours=1))
    rows = as_patient.get("/api/v1/me/sessions/", {"updated_since": since.isoformat()}).json()["results"]
    assert str(world.booking.public_id) in {row["id"] for row in rows}


def test_updated_since_must_be_an_instant(world, as_patient):
    answer = as_patient.get("/api/v1/me/sessions/", {"updated_since": "last tuesday"})
    assert answer.status_code == 400 and "updated_since" in answer.json()["error"]["fields"]


def test_another_patient_gets_nothing_of_alexs_changes(world, api, other_patient_user):
    since = clock.now()
    schedule.cancel_booking(booking=world.booking)
    api.force_authenticate(other_patient_user)
    rows = api.get("/api/v1/me/sessions/", {"updated_since": since.isoformat()}).json()["results"]
    assert rows == []


def test_if_match_on_a_read_is_not_a_precondition(world, as_patient):
    # If-Match is for the PATCH that follows a read; a GET carrying it is answered as usual.
    response = as_patient.get("/api/v1/me/care/", HTTP_IF_MATCH='"stale"')
    assert response.status_code == 200 and response.json()["journey"]
