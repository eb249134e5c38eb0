"""The patient app's schedule, care, aftercare and calendar-feed endpoints."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clinic import clock
from clinic.models import AuditEvent
from programs import services as journey
from scheduling.models import Booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def me(api, world, patient_user):
    api.force_authenticate(patient_user)
    return api


def test_upcoming_and_past_sessions_with_date_filters(me, world, today):
    upcoming = me.get("/api/v1/me/sessions/", {"when": "upcoming"}).json()
    past = me.get("/api/v1/me/sessions/", {"when": "past"}).json()
    now = clock.now().isoformat()
    # Cursor pages carry no count (issue 17): the rows themselves show the split.
    assert upcoming["results"] and all(s["ends_at"] > now[:19] for s in upcoming["results"])
    assert past["results"] and past["results"][0]["starts_at"] >= past["results"][-1]["starts_at"]
    one_day = me.get(
        "/api/v1/me/sessions/", {"date_from": world.session.local_date, "date_to": world.session.local_date}
    )
    assert [s["id"] for s in one_day.json()["results"]] == [str(world.booking.public_id)]
    assert me.get("/api/v1/me/sessions/", {"date_from": "yesterday"}).status_code == 400
    assert me.get("/api/v1/me/sessions/", {"page_size": 1}).json()["next"]


def test_a_session_in_plain_words(me, world):
    session = me.get(f"/api/v1/me/sessions/{world.booking.public_id}/").json()
    assert session["title"] == "Group therapy" and session["location"]["name"] == "Riverside Campus"
    assert session["status"] == "booked" and session["time_zone"] == "America/New_York"
    assert "IOP" not in str(session)  # no program name: the phone may be seen by others


def test_confirming_and_declining_ahead_of_time(me, world):
    url = f"/api/v1/me/sessions/{world.booking.public_id}/response/"
    assert me.post(url, {"response": "confirmed"}).json()["response"] == "confirmed"
    assert me.post(url, {"response": "declined"}).json()["response"] == "declined"
    world.booking.refresh_from_db()
    assert world.booking.patient_response == "declined" and world.booking.cancelled_at is None
    assert me.post(url, {"response": "maybe"}).status_code == 400
    past = Booking.objects.filter(patient=world.patient, starts_at__lt=timezone.now()).first()
    late = me.post(f"/api/v1/me/sessions/{past.public_id}/response/", {"response": "confirmed"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "session_locked"


def test_a_cancelled_session_shows_as_cancelled(me, world, site_clinician):
    from scheduling import services

    services.cancel_session(session=world.session, reason="Snow")
    session = me.get(f"/api/v1/me/sessions/{world.booking.public_id}/").json()
    assert session["status"] == "cancelled"
    answer = me.post(f"/api/v1/me/sessions/{world.booking.public_id}/response/", {"response": "confirmed"})
    assert answer.status_code == 409


def test_care_shows_this_weeks_hours_against_the_target(me, world):
    week = me.get("/api/v1/me/care/").json()["this_week"]
    assert week["target_hours"] == "9.0"
    # The week of the program's own date (a Monday 01:00 UTC is still Sunday in New York).
    local_today = clock.local_today(world.iop.time_zone)
    assert week["week_start"] == (local_today - dt.timedelta(days=local_today.weekday())).isoformat()
    assert float(week["scheduled_hours"]) >= float(week["attended_hours"]) == 0


def test_aftercare_plan_and_check_ins(api, world, other_patient_user):
    api.force_authenticate(other_patient_user)
    plan = api.get("/api/v1/me/aftercare/").json()
    assert plan["status"] == "active"
    assert [c["day"] for c in plan["checkins"]] == [7, 30, 90]
    assert "Did well" not in str(plan)


def test_no_aftercare_yet(me):
    response = me.get("/api/v1/me/aftercare/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "no_aftercare_plan"


def test_aftercare_is_gone_after_a_reversed_discharge(api, world, other_patient_user, site_clinician):
    journey.reverse_discharge(discharge=world.discharge, reason="In error", reversed_by=site_clinician)
    api.force_authenticate(other_patient_user)
    assert api.get("/api/v1/me/aftercare/").json()["error"]["code"] == "no_aftercare_plan"


def test_the_calendar_feed_url_is_shown_once_and_rotates(me, client):
    assert me.get("/api/v1/me/calendar-feed/").json() == {"active": False, "rotated_at": None, "url": None}
    first = me.post("/api/v1/me/calendar-feed/").json()["url"]
    assert client.get(first).status_code == 200
    status = me.get("/api/v1/me/calendar-feed/").json()
    assert status["active"] and status["url"] is None
    second = me.post("/api/v1/me/calendar-feed/").json()["url"]
    assert second != first and client.get(first).status_code == 404
    assert me.delete("/api/v1/me/calendar-feed/").status_code == 204
    assert client.get(second).status_code == 404


def test_the_patients_own_reads_are_audited(me, world):
    me.get("/api/v1/me/sessions/")
    me.get("/api/v1/me/care/")
    rows = set(AuditEvent.objects.filter(patient=world.patient, role="patient").values_list("path", "category"))
    assert {("/api/v1/me/sessions/", "schedule"), ("/api/v1/me/care/", "clinical")} <= rows
