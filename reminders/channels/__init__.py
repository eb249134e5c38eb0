"""Channel backends, chosen by dotted path in settings like Django's ``EMAIL_BACKEND``.

``REMINDERS_SMS_BACKEND``, ``REMINDERS_EMAIL_BACKEND`` and ``REMINDERS_PUSH_BACKEND``
each name a class with ``send(message) -> SendResult``. A backend raises
``TransientSendError`` for what may work later (timeouts, 429, 5xx) and
``PermanentSendError`` for what never will (a 4xx refusal, a bad address).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string


class SendError(Exception):
    pass


class TransientSendError(SendError):
    """Try again later (with backoff)."""


class PermanentSendError(SendError):
    """Do not try again; the reminder fails with this error kept."""


@dataclass(frozen=True)
class OutgoingMessage:
    channel: str
    to: tuple[str, ...]  # a phone number, an e-mail address, or the patient's device tokens
    body: str
    idempotency_key: str
    subject: str = ""
    title: str = ""
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    # Device tokens the provider says are gone (push): the dispatcher deactivates them.
    dead_tokens: tuple[str, ...] = ()


class BaseChannel:
    def send(self, message: OutgoingMessage) -> SendResult:  # pragma: no cover - interface
        raise NotImplementedError


_SETTING = {"sms": "REMINDERS_SMS_BACKEND", "email": "REMINDERS_EMAIL_BACKEND", "push": "REMINDERS_PUSH_BACKEND"}


@cache
def _backend(path: str) -> BaseChannel:
    # One instance per path and process, so HTTP backends keep their connection pool.
    return import_string(path)()


def get_channel(channel: str) -> BaseChannel:
    return _backend(getattr(settings, _SETTING[channel]))
