"""A patient's private calendar: discreet entries, and a token that can be rotated or revoked."""

import datetime as dt

import pytest
from icalendar import Calendar

from programs import services as journey
from scheduling import services
from scheduling.models import CalendarFeed, Session
from tests.scheduling.conftest import make_series

pytestmark = pytest.mark.django_db

# Words that would tell someone glancing at the phone what kind of care this is.
REVEALING = ["iop", "intensive", "outpatient", "program", "group", "therapy", "counsel", "treatment", "recovery",
             "relapse", "substance", "addiction", "rehab", "detox", "psych", "process", "evening"]  # fmt: skip


@pytest.fixture
def booked_patient(patient, iop, clinician, today, other_patient):
    make_series(iop, clinician, name="Evening process group", starts_on=today + dt.timedelta(days=1))
    journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    return patient


def test_the_feed_lists_upcoming_sessions_discreetly(client, booked_patient, iop):
    token = services.issue_calendar_feed(patient=booked_patient)

    response = client.get(f"/calendar/{token}.ics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Cache-Control"] == "private, no-store"
    body = response.content.decode()
    calendar = Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == Session.objects.filter(bookings__patient=booked_patient).count() > 20
    assert {str(e["SUMMARY"]) for e in events} == {"Appointment"}
    # The discreet sender (no messaging profile here: the default name) and the street address; never
    # the site's own name or the room (issue 11, defect 3).
    assert {str(e["LOCATION"]) for e in events} == {"Appointments, 12 Mill Road"}
    assert all("+14155550100" in str(e["DESCRIPTION"]) for e in events)
    lowered = body.lower()
    assert [word for word in REVEALING if word in lowered] == []
    assert iop.name.lower() not in lowered and booked_patient.legal_last_name.lower() not in lowered
    assert "riverside campus" not in lowered and "room 1" not in lowered


def test_rotating_the_token_kills_the_old_url_and_revoking_kills_all(client, booked_patient):
    old = services.issue_calendar_feed(patient=booked_patient)
    new = services.issue_calendar_feed(patient=booked_patient)

    assert client.get(f"/calendar/{old}.ics").status_code == 404
    assert client.get(f"/calendar/{new}.ics").status_code == 200
    assert CalendarFeed.objects.count() == 1 and old not in CalendarFeed.objects.get().token_hash

    services.revoke_calendar_feed(patient=booked_patient)
    assert client.get(f"/calendar/{new}.ics").status_code == 404


def test_an_unknown_token_gets_nothing(client, booked_patient):
    services.issue_calendar_feed(patient=booked_patient)
    assert client.get("/calendar/not-a-real-token.ics").status_code == 404


def test_the_feed_shows_only_the_patients_own_active_bookings(client, booked_patient, other_patient, iop, clinician,
                                                              today):  # fmt: skip
    journey.enroll_in_iop(patient=other_patient, program=iop, start_on=today, enrolled_by=clinician)
    other_token = services.issue_calendar_feed(patient=other_patient)
    booking = other_patient.bookings.active().first()
    services.cancel_booking(booking=booking)

    calendar = Calendar.from_ical(client.get(f"/calendar/{other_token}.ics").content)
    uids = {str(e["UID"]) for e in calendar.walk("VEVENT")}

    assert f"{booking.public_id}@appointments" not in uids
    assert uids == {f"{b.public_id}@appointments" for b in other_patient.bookings.active()}


def test_reading_the_feed_is_in_the_audit_trail_without_the_token(client, booked_patient):
    from clinic.models import AuditEvent

    token = services.issue_calendar_feed(patient=booked_patient)

    client.get(f"/calendar/{token}.ics", HTTP_USER_AGENT="Calendar/1.0")

    event = AuditEvent.objects.get(patient=booked_patient, detail="calendar feed")
    assert (event.action, event.category, event.user) == ("view", "schedule", None)
    assert event.user_agent == "Calendar/1.0" and event.ip_address
    assert token not in event.path and token not in str(AuditEvent.objects.values_list())
