"""Push devices (/me/devices/), and for staff the reminder outbox and follow-up items."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from reminders import services
from reminders.models import FollowUpItem, PushDevice, Reminder
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


# --- the patient's devices ------------------------------------------------------------------------------


def test_a_patient_registers_lists_and_removes_a_device(as_patient, patient):
    created = as_patient.post(reverse("api:me-devices"), {"token": "fcm-token-abc123", "platform": "android"})

    assert created.status_code == 201
    device = created.json()
    assert device["platform"] == "android" and device["token_ending"] == "abc123" and "token" not in device
    listed = as_patient.get(reverse("api:me-devices")).json()
    assert [d["id"] for d in listed["results"]] == [device["id"]]

    removed = as_patient.delete(reverse("api:me-device", args=[device["id"]]))

    assert removed.status_code == 204
    assert not PushDevice.objects.exists()
    actions = set(AuditEvent.objects.filter(patient=patient, category="messaging").values_list("action", flat=True))
    assert actions == {"create", "view", "delete"}


def test_a_device_registered_again_is_not_doubled(as_patient):
    for _ in range(2):
        assert as_patient.post(reverse("api:me-devices"), {"token": "same-token", "platform": "ios"}).status_code == 201
    assert PushDevice.objects.count() == 1


def test_bad_device_input_is_a_400(as_patient):
    response = as_patient.post(reverse("api:me-devices"), {"token": "  ", "platform": "windows-phone"})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"token", "platform"}


def test_another_patients_device_is_a_404_and_stays(api, other_patient_user, patient):
    theirs = services.register_push_device(patient=patient, token="alex-phone", platform="ios")
    api.force_authenticate(other_patient_user)

    assert api.delete(reverse("api:me-device", args=[theirs.public_id])).status_code == 404
    assert api.get(reverse("api:me-devices")).json()["results"] == []
    assert PushDevice.objects.filter(pk=theirs.pk).exists()


def test_devices_are_for_patients_only(api, site_clinician):
    assert api.get(reverse("api:me-devices")).status_code == 401
    api.force_authenticate(site_clinician)
    assert api.post(reverse("api:me-devices"), {"token": "x", "platform": "ios"}).status_code == 403


# --- staff: reminders ---------------------------------------------------------------------------------


def make_reminders(n: int, *, site, channel: str = "sms", **fields) -> list[Reminder]:
    """Sent reminders for ``n`` patients registered at ``site`` (a sent reminder needs no live target)."""
    now = timezone.now()
    rows = []
    for _ in range(n):
        patient = PatientFactory(registered_site=site)
        rows.append(
            Reminder(
                patient=patient,
                kind="24h",
                channel=channel,
                due_at=now - dt.timedelta(hours=1),
                event_at=now + dt.timedelta(hours=23),
                send_after=now - dt.timedelta(hours=1),
                status=fields.get("status", "sent"),
                status_reason=fields.get("status_reason", ""),
                sent_at=now if fields.get("status", "sent") == "sent" else None,
                idempotency_key=f"test:{uuid.uuid4()}",
            )
        )
    return Reminder.objects.bulk_create(rows)


REMINDER_FIELDS = {"id", "patient", "target", "target_id", "kind", "channel", "due_at", "send_after", "status"} | {
    "status_reason",
    "status_reason_text",
    "attempts",
    "sent_at",
    "created_at",
    "updated_at",
}


@pytest.mark.parametrize("persona", ["front_desk", "site_clinician", "program_admin", "superuser"])
def test_staff_of_the_site_see_its_reminders_with_status_and_reason_never_content(api, site, persona, request):
    api.force_authenticate(request.getfixturevalue(persona))
    [suppressed] = make_reminders(1, site=site, status="suppressed", status_reason="quiet_hours")

    response = api.get(reverse("api:reminder-list"))

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert set(row) == REMINDER_FIELDS
    assert row["id"] == str(suppressed.public_id) and row["patient"]["id"] == str(suppressed.patient.public_id)
    assert row["status_reason"] == "quiet_hours" and "Quiet hours" in row["status_reason_text"]
    detail = api.get(reverse("api:reminder-detail", args=[suppressed.public_id]))
    assert detail.status_code == 200 and set(detail.json()) == REMINDER_FIELDS


def test_reminder_filters(api, site, front_desk):
    make_reminders(2, site=site, channel="sms")
    [failed] = make_reminders(1, site=site, channel="email", status="failed", status_reason="provider_rejected")
    api.force_authenticate(front_desk)

    def ids(**params):
        return [r["id"] for r in api.get(reverse("api:reminder-list"), params).json()["results"]]

    assert ids(status="failed") == [str(failed.public_id)]
    assert ids(channel="email") == [str(failed.public_id)]
    assert ids(reason="provider_rejected") == [str(failed.public_id)]
    assert ids(patient=str(failed.patient.public_id)) == [str(failed.public_id)]
    assert len(ids(channel="sms")) == 2
    bad = api.get(reverse("api:reminder-list"), {"status": "lost"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_a_colleague_at_another_site_sees_no_reminders(api, site, colleague_elsewhere):
    [reminder] = make_reminders(1, site=site)
    api.force_authenticate(colleague_elsewhere)

    assert api.get(reverse("api:reminder-list")).json()["results"] == []
    assert api.get(reverse("api:reminder-detail", args=[reminder.public_id])).status_code == 404


def test_patients_and_anonymous_callers_get_no_reminders(api, site, as_patient):
    [reminder] = make_reminders(1, site=site)
    assert as_patient.get(reverse("api:reminder-list")).status_code == 403
    assert as_patient.get(reverse("api:reminder-detail", args=[reminder.public_id])).status_code == 403
    as_patient.force_authenticate(None)
    assert as_patient.get(reverse("api:reminder-list")).status_code == 401


def test_the_reminder_list_records_each_patient_on_the_page(api, site, front_desk):
    rows = make_reminders(3, site=site)
    api.force_authenticate(front_desk)

    api.get(reverse("api:reminder-list"))

    audited = AuditEvent.objects.filter(user=front_desk, action="view", category="messaging")
    assert set(audited.values_list("patient_id", flat=True)) == {r.patient_id for r in rows}


@pytest.mark.parametrize("rows", [5, 30])
def test_the_reminder_list_runs_constant_queries(api, site, front_desk, rows, django_assert_max_num_queries):
    make_reminders(rows, site=site)
    api.force_authenticate(front_desk)
    with django_assert_max_num_queries(6):
        response = api.get(reverse("api:reminder-list"), {"page_size": 100})
    assert len(response.json()["results"]) == rows


# --- staff: follow-up items -----------------------------------------------------------------------------


def make_follow_ups(n: int, *, program, **fields) -> list[FollowUpItem]:
    return [
        services.open_follow_up(
            program=program, patient=PatientFactory(registered_site=program.site), kind="missed_sessions", **fields
        )
        for _ in range(n)
    ]


def test_a_clinician_lists_follow_ups_urgent_first_and_filters_them(api, iop, site_clinician):
    [routine] = make_follow_ups(1, program=iop)
    [urgent] = make_follow_ups(1, program=iop, urgency="urgent")
    api.force_authenticate(site_clinician)

    def ids(**params):
        response = api.get(reverse("api:followup-list"), params)
        assert response.status_code == 200
        return [r["id"] for r in response.json()["results"]]

    assert ids() == [str(urgent.public_id), str(routine.public_id)]
    assert ids(urgency="urgent") == [str(urgent.public_id)]
    assert ids(kind="help_requested") == []
    assert ids(status="resolved") == []
    assert len(ids(status="open", program=str(iop.public_id))) == 2
    detail = api.get(reverse("api:followup-detail", args=[urgent.public_id])).json()
    assert detail["urgency"] == "urgent" and detail["program"]["name"] == iop.name
    assert AuditEvent.objects.filter(user=site_clinician, category="clinical", patient=urgent.patient).exists()


def test_a_clinician_resolves_a_follow_up_once(api, iop, site_clinician):
    [item] = make_follow_ups(1, program=iop)
    api.force_authenticate(site_clinician)
    url = reverse("api:followup-resolve", args=[item.public_id])

    response = api.post(url, {"note": "Called, booked a visit"})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "resolved" and body["resolved_by"] == site_clinician.username
    assert body["resolution_note"] == "Called, booked a visit"
    again = api.post(url, {})
    assert again.status_code == 400 and "already resolved" in again.json()["error"]["message"]
    assert AuditEvent.objects.filter(user=site_clinician, action="change", patient=item.patient).count() == 2


def test_front_desk_cannot_see_or_resolve_follow_ups(api, iop, front_desk):
    [item] = make_follow_ups(1, program=iop)
    api.force_authenticate(front_desk)

    assert api.get(reverse("api:followup-list")).status_code == 403
    assert api.get(reverse("api:followup-detail", args=[item.public_id])).status_code == 403
    assert api.post(reverse("api:followup-resolve", args=[item.public_id])).status_code == 403
    item.refresh_from_db()
    assert item.status == "open"


def test_a_colleague_elsewhere_sees_and_resolves_nothing(api, iop, colleague_elsewhere):
    [item] = make_follow_ups(1, program=iop)
    api.force_authenticate(colleague_elsewhere)

    assert api.get(reverse("api:followup-list")).json()["results"] == []
    assert api.get(reverse("api:followup-detail", args=[item.public_id])).status_code == 404
    assert api.post(reverse("api:followup-resolve", args=[item.public_id])).status_code == 404
    item.refresh_from_db()
    assert item.status == "open"


def test_patients_and_anonymous_callers_get_no_follow_ups(api, iop, as_patient):
    [item] = make_follow_ups(1, program=iop)
    assert as_patient.get(reverse("api:followup-list")).status_code == 403
    assert as_patient.post(reverse("api:followup-resolve", args=[item.public_id])).status_code == 403
    as_patient.force_authenticate(None)
    assert as_patient.get(reverse("api:followup-detail", args=[item.public_id])).status_code == 401


def test_an_unsupported_method_is_a_405_not_a_permission_error(api, site_clinician):
    api.force_authenticate(site_clinician)
    response = api.put(reverse("api:followup-list"), {})
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("rows", [5, 30])
def test_the_follow_up_list_runs_constant_queries(api, iop, site_clinician, rows, django_assert_max_num_queries):
    items = make_follow_ups(rows, program=iop)
    services.resolve_follow_up(item=items[0], resolved_by=site_clinician)
    api.force_authenticate(site_clinician)
    with django_assert_max_num_queries(6):
        response = api.get(reverse("api:followup-list"), {"page_size": 100})
    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("rows", [5, 30])
def test_the_device_list_runs_constant_queries(as_patient, patient, rows, django_assert_max_num_queries):
    for n in range(rows):
        services.register_push_device(patient=patient, token=f"token-{n}", platform="ios")
    with django_assert_max_num_queries(5):
        response = as_patient.get(reverse("api:me-devices"), {"page_size": 100})
    assert len(response.json()["results"]) == rows


def test_empty_filters_and_bad_page_sizes_are_400s(api, site_clinician):
    api.force_authenticate(site_clinician)
    for params in ({"status": ""}, {"patient": ""}, {"patient": "not-a-uuid"}, {"page_size": "abc"}, {"page_size": 0}):
        response = api.get(reverse("api:followup-list"), params)
        assert response.status_code == 400, params
        assert list(response.json()["error"]["fields"]) == [next(iter(params))]


def test_a_device_token_must_be_a_string(as_patient):
    assert as_patient.post(reverse("api:me-devices"), {"token": 12345, "platform": "ios"}).status_code == 400
    assert not PushDevice.objects.exists()


def test_devices_page_by_cursor_without_a_count(as_patient):
    for token in ("fcm-token-one-111111", "fcm-token-two-222222"):
        assert as_patient.post(reverse("api:me-devices"), {"token": token, "platform": "ios"}).status_code == 201
    first = as_patient.get(reverse("api:me-devices"), {"page_size": 1}).json()
    assert "count" not in first and first["next"] and first["previous"] is None
    second = as_patient.get(first["next"]).json()
    # Newest first; the two pages hold both devices once.
    assert [first["results"][0]["token_ending"], second["results"][0]["token_ending"]] == ["222222", "111111"]
