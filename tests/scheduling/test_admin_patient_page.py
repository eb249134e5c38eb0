"""The patient page's schedule: upcoming sessions, attendance with weekly hours, consent and preferences."""

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import AuditAction, AuditCategory, AuditEvent
from scheduling import services
from scheduling.models import Session
from scheduling.selectors import week_start, weekly_hours
from scheduling.services import Mark

pytestmark = pytest.mark.django_db


@pytest.fixture
def missed_last_week(running_group, enrolled, patient, clinician, today):
    """The patient missed every session of last week."""
    monday = week_start(today)
    for session in Session.objects.filter(series=running_group, local_date__lt=monday).order_by("-starts_at")[:3]:
        services.record_attendance(session=session, marks=[Mark(patient.pk, "absent")], recorded_by=clinician)


def _page(client, user, patient):
    client.force_login(user)
    return client.get(reverse("admin:patients_patient_change", args=[patient.pk]))


def test_a_clinician_sees_upcoming_sessions_attendance_and_weekly_hours(
    client, site_clinician, patient, missed_last_week, today
):
    page = _page(client, site_clinician, patient)

    assert page.status_code == 200
    schedule = page.context["schedule"]
    assert schedule["upcoming"] and all(b.patient_id == patient.pk for b in schedule["upcoming"])
    # This week's sessions that have already started are unmarked; last week's three were missed.
    before_this_week = [b for b in schedule["recent"] if b.session.local_date < week_start(today)]
    assert [b.attendance for b in before_this_week[:3]] == ["absent"] * 3
    last_week = next(w for w in schedule["weeks"] if w.week_start == week_start(today) - dt.timedelta(days=7))
    assert (last_week.scheduled_hours, last_week.attended_hours) == (9, 0)
    # The same count as the compliance selector behind the dashboard.
    [same] = weekly_hours(week_of=last_week.week_start)
    assert (same.scheduled_hours, same.attended_hours) == (last_week.scheduled_hours, last_week.attended_hours)
    content = page.content.decode()
    assert 'id="weekly-hours"' in content and "below minimum" in content
    assert "Evening process group" in content and "Consent and preferences" in content
    assert "Disclosure consents in force" in content
    assert AuditEvent.objects.filter(
        user=site_clinician, patient=patient, category=AuditCategory.SCHEDULE, action=AuditAction.VIEW
    ).exists()


def test_front_desk_sees_the_schedule_but_not_the_weekly_hours_judgement(client, front_desk, patient, missed_last_week):
    page = _page(client, front_desk, patient)

    assert page.status_code == 200
    content = page.content.decode()
    assert 'id="schedule"' in content and 'id="attendance-history"' in content
    assert 'id="weekly-hours"' not in content and "Disclosure consents in force" not in content
    assert page.context["schedule"]["weeks"] is None


def test_a_colleague_at_another_site_does_not_see_the_patients_schedule(
    client, colleague_elsewhere, patient, missed_last_week
):
    page = _page(client, colleague_elsewhere, patient)
    assert page.status_code == 302
    assert not AuditEvent.objects.filter(user=colleague_elsewhere, category=AuditCategory.SCHEDULE).exists()


def test_the_patient_page_with_its_schedule_costs_a_bounded_number_of_queries(
    client, site_clinician, patient, missed_last_week, django_assert_max_num_queries
):
    _page(client, site_clinician, patient)
    with django_assert_max_num_queries(45):
        assert client.get(reverse("admin:patients_patient_change", args=[patient.pk])).status_code == 200
