"""Issue 13: from "staff pressed Invite" to the patient's sessions in the app, through the HTTP API only.

The invitation and reset codes go through the reminder channels to the fake SMS provider
(HTTP) and a real SMTP server; the app activates, signs in, resets its password and is
cut off when staff deactivate it.
"""

from __future__ import annotations

import datetime as dt
import email
import logging
import re

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts import api as accounts_api
from accounts.models import MAX_FAILURES, AccessCode
from clinic import clock
from clinic.models import AuditEvent
from reminders.models import PushDevice, SmsOptOut

pytestmark = pytest.mark.django_db

CODE = re.compile(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}\b")
PASSWORD = "lantern-harbor-quietly-47"
NEW_PASSWORD = "orchard-copper-evening-58"


def _staff(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _mail_text(message: dict) -> str:
    parsed = email.message_from_bytes(message["data"].encode())
    return parsed.get_payload(decode=True).decode(parsed.get_content_charset() or "utf-8")


def _invite(staff, patient):
    return _staff(staff).post(f"/api/v1/patients/{patient.public_id}/invitations/")


def _codes_in(text: str) -> list[str]:
    return CODE.findall(text)


@pytest.fixture
def open_throttles(monkeypatch):
    """For tests about the code's own failure count: the address and per-code throttles out of the way."""
    monkeypatch.setattr(accounts_api.PerClientThrottle, "rate", "1000/minute", raising=False)
    monkeypatch.setattr(accounts_api.PerCodeThrottle, "rate", "1000/minute", raising=False)


def test_from_invitation_to_sessions_then_reset_and_deactivation(world, site_clinician, twilio, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    alex = world.patient
    alex.email = "alex@example.org"
    alex.save(update_fields=["email"])

    # Staff press Invite: the code goes out by text and by e-mail, never in the answer.
    answer = _invite(site_clinician, alex)
    assert answer.status_code == 201, answer.json()
    assert answer.json()["sent_via"] == ["sms", "email"] and answer.json()["code"] is None
    text = twilio.log.created[-1]
    assert text["to"] == alex.phone
    assert "your code to set up the app" in text["body"] and "expires in 3 days" in text["body"]
    (code,) = set(_codes_in(text["body"]))
    (mail,) = smtp.messages
    assert mail["to"] == ["alex@example.org"] and code in _mail_text(mail)

    # The app redeems it and is signed in.
    app = APIClient()
    activated = app.post("/api/v1/auth/activate/", {"code": code.lower(), "username": "alex.r", "password": PASSWORD})
    assert activated.status_code == 201, activated.json()
    alex.refresh_from_db()
    assert alex.user.username == "alex.r" and not alex.user.is_staff
    # A used code gets the same answer as any other bad code.
    again = app.post("/api/v1/auth/activate/", {"code": code, "username": "alex.s", "password": PASSWORD})
    assert again.status_code == 400 and again.json()["error"]["code"] == "code_invalid"

    # Later: sign in with the chosen login, see the profile and the sessions.
    tokens = app.post("/api/v1/auth/token/", {"username": "alex.r", "password": PASSWORD}).json()
    me = _bearer(tokens["access"])
    assert me.get("/api/v1/me/").json()["mrn"] == alex.mrn
    sessions = me.get("/api/v1/me/sessions/?when=upcoming").json()
    assert sessions["results"] and sessions["results"][0]["status"] == "booked"  # cursor pages: no count (issue 17)
    me.post("/api/v1/me/devices/", {"token": "fcm-" + "c" * 40, "platform": "ios"}, format="json")

    # Forgotten password: the same answer for a real and an unknown login; the code comes by text.
    sent_before = len(twilio.log.created)
    unknown = app.post("/api/v1/auth/password-reset/", {"login": "nobody.here"})
    assert len(twilio.log.created) == sent_before
    known = app.post("/api/v1/auth/password-reset/", {"login": "alex.r"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()
    (reset_code,) = set(_codes_in(twilio.log.created[-1]["body"]))
    assert "choose a new password" in twilio.log.created[-1]["body"]
    confirmed = app.post("/api/v1/auth/password-reset/confirm/", {"code": reset_code, "password": NEW_PASSWORD})
    assert confirmed.status_code == 204, confirmed.json()
    # Every refresh token of the account is revoked; the new password works.
    refused = app.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refused.status_code == 401
    assert app.post("/api/v1/auth/token/", {"username": "alex.r", "password": PASSWORD}).status_code == 401
    tokens = app.post("/api/v1/auth/token/", {"username": "alex.r", "password": NEW_PASSWORD}).json()
    me = _bearer(tokens["access"])
    assert me.get("/api/v1/me/").status_code == 200

    # A lost phone: staff deactivate; the next request with the still-valid access token is refused.
    gone = _staff(site_clinician).delete(f"/api/v1/patients/{alex.public_id}/app-access/")
    assert gone.status_code == 200 and gone.json()["state"] == "deactivated"
    assert me.get("/api/v1/me/").status_code == 401
    assert app.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}).status_code == 401
    assert app.post("/api/v1/auth/token/", {"username": "alex.r", "password": NEW_PASSWORD}).status_code == 401
    assert not PushDevice.objects.filter(patient=alex).exists()
    # A reset cannot bring a deactivated account back; only a new invitation can.
    sent_before = len(twilio.log.created)
    app.post("/api/v1/auth/password-reset/", {"login": "alex.r"})
    assert len(twilio.log.created) == sent_before

    _invite(site_clinician, alex)
    (code,) = set(_codes_in(twilio.log.created[-1]["body"]))
    restored = app.post("/api/v1/auth/activate/", {"code": code, "email": "Alex@Example.org", "password": PASSWORD})
    assert restored.status_code == 201, restored.json()
    assert _bearer(restored.json()["access"]).get("/api/v1/me/").status_code == 200
    alex.refresh_from_db()
    assert alex.user.username == "alex@example.org" and alex.user.is_active

    # Every step is in the trail; no code, password or token in the trail or the logs.
    details = list(AuditEvent.objects.filter(patient=alex).values_list("detail", flat=True))
    for step in ("app invitation sent via sms, email", "app access activated", "password reset; refresh tokens revoked",
                 "app access deactivated"):  # fmt: skip
        assert step in details
    secrets = [code, reset_code, PASSWORD, NEW_PASSWORD, tokens["refresh"], tokens["access"]]
    for row in AuditEvent.objects.values("detail", "path", "username", "object_id"):
        assert not any(secret in str(value) for secret in secrets for value in row.values())
    # (The fake SMTP server's own debug log, which shows what it received, is not ours.)
    ours = "\n".join(record.getMessage() for record in caplog.records if not record.name.startswith("mail."))
    assert ours and not any(secret in ours for secret in secrets)


def test_a_patient_without_consent_or_with_confidential_communication_gets_the_code_in_person(
    world, site_clinician, twilio, smtp
):
    alex = world.patient
    alex.confidential_communication = True
    alex.save(update_fields=["confidential_communication"])
    answer = _invite(site_clinician, alex)
    assert answer.status_code == 201
    body = answer.json()
    assert body["sent_via"] == [] and CODE.fullmatch(body["code"])
    assert twilio.log.created == [] and smtp.messages == []
    # Stored only as hashes.
    record = AccessCode.objects.get(patient=alex)
    assert body["code"] not in f"{record.lookup}{record.code_hash}"


def test_a_stop_reply_or_a_text_not_allowed_keeps_the_code_off_that_channel(world, site_clinician, twilio, smtp):
    alex = world.patient
    SmsOptOut.objects.create(phone=alex.phone, keyword="STOP")
    assert _invite(site_clinician, alex).json()["sent_via"] == ["email"]
    assert twilio.log.created == []


def test_one_open_invitation_a_new_one_revokes_the_old(world, site_clinician, twilio, smtp):
    alex = world.patient
    _invite(site_clinician, alex)
    (first,) = set(_codes_in(twilio.log.created[-1]["body"]))
    _invite(site_clinician, alex)
    assert AccessCode.objects.filter(patient=alex, used_at=None, revoked_at=None).count() == 1
    answer = APIClient().post("/api/v1/auth/activate/", {"code": first, "username": "alex.r", "password": PASSWORD})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "code_invalid"


def test_postgresql_refuses_a_second_open_invitation(world):
    from django.db import IntegrityError, transaction

    alex = world.patient
    now = clock.now()
    fields = {"patient": alex, "purpose": "invitation", "expires_at": now + dt.timedelta(days=3)}
    AccessCode.objects.create(lookup="a", code_hash="a", **fields)
    with pytest.raises(IntegrityError, match="accesscode_one_open_per_patient"), transaction.atomic():
        AccessCode.objects.create(lookup="b", code_hash="b", **fields)


def test_used_expired_and_revoked_codes_get_one_answer(world, site_clinician, twilio, smtp, open_throttles):
    alex, app = world.patient, APIClient()

    def code_of_new_invitation() -> str:
        _invite(site_clinician, alex)
        return _codes_in(twilio.log.created[-1]["body"])[0]

    revoked = code_of_new_invitation()
    used = code_of_new_invitation()
    assert (
        app.post("/api/v1/auth/activate/", {"code": used, "username": "alex.r", "password": PASSWORD}).status_code
        == 201
    )
    expired = code_of_new_invitation()
    answers = [app.post("/api/v1/auth/activate/", {"code": c, "username": "alex.q", "password": PASSWORD}).json()
               for c in (revoked, used)]  # fmt: skip
    with time_machine.travel(clock.now() + dt.timedelta(hours=72, minutes=1), tick=True):
        answers.append(
            app.post("/api/v1/auth/activate/", {"code": expired, "username": "alex.q", "password": PASSWORD}).json()
        )
        answers.append(app.post("/api/v1/auth/activate/", {"code": "2345-6789", "password": PASSWORD}).json())
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0]["error"]["code"] == "code_invalid"


def test_a_code_dies_after_five_failures(world, site_clinician, twilio, smtp, open_throttles):
    alex, app = world.patient, APIClient()
    _invite(site_clinician, alex)
    (code,) = set(_codes_in(twilio.log.created[-1]["body"]))
    head, tail = code.split("-")
    wrong = [f"{head}-{t}" for t in ("2222", "3333", "4444", "5555", "6666", "7777") if t != tail][:MAX_FAILURES]
    for guess in wrong:
        answer = app.post("/api/v1/auth/activate/", {"code": guess, "username": "mallory", "password": PASSWORD})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "code_invalid"
    record = AccessCode.objects.get(patient=alex)
    assert record.failures == MAX_FAILURES and record.revoked_at is not None
    late = app.post("/api/v1/auth/activate/", {"code": code, "username": "alex.r", "password": PASSWORD})
    assert late.status_code == 400 and late.json()["error"]["code"] == "code_invalid"
    assert AuditEvent.objects.filter(action="login_failed", detail="app code").count() == MAX_FAILURES + 1


def test_four_failures_leave_the_code_usable(world, site_clinician, twilio, smtp, open_throttles):
    alex, app = world.patient, APIClient()
    _invite(site_clinician, alex)
    (code,) = set(_codes_in(twilio.log.created[-1]["body"]))
    head, tail = code.split("-")
    for guess in [f"{head}-{t}" for t in ("2222", "3333", "4444", "5555", "6666") if t != tail][: MAX_FAILURES - 1]:
        app.post("/api/v1/auth/activate/", {"code": guess, "username": "mallory", "password": PASSWORD})
    answer = app.post("/api/v1/auth/activate/", {"code": code, "username": "alex.r", "password": PASSWORD})
    assert answer.status_code == 201


def test_a_guessing_storm_from_one_address_is_throttled(world, site_clinician, twilio, smtp):
    app = APIClient()
    statuses = [
        app.post("/api/v1/auth/activate/", {"code": f"{n:04d}-ABCD".replace("0", "2").replace("1", "3"),
                                             "username": "mallory", "password": PASSWORD}).status_code
        for n in range(25)
    ]  # fmt: skip
    assert statuses[:10] == [400] * 10 and set(statuses[10:]) == {429}


def test_guesses_at_one_code_are_throttled_from_every_address(world, site_clinician, twilio, smtp):
    app = APIClient()
    statuses = [
        app.post("/api/v1/auth/activate/", {"code": f"WXYZ-{t}", "password": PASSWORD},
                 REMOTE_ADDR=f"198.51.100.{n}").status_code
        for n, t in enumerate(("2222", "3333", "4444", "5555", "6666", "7777", "8888"))
    ]  # fmt: skip
    assert statuses[:5] == [400] * 5 and set(statuses[5:]) == {429}


def test_a_weak_password_is_refused_and_the_code_still_works(world, site_clinician, twilio, smtp):
    alex, app = world.patient, APIClient()
    _invite(site_clinician, alex)
    (code,) = set(_codes_in(twilio.log.created[-1]["body"]))
    weak = app.post("/api/v1/auth/activate/", {"code": code, "username": "alex.r", "password": "password123"})
    assert weak.status_code == 400 and weak.json()["error"]["code"] == "password_rejected"
    assert "password" in weak.json()["error"]["fields"]
    alex.refresh_from_db()
    assert alex.user is None
    assert (
        app.post("/api/v1/auth/activate/", {"code": code, "username": "alex.r", "password": PASSWORD}).status_code
        == 201
    )


def test_a_taken_username_is_refused(world, site_clinician, twilio, smtp):
    alex, app = world.patient, APIClient()
    _invite(site_clinician, alex)
    (code,) = set(_codes_in(twilio.log.created[-1]["body"]))
    taken = app.post(
        "/api/v1/auth/activate/", {"code": code, "username": site_clinician.username.upper(), "password": PASSWORD}
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "username_taken"


def test_the_wrong_people_cannot_invite_or_deactivate(world, colleague_elsewhere, patient_user, twilio, smtp):
    alex = world.patient
    for client, expected in ((APIClient(), 401), (_staff(patient_user), 403), (_staff(colleague_elsewhere), 404)):
        assert client.post(f"/api/v1/patients/{alex.public_id}/invitations/").status_code == expected
        assert client.delete(f"/api/v1/patients/{alex.public_id}/app-access/").status_code == expected
    assert not AccessCode.objects.exists()
    patient_user.refresh_from_db()
    assert patient_user.is_active


def test_staff_see_the_app_access_state(world, site_clinician, twilio, smtp):
    alex = world.patient
    url = f"/api/v1/patients/{alex.public_id}/app-access/"
    assert _staff(site_clinician).get(url).json()["state"] == "none"
    _invite(site_clinician, alex)
    state = _staff(site_clinician).get(url).json()
    assert state["state"] == "invited" and state["invitation_sent_via"] == ["sms", "email"]


def test_a_staff_login_cannot_be_reset_or_taken_over_through_the_app(world, site_clinician, twilio, smtp):
    app = APIClient()
    answer = app.post("/api/v1/auth/password-reset/", {"login": site_clinician.username})
    assert answer.status_code == 202
    assert twilio.log.created == [] and smtp.messages == [] and not AccessCode.objects.exists()


def test_reset_requests_for_one_login_are_throttled_from_every_address(world, patient_user, twilio, smtp):
    app = APIClient()
    statuses = [
        app.post("/api/v1/auth/password-reset/", {"login": "Alex.Patient"}, REMOTE_ADDR=f"203.0.113.{n}").status_code
        for n in range(5)
    ]
    assert statuses == [202, 202, 202, 429, 429]
    # Three codes were made (each revoking the one before): three texts at most, whoever asks.
    assert len(twilio.log.created) == 3
    assert AccessCode.objects.filter(patient=world.patient, used_at=None, revoked_at=None).count() == 1


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"failures": MAX_FAILURES}, "accesscode_dead_after_failures"),
        ({"used_at": "now", "revoked_at": "now"}, "accesscode_used_or_revoked"),
        ({"expires_at": "past"}, "accesscode_expires_later"),
    ],
)
def test_postgresql_keeps_the_codes_rules_even_around_the_services(world, changes, constraint):
    from django.db import IntegrityError, transaction

    now = clock.now()
    record = AccessCode.objects.create(
        patient=world.patient, purpose="invitation", lookup="a", code_hash="a", expires_at=now + dt.timedelta(days=3)
    )
    values = {"now": now, "past": now - dt.timedelta(days=1)}
    update = {field: values.get(value, value) for field, value in changes.items()}
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        AccessCode.objects.filter(pk=record.pk).update(**update)
