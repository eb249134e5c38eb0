"""Running a group from the staff admin: attendance on one page, cancel, move, a series from a date."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import AuditAction, AuditCategory, AuditEvent
from scheduling import services
from scheduling.models import AttendanceRecord, Booking, Session, SessionSeries
from scheduling.selectors import sessions_today
from scheduling.services import Mark
from tests.factories import PatientFactory
from tests.scheduling.conftest import enroll_with_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(running_group, enrolled, other_patient, iop, clinician):
    """The evening group with two patients enrolled since it began."""
    enroll_with_history(patient=other_patient, program=iop, start_on=enrolled.start_on, enrolled_by=clinician)
    return running_group


@pytest.fixture
def last_session(group, today):
    return Session.objects.filter(series=group, local_date__lt=today).order_by("-starts_at").first()


@pytest.fixture
def next_session(group, today):
    return Session.objects.filter(series=group, local_date__gt=today + dt.timedelta(days=1)).order_by("starts_at")[0]


def _url(name, obj):
    return reverse(f"admin:scheduling_{name}", args=[obj.pk])


def _booking(session, patient) -> Booking:
    return Booking.objects.get(session=session, patient=patient, cancelled_at__isnull=True)


def test_a_clinician_takes_attendance_for_the_whole_group_in_one_request(
    client, site_clinician, last_session, patient, other_patient
):
    client.force_login(site_clinician)
    url = _url("session_attendance", last_session)
    page = client.get(url)
    assert page.status_code == 200
    content = page.content.decode()
    assert str(patient) in content and str(other_patient) in content
    mine, theirs = _booking(last_session, patient), _booking(last_session, other_patient)

    response = client.post(
        url, {f"mark_{mine.pk}": "present", f"mark_{theirs.pk}": "late", f"minutes_{theirs.pk}": "120"}
    )

    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.attendance, mine.minutes_attended) == ("present", 180)
    assert (theirs.attendance, theirs.minutes_attended) == ("late", 120)
    assert set(AttendanceRecord.objects.values_list("recorded_by", flat=True)) == {site_clinician.pk}
    changed = AuditEvent.objects.filter(user=site_clinician, action=AuditAction.CHANGE, category=AuditCategory.SCHEDULE)
    assert set(changed.values_list("patient", flat=True)) == {patient.pk, other_patient.pk}
    assert "Attendance saved: 2 mark(s)" in client.get(response.url).content.decode()


def test_reading_the_attendance_sheet_is_audited_per_patient(client, site_clinician, last_session, patient):
    client.force_login(site_clinician)
    client.get(_url("session_attendance", last_session))
    assert AuditEvent.objects.filter(
        user=site_clinician, patient=patient, action=AuditAction.VIEW, category=AuditCategory.SCHEDULE
    ).exists()


def test_late_without_minutes_is_a_form_error_and_nothing_is_written(client, site_clinician, last_session, patient):
    client.force_login(site_clinician)
    mine = _booking(last_session, patient)

    response = client.post(_url("session_attendance", last_session), {f"mark_{mine.pk}": "late"})

    assert response.status_code == 200
    assert "Give the minutes attended for late" in str(response.context["form"].errors[f"minutes_{mine.pk}"])
    assert not AttendanceRecord.objects.exists()


def test_the_services_refusal_is_a_form_error(client, site_clinician, last_session, patient):
    client.force_login(site_clinician)
    mine = _booking(last_session, patient)

    # 500 minutes of a 180-minute session: the service refuses; the page says why.
    response = client.post(
        _url("session_attendance", last_session), {f"mark_{mine.pk}": "left_early", f"minutes_{mine.pk}": "500"}
    )

    assert response.status_code == 200
    assert "1 to 179 of a 180-minute session" in response.content.decode()
    assert not AttendanceRecord.objects.exists()


def test_a_correction_needs_a_reason(client, site_clinician, last_session, patient, clinician):
    services.record_attendance(session=last_session, marks=[Mark(patient.pk, "absent")], recorded_by=clinician)
    client.force_login(site_clinician)
    url = _url("session_attendance", last_session)
    mine = _booking(last_session, patient)

    refused = client.post(url, {f"mark_{mine.pk}": "excused"})
    assert refused.status_code == 200
    assert "reason for the correction" in str(refused.context["form"].errors["reason"])

    assert client.post(url, {f"mark_{mine.pk}": "excused", "reason": "Called ahead"}).status_code == 302
    correction = AttendanceRecord.objects.get(previous_attendance="absent")
    assert (correction.attendance, correction.reason, correction.recorded_by) == (
        "excused",
        "Called ahead",
        site_clinician,
    )


def test_attendance_for_a_session_that_has_not_started_is_refused_on_the_page(
    client, site_clinician, next_session, patient
):
    client.force_login(site_clinician)
    url = _url("session_attendance", next_session)
    assert "has not started yet" in client.get(url).content.decode()

    response = client.post(url, {f"mark_{_booking(next_session, patient).pk}": "present"})

    assert response.status_code == 200
    assert "attendance is recorded once it has started" in response.content.decode()
    assert not AttendanceRecord.objects.exists()


def test_the_attendance_page_costs_the_same_queries_for_a_bigger_group(
    client, site_clinician, last_session, group, iop, clinician
):
    client.force_login(site_clinician)
    url = _url("session_attendance", last_session)
    client.get(url)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    for _ in range(6):
        enroll_with_history(patient=PatientFactory(), program=iop, start_on=last_session.local_date,
                            enrolled_by=clinician)  # fmt: skip
    assert Booking.objects.filter(session=last_session).count() == 8
    with CaptureQueriesContext(connection) as big:
        assert client.get(url).status_code == 200
    assert len(big) == len(small) <= 16


@pytest.mark.parametrize("name", ["session_attendance", "session_cancel", "session_move"])
def test_front_desk_may_not_take_attendance_or_change_a_session(client, front_desk, last_session, next_session, name):
    client.force_login(front_desk)
    session = last_session if name == "session_attendance" else next_session
    assert client.get(_url(name, session)).status_code == 403
    assert client.post(_url(name, session), {"reason": "x"}).status_code == 403
    # They still see the schedule, without the tools.
    page = client.get(_url("session_change", session))
    assert page.status_code == 200 and page.context["session_tools"] == []


@pytest.mark.parametrize("name", ["session_attendance", "session_cancel", "session_move", "session_change"])
def test_a_colleague_at_another_site_does_not_find_the_session(
    client, colleague_elsewhere, last_session, next_session, name
):
    client.force_login(colleague_elsewhere)
    session = last_session if name == "session_attendance" else next_session
    response = client.get(_url(name, session))
    assert response.status_code in (302, 404)  # the admin's change page redirects "does not exist"
    if name != "session_change":
        assert response.status_code == 404
        assert client.post(_url(name, session), {"reason": "x"}).status_code == 404


def test_cancel_one_occurrence_from_its_page(client, site_clinician, next_session, patient):
    client.force_login(site_clinician)
    url = _url("session_cancel", next_session)
    page = client.get(_url("session_change", next_session))
    assert url in page.content.decode()

    assert client.post(url, {"reason": ""}).status_code == 200  # the reason is required
    response = client.post(url, {"reason": "Facilitator ill"})

    assert response.status_code == 302
    next_session.refresh_from_db()
    assert next_session.status == "cancelled" and next_session.status_reason == "Facilitator ill"
    assert not Booking.objects.active().filter(session=next_session).exists()
    assert Session.objects.filter(series=next_session.series, status="scheduled").exists()
    assert AuditEvent.objects.filter(patient=patient, action=AuditAction.CHANGE, detail="session cancel").exists()


def test_a_session_that_has_started_cannot_be_cancelled_and_the_page_says_why(client, site_clinician, last_session):
    client.force_login(site_clinician)
    response = client.post(_url("session_cancel", last_session), {"reason": "Oops"})
    assert response.status_code == 200
    assert "already started" in response.content.decode()
    last_session.refresh_from_db()
    assert last_session.status == "scheduled"


def test_move_one_occurrence_in_the_programs_local_time(client, site_clinician, group, patient, today):
    # A Wednesday's group, so that the next day (Thursday) has a group too, whatever today is.
    next_session = Session.objects.filter(
        series=group, local_date__gt=today + dt.timedelta(days=1), local_date__week_day=4
    ).order_by("starts_at")[0]
    client.force_login(site_clinician)
    url = _url("session_move", next_session)
    # Onto the next day's group: the patients would be double-booked, and the page says so.
    clash = client.post(url, {"date": (next_session.local_date + dt.timedelta(days=1)).isoformat(), "time": "17:30"})
    assert clash.status_code == 200 and "overlapping time" in clash.content.decode()

    response = client.post(url, {"date": next_session.local_date.isoformat(), "time": "14:00", "reason": "Room"})

    assert response.status_code == 302
    next_session.refresh_from_db()
    local = next_session.starts_at.astimezone(ZoneInfo(next_session.series.program.time_zone))
    assert (local.date(), local.time()) == (next_session.local_date, dt.time(14, 0))
    assert _booking(next_session, patient).starts_at == next_session.starts_at


def test_moving_onto_a_closed_day_is_a_form_error(client, site_clinician, next_session, site):
    closed = next_session.local_date + dt.timedelta(days=1)
    services.add_closure(site=site, date=closed, reason="Holiday")
    client.force_login(site_clinician)

    response = client.post(_url("session_move", next_session), {"date": closed.isoformat(), "time": "18:00"})

    assert response.status_code == 200
    assert "closed on" in str(response.context["form"].errors["date"])
    before = next_session.starts_at
    next_session.refresh_from_db()
    assert next_session.starts_at == before


def test_a_program_admin_changes_a_series_from_a_date(client, program_admin, site_clinician, group, today):
    url = _url("sessionseries_change_from", group)
    client.force_login(site_clinician)
    assert client.get(url).status_code == 403

    client.force_login(program_admin)
    assert url in client.get(_url("sessionseries_change", group)).content.decode()
    from_on = today + dt.timedelta(days=7)
    response = client.post(url, {"from_on": from_on.isoformat(), "start_time": "17:00", "rule": group.rule})

    assert response.status_code == 302
    successor = SessionSeries.objects.get(replaces=group)
    assert successor.start_time == dt.time(17, 0) and successor.starts_on == from_on
    refused = client.post(url, {"from_on": (today - dt.timedelta(days=3)).isoformat(), "start_time": "16:00"})
    assert refused.status_code == 200 and "past sessions are history" in refused.content.decode()


@pytest.mark.instant("2027-01-06T15:00:00Z")  # a Wednesday, 10:00 in New York: the group meets this evening
def test_todays_sessions_list_offers_attendance_to_clinicians_only(client, site_clinician, front_desk, group, today):
    url = reverse("admin:scheduling_session_changelist") + "?worklist=today"
    [tonight] = Session.objects.filter(series=group, local_date=dt.date(2027, 1, 6))
    assert [s.pk for s in sessions_today()] == [tonight.pk]

    client.force_login(site_clinician)
    page = client.get(url)
    assert [s.pk for s in page.context["cl"].result_list] == [tonight.pk]
    assert "attendance_link" in page.context["cl"].list_display

    client.force_login(front_desk)
    page = client.get(url)
    assert page.status_code == 200 and "attendance_link" not in page.context["cl"].list_display
    assert [s.pk for s in page.context["cl"].result_list] == [tonight.pk]
