"""Issue 17: /me/sessions/ opens on the next sessions, pages by cursor with no COUNT, knows its caller in one query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import RefreshToken

from clinic import clock
from scheduling import services as schedule
from scheduling.models import Booking
from scheduling.services import Mark

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/sessions/"


def _shown(rows) -> list[str]:
    return [row["id"] for row in rows]


def _bookings(world, **filters) -> list[str]:
    """The patient's bookings as the list shows them (active ones), by the booking's start."""
    bookings = Booking.objects.active().filter(patient=world.patient, **filters)
    return [str(b.public_id) for b in bookings.order_by("starts_at", "id")]


def test_without_filters_the_list_is_the_upcoming_sessions_nearest_first(world, as_patient):
    now = clock.now()
    upcoming = _bookings(world, ends_at__gt=now)
    assert upcoming and _bookings(world, ends_at__lte=now), "the world has sessions on both sides of now"

    shown = _shown(as_patient.get(URL, {"page_size": 100}).json()["results"])

    assert shown == upcoming
    # The nearest first: the next to start, unless one is under way at this instant (it has not ended).
    first = Booking.objects.get(public_id=shown[0])
    assert shown[0] == str(world.booking.public_id) or first.starts_at <= now < first.ends_at


def test_past_sessions_are_a_filter_latest_first_and_all_is_oldest_first(world, as_patient):
    now = clock.now()
    past = as_patient.get(URL, {"when": "past", "page_size": 100}).json()["results"]
    assert _shown(past) == list(reversed(_bookings(world, ends_at__lte=now)))
    everything = as_patient.get(URL, {"when": "all", "page_size": 100}).json()["results"]
    assert _shown(everything) == _bookings(world)


def test_a_date_filter_alone_is_not_narrowed_to_upcoming(world, as_patient):
    day = world.past_session.local_date
    rows = as_patient.get(URL, {"date_from": day, "date_to": day}).json()["results"]
    assert _shown(rows) == _bookings(world, session=world.past_session)


def test_updated_since_still_finds_a_past_booking_that_changed(world, as_patient, site_clinician):
    since = clock.now()
    # Attendance taken for a session that already ended: a change the phone must learn about.
    schedule.record_attendance(
        session=world.past_session, marks=[Mark(world.patient.pk, "present")], recorded_by=site_clinician
    )
    rows = as_patient.get(URL, {"updated_since": since.isoformat()}).json()["results"]
    assert [(row["local_date"], row["attendance"]) for row in rows] == [
        (world.past_session.local_date.isoformat(), "present")
    ]


def test_pages_follow_next_and_previous_links_without_a_count(world, as_patient):
    upcoming = _bookings(world, ends_at__gt=clock.now())
    assert len(upcoming) >= 3

    with CaptureQueriesContext(connection) as queries:
        first = as_patient.get(URL, {"page_size": 2}).json()
    assert "count" not in first and first["previous"] is None and first["next"]
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]

    second = as_patient.get(first["next"]).json()
    assert _shown(first["results"]) + _shown(second["results"]) == upcoming[:4]
    back = as_patient.get(second["previous"]).json()
    assert _shown(back["results"]) == _shown(first["results"])

    # Walking every page gives every upcoming session once, in order.
    seen, page = [], first
    while True:
        seen += _shown(page["results"])
        if not page["next"]:
            break
        page = as_patient.get(page["next"]).json()
    assert seen == upcoming


def test_a_cursor_we_did_not_give_is_a_400(world, as_patient):
    answer = as_patient.get(URL, {"cursor": "not-a-cursor"})
    assert answer.status_code == 400 and "cursor" in answer.json()["error"]["fields"]
    assert as_patient.get(URL, {"page_size": 101}).status_code == 400


def test_the_schema_documents_cursor_pages_without_a_count(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"][URL]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"cursor", "page_size", "when"} <= names and "page" not in names
    page = schema["components"]["schemas"]["PaginatedMySessionList"]
    assert set(page["properties"]) == {"next", "previous", "results"}
    assert "nearest first" in operation["description"]


def _queries(api, user, url) -> list[str]:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    api.get(url)  # anything lazily set up on a first request (translations, URL resolvers) is not counted
    with CaptureQueriesContext(connection) as captured:
        assert api.get(url).status_code == 200
    return [q["sql"] for q in captured]


def _role_lookups(sql: list[str]) -> list[str]:
    """Queries after the first that read the caller's groups or patient record again."""
    return [q for q in sql[1:] if "auth_group" in q or '"patients_patient"."user_id" =' in q]


def test_a_patients_request_resolves_the_caller_once(world, api, patient_user):
    # One query for the user, their role's groups and their patient record; one for the page; the audit
    # insert. The permission check, the language, the scoping and the audit record all read what the
    # first query loaded (before issue 17: six queries, with the groups and the patient read twice more).
    sql = _queries(api, patient_user, URL)
    assert "auth_group" in sql[0] and "patients_patient" in sql[0]
    assert _role_lookups(sql) == []
    assert len(sql) == 3, sql
    profile = _queries(api, patient_user, "/api/v1/me/")
    assert _role_lookups(profile) == [] and len(profile) == 2, profile


def test_a_staff_request_resolves_the_role_once(world, api, site_clinician):
    sql = _queries(api, site_clinician, "/api/v1/patients/")
    assert "auth_group" in sql[0]
    assert _role_lookups(sql) == []


@pytest.mark.parametrize("page_size", [1, 2, 25])
def test_the_first_page_read_in_one_statement_answers_as_the_orm_path(world, as_patient, page_size):
    """The usual request (no filter, no cursor) is read by hand-written SQL (issue 17); ``when=upcoming``
    goes through the filter and the ORM. Same rows, same fields, and a next link to the same place."""
    from scheduling import services as sessions

    # A session the clinic cancelled stays on the list (status "cancelled"); one the patient left does not.
    later = list(Booking.objects.active().filter(patient=world.patient, ends_at__gt=clock.now()).order_by("starts_at"))
    sessions.cancel_session(session=later[1].session, reason="Snow")
    sessions.cancel_booking(booking=later[2])

    fast = as_patient.get(URL, {"page_size": page_size}).json()
    orm = as_patient.get(URL, {"page_size": page_size, "when": "upcoming"}).json()
    assert fast["results"] == orm["results"] and len(fast["results"]) == min(page_size, len(later) - 1)
    if page_size == 25:  # the whole list: the clinic's cancellation on it, the patient's own not
        assert [row["status"] for row in fast["results"]].count("cancelled") == 1
    assert (fast["next"] is None) == (orm["next"] is None) and fast["previous"] is None
    if fast["next"]:
        assert as_patient.get(fast["next"]).json()["results"] == as_patient.get(orm["next"]).json()["results"]
