"""The real channel clients against real servers on loopback: HTTP (Twilio-compatible, FCM v1) and SMTP."""

import pytest

from reminders.channels import OutgoingMessage, PermanentSendError, TransientSendError, get_channel
from reminders.models import PushDevice
from tests.factories import PatientFactory


def sms(key="k1", to="+14155550123"):
    return OutgoingMessage(channel="sms", to=(to,), body="Riverside Health: reminder.", idempotency_key=key)


def test_twilio_channel_posts_the_form_with_basic_auth_and_the_idempotency_key(twilio):
    result = get_channel("sms").send(sms())
    [created] = twilio.log.created
    assert created == {
        "key": "k1",
        "to": "+14155550123",
        "from": "+14155550000",
        "body": "Riverside Health: reminder.",
        "sid": result.provider_message_id,
    }
    # A retried POST with the same key is the same message at the provider.
    assert get_channel("sms").send(sms()).provider_message_id == result.provider_message_id
    assert len(twilio.log.created) == 1 and twilio.log.repeats == 1


@pytest.mark.parametrize(
    ("mode", "error"),
    [("429", TransientSendError), ("500", TransientSendError), ("timeout", TransientSendError),
     ("400", PermanentSendError)],
)  # fmt: skip
def test_twilio_status_codes_map_to_retry_or_fail(twilio, mode, error):
    twilio.behaviour = lambda n, form: mode
    with pytest.raises(error):
        get_channel("sms").send(sms())


def test_twilio_wrong_credentials_fail_permanently(twilio, settings):
    settings.REMINDERS_TWILIO_AUTH_TOKEN = "wrong"
    with pytest.raises(PermanentSendError, match="401"):
        get_channel("sms").send(sms())


def test_an_unreachable_provider_is_transient(settings):
    settings.REMINDERS_SMS_BACKEND = "reminders.channels.http.TwilioSmsChannel"
    settings.REMINDERS_TWILIO_API_BASE = "http://127.0.0.1:9"  # discard port: nothing listens
    with pytest.raises(TransientSendError):
        get_channel("sms").send(sms())


@pytest.mark.django_db
def test_fcm_sends_to_each_device_with_a_bearer_token_and_reports_dead_ones(fcm):
    message = OutgoingMessage(
        channel="push",
        to=("live-1", "dead-2"),
        body="Your check-in on Tue 3 Mar.",
        title="Reminder",
        idempotency_key="p1",
    )
    result = get_channel("push").send(message)
    assert [m["token"] for m in fcm.log.created] == ["live-1"]
    assert fcm.log.created[0]["notification"] == {"title": "Reminder", "body": "Your check-in on Tue 3 Mar."}
    assert result.dead_tokens == ("dead-2",)
    with pytest.raises(PermanentSendError):
        get_channel("push").send(OutgoingMessage(channel="push", to=("dead-3",), body="x", idempotency_key="p2"))
    PushDevice.objects.create(patient=PatientFactory(), token="dead-2", platform="ios")  # deactivation is a service
    from reminders.services import deactivate_push_tokens

    assert deactivate_push_tokens(tokens=result.dead_tokens) == 1


def test_email_goes_through_a_real_smtp_server(smtp):
    message = OutgoingMessage(
        channel="email", to=("alex@example.org",), subject="Reminder from Riverside Health: Tue 3 Mar",
        body="Hello,\n\nThis is a reminder.", idempotency_key="e1",
    )  # fmt: skip
    result = get_channel("email").send(message)
    [received] = smtp.messages
    assert received["to"] == ["alex@example.org"]
    assert "Subject: Reminder from Riverside Health: Tue 3 Mar" in received["data"]
    assert f"Message-ID: {result.provider_message_id}" in received["data"]
    # The same key gives the same Message-ID, so a re-sent e-mail is recognisably the same message.
    assert get_channel("email").send(message).provider_message_id == result.provider_message_id


def test_email_to_a_dead_smtp_server_is_transient(settings):
    from tests.reminders.fakes import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    message = OutgoingMessage(channel="email", to=("a@example.org",), subject="s", body="b", idempotency_key="e2")
    with pytest.raises(TransientSendError):
        get_channel("email").send(message)
