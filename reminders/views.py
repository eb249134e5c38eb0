"""Inbound SMS webhook (Twilio-compatible): STOP/START keywords, signature verified."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from reminders.services import handle_inbound_sms

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def twilio_signature(*, url: str, params: dict[str, list[str]] | dict[str, str], auth_token: str) -> str:
    """Base64 HMAC-SHA1 of the full URL followed by each POST parameter name and value, sorted by name."""
    payload = url
    for name in sorted(params):
        values = params[name]
        for value in sorted(values) if isinstance(values, list) else [values]:
            payload += f"{name}{value}"
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _public_url(request: HttpRequest) -> str:
    # Behind a proxy the URL Twilio signed is the public one, not what Django sees.
    base = settings.REMINDERS_SMS_WEBHOOK_BASE_URL
    return f"{base.rstrip('/')}{request.get_full_path()}" if base else request.build_absolute_uri()


@csrf_exempt
@require_POST
def inbound_sms(request: HttpRequest) -> HttpResponse:
    token = settings.REMINDERS_TWILIO_AUTH_TOKEN
    given = request.headers.get("X-Twilio-Signature", "")
    expected = twilio_signature(url=_public_url(request), params=dict(request.POST.lists()), auth_token=token)
    if not token or not hmac.compare_digest(given, expected):
        logger.warning("inbound SMS with a bad signature refused")
        return HttpResponseForbidden("bad signature")
    sender = request.POST.get("From", "")
    outcome = handle_inbound_sms(from_phone=sender, body=request.POST.get("Body", ""))
    if outcome:
        logger.info("inbound SMS keyword: %s", outcome)
    # The provider sends the carrier-required STOP/START confirmations itself: answer with no message.
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
