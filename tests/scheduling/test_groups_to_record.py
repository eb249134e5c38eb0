"""Groups to record on the dashboard, and "mark everyone present" on the attendance sheet (issue 12)."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from scheduling.models import Booking

pytestmark = pytest.mark.django_db

# Wednesday Dec 9, 2026, 10:00 in New York (the program's zone): Monday's and last week's evening
# groups have started, tonight's has not.
SHIFT = dt.datetime(2026, 12, 9, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def shift():
    with time_machine.travel(SHIFT, tick=True):
        yield


@pytest.fixture
def group(running_group, enrolled, other_patient, iop, clinician):
    from tests.scheduling.conftest import enroll_with_history

    enroll_with_history(patient=other_patient, program=iop, start_on=enrolled.start_on, enrolled_by=clinician)
    return running_group


def _dashboard(client, user):
    client.force_login(user)
    return client.get(reverse("admin:index"))


def test_groups_to_record_lists_started_sessions_without_attendance_most_recent_first(client, site_clinician, group):
    response = _dashboard(client, site_clinician)

    sessions = response.context["dashboard"].groups_to_record
    starts = [s.starts_at for s in sessions]
    assert starts == sorted(starts, reverse=True) and all(s <= SHIFT for s in starts)
    assert starts[0] == dt.datetime(2026, 12, 7, 23, 0, tzinfo=dt.UTC)  # Monday 18:00 in New York
    assert len(sessions) == 3  # Mon Dec 7, Thu Dec 3, Wed Dec 2 (within the last 7 days)
    page = " ".join(response.content.decode().split())
    # The program's local time (not UTC's 11 p.m.) in the locale's format; no zone: it is the reader's own.
    assert "Dec. 7, 2026, 6 p.m.</strong>" in page and "EST" not in page
    assert "Dana Ortiz" in page and "dana.clinician" not in page  # the facilitator by display name
    assert reverse("admin:scheduling_session_attendance", args=[sessions[0].pk]) in page


def test_front_desk_sees_the_groups_without_taking_attendance(client, front_desk, group):
    response = _dashboard(client, front_desk)

    assert len(response.context["dashboard"].groups_to_record) == 3
    session = response.context["dashboard"].groups_to_record[0]
    assert reverse("admin:scheduling_session_attendance", args=[session.pk]) not in response.content.decode()
    url = reverse("admin:scheduling_session_attendance", args=[session.pk])
    assert client.get(url + "?everyone=present").status_code == 403


def test_a_colleague_at_another_site_sees_no_groups(client, colleague_elsewhere, group):
    assert _dashboard(client, colleague_elsewhere).context["dashboard"].groups_to_record == []


def test_mark_everyone_present_then_one_exception(client, site_clinician, group, patient, other_patient):
    session = _dashboard(client, site_clinician).context["dashboard"].groups_to_record[0]
    url = reverse("admin:scheduling_session_attendance", args=[session.pk])
    assert 'id="mark-everyone-present"' in client.get(url).content.decode()

    form = client.get(url, {"everyone": "present"}).context["form"]
    marks = {b.patient_id: form[f"mark_{b.pk}"].value() for b in form.bookings}
    assert marks == {patient.pk: "present", other_patient.pk: "present"}
    assert not Booking.objects.filter(session=session).exclude(attendance="").exists()  # nothing written yet

    data = {f"mark_{b.pk}": "present" for b in form.bookings}
    absent = next(b for b in form.bookings if b.patient_id == other_patient.pk)
    data[f"mark_{absent.pk}"] = "absent"
    assert client.post(url, data).status_code == 302

    recorded = dict(Booking.objects.filter(session=session).values_list("patient_id", "attendance"))
    assert recorded == {patient.pk: "present", other_patient.pk: "absent"}
    assert session.pk not in [s.pk for s in _dashboard(client, site_clinician).context["dashboard"].groups_to_record]
