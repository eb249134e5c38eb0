"""Logging filters: no patient data in logs, and every line carries its request id.

The code logs ids, not names; this filter is the net under that rule for what
third-party code logs (django-axes logs the username tried, which a patient may
have set to their e-mail; runserver and gunicorn log query strings such as an
admin search for a surname; Django logs "Not Found: <path>" for a 404, and a
calendar feed's path is its capability token). It masks e-mail addresses, phone
numbers, query strings, calendar tokens in paths and JWTs in the message and in
any traceback text. gunicorn.conf.py puts the same filter on gunicorn's own logs.
"""

from __future__ import annotations

import contextvars
import logging
import re

# Set by clinic.audit.AuditMiddleware for the length of a request; "-" outside one.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("clinic_request_id", default="-")

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# E.164 (+14155550132) and national forms ((415) 555-0132, 415-555-0132, 415.555.0132).
_PHONE = re.compile(r"(?<!\w)(?:\+\d{7,15}|\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4})(?!\w)")
# A query string after a path: everything up to the next whitespace or quote.
_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")
# The calendar feed's path is its capability (/calendar/<token>.ics): a valid, rotated or made-up token alike.
_CALENDAR_TOKEN = re.compile(r"(/calendar/)[^\s/?\"']+?(\.ics\b|(?=[\s?\"']|$))")
# A JWT (header.payload.signature, base64url; the header always starts with '{"' = "eyJ"), and any bearer token.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")


def redact(text: str) -> str:
    text = _QUERY.sub(r"\1?[redacted]", text)
    text = _CALENDAR_TOKEN.sub(r"\1[token]\2", text)
    text = _JWT.sub("[jwt]", text)
    text = _BEARER.sub(r"\1[token]", text)
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub("[phone]", text)


class RedactPHIFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is still logged, just as its raw template
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            # The formatter would otherwise re-render the traceback from exc_info, unmasked.
            record.exc_info = None
        if getattr(record, "request", None) is not None:
            # django.request attaches the request; handlers that render it would print its data.
            record.request = None
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True
