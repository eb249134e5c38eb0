"""SMS through a Twilio-compatible HTTP API and push through FCM HTTP v1."""

from __future__ import annotations

import threading

import requests
from django.conf import settings
from django.utils.module_loading import import_string

from reminders.channels import BaseChannel, OutgoingMessage, PermanentSendError, SendResult, TransientSendError


def _classify(response: requests.Response, what: str) -> None:
    """Map a provider status to retry (429, 5xx) or fail (other 4xx)."""
    if response.status_code < 300:
        return
    detail = f"{what} HTTP {response.status_code}: {response.text[:300]}"
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(detail)
    raise PermanentSendError(detail)


class _HttpChannel(BaseChannel):
    def __init__(self) -> None:
        # requests.Session is not documented as thread-safe: one per thread (thread pools, the test worker).
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _post(self, url: str, *, what: str, **kwargs) -> requests.Response:
        timeout = (settings.REMINDERS_HTTP_CONNECT_TIMEOUT, settings.REMINDERS_HTTP_READ_TIMEOUT)
        try:
            response = self.session.post(url, timeout=timeout, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as error:
            raise TransientSendError(f"{what}: {type(error).__name__}: {error}") from error
        _classify(response, what)
        return response


class TwilioSmsChannel(_HttpChannel):
    """POST /2010-04-01/Accounts/{AccountSid}/Messages.json (form-encoded, HTTP basic auth with SID and token)."""

    def send(self, message: OutgoingMessage) -> SendResult:
        sid = settings.REMINDERS_TWILIO_ACCOUNT_SID
        url = f"{settings.REMINDERS_TWILIO_API_BASE.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
        data = {"To": message.to[0], "Body": message.body}
        if settings.REMINDERS_TWILIO_MESSAGING_SERVICE_SID:
            data["MessagingServiceSid"] = settings.REMINDERS_TWILIO_MESSAGING_SERVICE_SID
        else:
            data["From"] = settings.REMINDERS_TWILIO_FROM_NUMBER
        response = self._post(
            url,
            what="SMS provider",
            data=data,
            auth=(sid, settings.REMINDERS_TWILIO_AUTH_TOKEN),
            # Providers that support it use the key to turn a retried POST into the same message
            # (the window between the provider accepting and us recording it survives a crash).
            headers={"Idempotency-Key": message.idempotency_key, "I-Twilio-Idempotency-Token": message.idempotency_key},
        )
        try:
            provider_id = response.json()["sid"]
        except (ValueError, KeyError) as error:
            raise TransientSendError(f"SMS provider: unreadable answer {response.text[:200]!r}") from error
        return SendResult(provider_message_id=provider_id)


def static_fcm_token() -> str:
    """The default FCM token provider: ``REMINDERS_FCM_ACCESS_TOKEN`` as configured (e.g. refreshed by a sidecar)."""
    return settings.REMINDERS_FCM_ACCESS_TOKEN


class FcmPushChannel(_HttpChannel):
    """POST /v1/projects/{project}/messages:send, one request per device token, with an OAuth2 bearer token.

    ``REMINDERS_FCM_TOKEN_PROVIDER`` names a callable returning a current access token
    (for example one built on google-auth's service-account credentials); the default
    returns the static ``REMINDERS_FCM_ACCESS_TOKEN``.
    """

    def send(self, message: OutgoingMessage) -> SendResult:
        project = settings.REMINDERS_FCM_PROJECT_ID
        url = f"{settings.REMINDERS_FCM_API_BASE.rstrip('/')}/v1/projects/{project}/messages:send"
        token = import_string(settings.REMINDERS_FCM_TOKEN_PROVIDER)()
        sent: list[str] = []
        dead: list[str] = []
        transient: list[str] = []
        for device_token in message.to:
            payload = {
                "message": {
                    "token": device_token,
                    "notification": {"title": message.title, "body": message.body},
                    "data": {"reminder": message.idempotency_key, **message.data},
                }
            }
            try:
                response = self._post(url, what="FCM", json=payload, headers={"Authorization": f"Bearer {token}"})
            except TransientSendError as error:
                transient.append(str(error))
                continue
            except PermanentSendError as error:
                if "HTTP 401" in str(error) or "HTTP 403" in str(error):
                    raise  # our credentials, not the device: no device is to blame
                # 404 UNREGISTERED / 400 INVALID_ARGUMENT: the token is gone; other devices may still work.
                dead.append(device_token)
                continue
            sent.append(response.json().get("name", ""))
        if sent:
            return SendResult(provider_message_id=",".join(sent)[:128], dead_tokens=tuple(dead))
        if transient:
            raise TransientSendError("; ".join(transient)[:500])
        raise PermanentSendError(f"no live device token ({len(dead)} unregistered)")
