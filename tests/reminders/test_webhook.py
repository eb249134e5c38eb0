"""The inbound SMS webhook: STOP and START, with Twilio's signature checked."""

import datetime as dt

import pytest
from django.urls import reverse

from reminders import services
from reminders.models import Reason, Reminder, ReminderStatus, SmsOptOut
from reminders.views import twilio_signature

pytestmark = pytest.mark.django_db
TOKEN = "webhook-secret"


@pytest.fixture
def post(client, settings):
    settings.REMINDERS_TWILIO_AUTH_TOKEN = TOKEN

    def send(params: dict, *, token: str = TOKEN, signature: str | None = None):
        url = "http://testserver" + reverse("reminders:inbound-sms")
        sig = signature if signature is not None else twilio_signature(url=url, params=params, auth_token=token)
        return client.post(reverse("reminders:inbound-sms"), params, HTTP_X_TWILIO_SIGNATURE=sig)

    return send


@pytest.mark.parametrize("word", ["STOP", "stop", " Opt out ", "UNSUBSCRIBE", "quit", "End", "revoke", "CANCEL"])
def test_an_opt_out_word_stops_texts_at_once(post, make_checkin, today, word):
    checkin = make_checkin(due_on=today + dt.timedelta(days=3))
    services.plan_for(target="checkin", ids=[checkin.pk])
    phone = checkin.plan.patient.phone
    response = post({"From": phone, "To": "+14155550000", "Body": word, "MessageSid": "SM1"})
    assert response.status_code == 200 and b"<Response>" in response.content
    assert SmsOptOut.objects.filter(phone=phone).exists()
    sms = Reminder.objects.filter(checkin=checkin, channel="sms")
    assert {(r.status, r.status_reason) for r in sms} == {(ReminderStatus.SUPPRESSED, Reason.OPTED_OUT)}
    assert set(Reminder.objects.filter(checkin=checkin, channel="email").values_list("status", flat=True)) == {
        ReminderStatus.PENDING
    }


def test_start_resubscribes_and_other_text_changes_nothing(post):
    post({"From": "+14155550123", "Body": "STOP"})
    post({"From": "+14155550123", "Body": "see you tomorrow"})
    assert SmsOptOut.objects.filter(phone="+14155550123").exists()
    post({"From": "+14155550123", "Body": "unstop"})
    assert not SmsOptOut.objects.exists()


@pytest.mark.parametrize("how", ["wrong-token", "tampered", "missing"])
def test_a_bad_signature_is_refused(post, client, how):
    params = {"From": "+14155550123", "Body": "STOP"}
    if how == "wrong-token":
        response = post(params, token="not-the-token")
    elif how == "missing":
        response = post(params, signature="")
    else:
        url = "http://testserver" + reverse("reminders:inbound-sms")
        sig = twilio_signature(url=url, params={"From": "+14155550999", "Body": "STOP"}, auth_token=TOKEN)
        response = post(params, signature=sig)
    assert response.status_code == 403
    assert not SmsOptOut.objects.exists()


def test_signature_matches_twilio_algorithm():
    # HMAC-SHA1 over the URL followed by the parameters sorted by name, base64: computed independently here.
    import base64
    import hashlib
    import hmac

    url = "https://example.com/reminders/sms/inbound/?x=1"
    params = {"To": "+1800", "From": "+1415", "Body": "STOP"}
    payload = url + "BodySTOP" + "From+1415" + "To+1800"
    expected = base64.b64encode(hmac.new(b"tok", payload.encode(), hashlib.sha1).digest()).decode()
    assert twilio_signature(url=url, params=params, auth_token="tok") == expected
