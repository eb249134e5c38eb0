"""/api/v1/me/aftercare/: the patient's plan and check-ins, and answering one ("I need help" reaches staff)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib.admin.sites import site as admin_site
from django.test import RequestFactory
from django.urls import reverse

from clinic.models import AuditEvent
from programs import services
from programs.models import AftercareCheckIn
from reminders.channels.console import LocmemChannel
from reminders.models import FollowUpItem, Reminder, ReminderStatus
from reminders.services import plan_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def discharged(iop, clinician, today):
    """Discharge a patient from the Evening IOP yesterday; their check-ins are the program's defaults."""

    def make(patient):
        enrollment = services.enroll_in_iop(
            patient=patient, program=iop, start_on=today - dt.timedelta(days=20), enrolled_by=clinician
        )
        services.discharge(
            episode=enrollment.episode, on=today - dt.timedelta(days=1), disposition="completed", decided_by=clinician
        )
        return AftercareCheckIn.objects.filter(plan__patient=patient).order_by("due_on")

    return make


@pytest.fixture
def checkin(discharged, patient, today):
    """The patient's first check-in, due today (so it can be answered)."""
    first = discharged(patient).first()
    AftercareCheckIn.objects.filter(pk=first.pk).update(due_on=today)
    first.refresh_from_db()
    return first


def answer_url(checkin) -> str:
    return reverse("api:me-aftercare-checkin-answer", args=[checkin.public_id])


def test_a_patient_reads_their_plan_and_check_ins(as_patient, patient, checkin):
    response = as_patient.get(reverse("api:me-aftercare"))

    assert response.status_code == 200
    plan = response.json()
    assert plan["status"] == "active" and plan["program"] == "Evening IOP"
    days = [c["day"] for c in plan["checkins"]]
    assert days == sorted(days) and len(days) == checkin.plan.checkins.count()
    first = plan["checkins"][0]
    assert first["id"] == str(checkin.public_id)
    assert first["can_answer"] is True and first["answer"] is None
    # Later check-ins open the day before they are due.
    assert all(c["can_answer"] is False for c in plan["checkins"][1:])
    assert AuditEvent.objects.filter(patient=patient, action="view", category="clinical").exists()


def test_no_plan_is_a_404_with_the_error_body(as_patient):
    response = as_patient.get(reverse("api:me-aftercare"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_aftercare_plan"


def test_answering_completes_the_check_in_and_cancels_its_reminders(as_patient, patient, checkin):
    plan_for(target="checkin", ids=[checkin.pk])
    assert Reminder.objects.filter(checkin=checkin, status=ReminderStatus.PENDING).exists()

    response = as_patient.post(answer_url(checkin), {"mood": 4, "text": "Going to meetings, sleeping better."})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed" and body["can_answer"] is False
    assert body["answer"]["mood"] == 4 and body["answer"]["needs_help"] is False
    checkin.refresh_from_db()
    assert checkin.answered_at is not None and checkin.completed_at is not None
    assert checkin.answer_text == "Going to meetings, sleeping better."
    assert not Reminder.objects.filter(checkin=checkin, status=ReminderStatus.PENDING).exists()
    assert not FollowUpItem.objects.exists()
    assert AuditEvent.objects.filter(patient=patient, action="change", category="clinical").count() == 1
    # The patient reads their answer back.
    detail = as_patient.get(reverse("api:me-aftercare-checkin", args=[checkin.public_id])).json()
    assert detail["answer"]["text"] == "Going to meetings, sleeping better."


def test_i_need_help_opens_exactly_one_urgent_follow_up_and_sends_the_patient_nothing(
    as_patient, patient, checkin, iop
):
    LocmemChannel.outbox.clear()

    first = as_patient.post(answer_url(checkin), {"mood": 1, "needs_help": True, "text": "Not good."})
    again = as_patient.post(answer_url(checkin), {"needs_help": True})

    assert first.status_code == 200 and first.json()["answer"]["needs_help"] is True
    assert again.status_code == 409 and again.json()["error"]["code"] == "checkin_closed"
    item = FollowUpItem.objects.get()
    assert (item.kind, item.urgency, item.status) == ("help_requested", "urgent", "open")
    assert item.patient == patient and item.program == iop
    # The follow-up points staff to the check-in; the patient's own words stay on the check-in.
    assert "Not good" not in item.details
    assert LocmemChannel.outbox == []


def test_help_alone_is_enough_but_an_empty_answer_is_not(as_patient, checkin):
    empty = as_patient.post(answer_url(checkin), {"text": "hi"})
    assert empty.status_code == 400 and list(empty.json()["error"]["fields"]) == ["mood"]

    out_of_range = as_patient.post(answer_url(checkin), {"mood": 9})
    assert out_of_range.status_code == 400 and "mood" in out_of_range.json()["error"]["fields"]

    assert as_patient.post(answer_url(checkin), {"needs_help": True}).status_code == 200
    assert FollowUpItem.objects.filter(urgency="urgent").count() == 1


def test_a_check_in_not_open_yet_is_refused(as_patient, patient, checkin, today):
    AftercareCheckIn.objects.filter(pk=checkin.pk).update(due_on=today + dt.timedelta(days=5))
    response = as_patient.post(answer_url(checkin), {"mood": 3})
    assert response.status_code == 409 and response.json()["error"]["code"] == "checkin_not_open_yet"
    checkin.refresh_from_db()
    assert checkin.answered_at is None and checkin.status == "scheduled"


def test_another_patients_check_in_is_a_404_and_stays_unanswered(
    api, other_patient_user, checkin, discharged, other_patient
):
    discharged(other_patient)
    api.force_authenticate(other_patient_user)

    assert api.get(reverse("api:me-aftercare-checkin", args=[checkin.public_id])).status_code == 404
    assert api.post(answer_url(checkin), {"mood": 1, "needs_help": True}).status_code == 404
    assert api.get(reverse("api:me-aftercare")).json()["checkins"][0]["id"] != str(checkin.public_id)
    checkin.refresh_from_db()
    assert checkin.answered_at is None and not FollowUpItem.objects.exists()


def test_an_unknown_check_in_is_a_404(as_patient):
    assert as_patient.post(answer_url(type("C", (), {"public_id": uuid.uuid4()})), {"mood": 3}).status_code == 404


def test_anonymous_gets_401_and_staff_get_403(api, checkin, site_clinician):
    assert api.get(reverse("api:me-aftercare")).status_code == 401
    assert api.post(answer_url(checkin), {"mood": 3}).status_code == 401
    api.force_authenticate(site_clinician)
    assert api.get(reverse("api:me-aftercare")).status_code == 403
    assert api.post(answer_url(checkin), {"mood": 3}).status_code == 403


def test_the_plan_costs_the_same_queries_however_many_check_ins(
    as_patient, patient, checkin, django_assert_max_num_queries
):
    with django_assert_max_num_queries(5):
        assert as_patient.get(reverse("api:me-aftercare")).status_code == 200


def _admin_request(user):
    request = RequestFactory().get("/admin/programs/aftercarecheckin/")
    request.user = user
    return request


def test_front_desk_never_sees_answers_in_the_admin(front_desk, site_clinician, checkin):
    services.answer_checkin(checkin=checkin, mood=2, text="Rough week", needs_help=True)
    checkin_admin = admin_site._registry[AftercareCheckIn]
    answer_fields = {"mood", "answer_text", "needs_help", "answered_at"}

    desk = _admin_request(front_desk)
    assert not answer_fields & set(checkin_admin.get_fields(desk, checkin))
    assert not answer_fields & set(checkin_admin.get_list_display(desk))
    assert "needs_help" not in checkin_admin.get_list_filter(desk)

    clinician = _admin_request(site_clinician)
    assert answer_fields <= set(checkin_admin.get_fields(clinician, checkin))


def test_answers_must_have_the_json_types_the_schema_declares(as_patient, checkin):
    assert as_patient.post(answer_url(checkin), {"mood": "3"}).status_code == 400
    assert as_patient.post(answer_url(checkin), {"mood": 3, "needs_help": 1}).status_code == 400
    assert as_patient.post(answer_url(checkin), {"mood": 3, "text": 42}).status_code == 400
    form = as_patient.post(answer_url(checkin), {"mood": 3}, format="multipart")
    assert form.status_code == 415 and form.json()["error"]["code"] == "unsupported_media_type"
    checkin.refresh_from_db()
    assert checkin.answered_at is None
