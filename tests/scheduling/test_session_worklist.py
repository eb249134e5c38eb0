"""The sessions worklist (issue 12): today's sessions and those awaiting attendance, in local time."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.access import Role
from clinic.models import AuditEvent
from programs import services as journey
from scheduling import services
from scheduling.models import AttendanceRecord, Session
from tests.factories import PatientFactory, staff_member
from tests.scheduling.conftest import make_series

pytestmark = pytest.mark.django_db

D = dt.timedelta
# Monday, 10:00 in New York: today's group (18:00 local) is still ahead; last week's have all started.
SHIFT = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 7)
TODAYS = reverse("admin:scheduling_worklist_sessions", args=["today"])
AWAITING = reverse("admin:scheduling_worklist_sessions", args=["awaiting"])


@pytest.fixture(autouse=True)
def shift():
    with time_machine.travel(SHIFT, tick=True):
        yield


@pytest.fixture
def group(iop, clinician):
    """A daily evening group since last Monday (Nov 30), 18:00 to 19:00 New York time."""
    series = make_series(iop, clinician, rule="FREQ=DAILY", starts_on=TODAY - D(days=7), duration_minutes=60)
    services.generate_sessions(from_on=TODAY - D(days=7))
    return series


def enroll(patients, iop, clinician) -> None:
    for patient in patients:
        journey.enroll_in_iop(patient=patient, program=iop, start_on=TODAY - D(days=7), enrolled_by=clinician)
    services.generate_sessions(from_on=TODAY - D(days=7))


@pytest.fixture
def booked(group, iop, clinician, patient, other_patient):
    """Two patients in the group; Sunday's session is recorded (one present, one absent), the others are not."""
    enroll([patient, other_patient], iop, clinician)
    sunday = Session.objects.get(series=group, local_date=TODAY - D(days=1))
    services.record_attendance(
        session=sunday,
        marks=[services.Mark(patient_id=patient.pk, attendance="present"),
               services.Mark(patient_id=other_patient.pk, attendance="absent")],
        recorded_by=clinician,
    )  # fmt: skip
    return sunday


def _rows(response) -> list:
    assert response.status_code == 200
    return response.context["worklist"].rows


def test_todays_sessions_in_local_time_with_the_facilitator_by_name(client, site_clinician, booked, group):
    client.force_login(site_clinician)

    worklist = client.get(TODAYS).context["worklist"]

    assert worklist.columns == ["Starts", "Group", "Facilitator", "Booked", "Attended"]
    (row,) = worklist.rows
    assert row.key == str(Session.objects.get(series=group, local_date=TODAY).pk)
    assert row.program == group.program
    assert row.cells == ["6 p.m.", "Evening process group", "Dana Ortiz", "2", "not recorded"]
    assert row.flags == []  # not started yet
    assert [a.label for a in row.actions] == ["Take attendance"]
    assert row.actions[0].url == reverse("admin:scheduling_session_attendance", args=[row.key])


def test_sessions_awaiting_attendance_most_recent_first(client, site_clinician, booked, group):
    client.force_login(site_clinician)

    rows = _rows(client.get(AWAITING))

    # Last Monday to Saturday started without attendance; Sunday's was recorded, today's has not started.
    assert [row.cells[0] for row in rows] == [
        f"{(TODAY - D(days=n)):%b}. {(TODAY - D(days=n)).day}, 2026, 6 p.m." for n in (2, 3, 4, 5, 6, 7)
    ]
    assert all(row.cells[3:] == ["2", "not recorded"] for row in rows)
    assert all([f.text for f in row.flags] == ["Attendance to record"] for row in rows)


def test_a_recorded_session_shows_how_many_came(client, site_clinician, booked):
    client.force_login(site_clinician)
    with time_machine.travel(SHIFT - D(days=1) + D(hours=11), tick=False):  # Sunday 21:00 in New York
        rows = _rows(client.get(TODAYS))

    assert [(row.key, row.cells[3:]) for row in rows] == [(str(booked.pk), ["2", "1"])]


def test_the_figures_open_the_list_and_agree(client, site_clinician, booked):
    client.force_login(site_clinician)

    figures = {f.label: f for f in client.get(reverse("admin:index")).context["dashboard"].schedule}

    for label, url in [("Today's sessions", TODAYS), ("Sessions awaiting attendance", AWAITING)]:
        assert figures[label].url == url
        assert client.get(url).context["worklist"].counted == figures[label].value == len(_rows(client.get(url)))


def test_a_role_that_may_not_take_attendance_has_no_action_and_gets_403(client, site, booked, group, patient):
    reviewer = staff_member(role=Role.UR_COORDINATOR, sites=[site], username="uma.ur")
    client.force_login(reviewer)
    session = Session.objects.get(series=group, local_date=TODAY - D(days=2))
    before = AttendanceRecord.objects.count()

    listed = client.get(AWAITING)
    response = client.post(
        reverse("admin:scheduling_session_attendance", args=[session.pk]),
        {f"mark_{session.bookings.first().pk}": "present"},
    )

    assert listed.status_code == 403 or all(row.actions == [] for row in listed.context["worklist"].rows)
    assert response.status_code == 403 and AttendanceRecord.objects.count() == before


def test_scoped_to_the_users_sites_and_audited(client, site_clinician, colleague_elsewhere, booked):
    client.force_login(colleague_elsewhere)
    assert _rows(client.get(AWAITING)) == [] and _rows(client.get(TODAYS)) == []
    client.force_login(site_clinician)

    client.get(AWAITING)

    shown = AuditEvent.objects.filter(user=site_clinician, detail="worklist sessions-awaiting")
    assert shown.count() == 1 and shown.get().patient_id is None  # sessions, not patients, are shown


@pytest.mark.parametrize("url", [TODAYS, AWAITING])
def test_queries_stay_constant_as_the_list_grows(client, superuser, iop, clinician, url):
    client.force_login(superuser)

    slots = iter(range(24))  # half-hour groups one after another, so a patient can be in all of them

    def fill(count: int) -> None:
        for _ in range(count):
            k = next(slots)
            make_series(iop, clinician, name=f"Group {k}", rule="FREQ=DAILY", starts_on=TODAY - D(days=7),
                        start_time=dt.time(k // 2, 30 * (k % 2)), duration_minutes=30)  # fmt: skip
        enroll([PatientFactory()], iop, clinician)

    fill(2)
    client.get(url)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as small:
        few = len(_rows(client.get(url)))
    fill(10)
    with CaptureQueriesContext(connection) as big:
        many = len(_rows(client.get(url)))
    assert many > few > 0
    assert len(big.captured_queries) == len(small.captured_queries)
