"""Validation of contact details and time zones, shared by models, services and serializers."""

from __future__ import annotations

import zoneinfo
from functools import cache

import phonenumbers
from django.core.exceptions import ValidationError


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _time_zones():
        raise ValidationError(
            "%(value)s is not an IANA time zone (for example America/New_York).",
            code="invalid_time_zone",
            params={"value": value},
        )


def normalize_phone(value: str, *, region: str | None = None) -> str:
    """Return the number in E.164 (+15551234567) or raise ValidationError.

    ``region`` lets staff type a national number ("(415) 555-0132") for the
    clinic's country; without it the number must start with +.
    """
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            "Enter the phone number with its country code, for example +1 415 555 0132.",
            code="invalid_phone",
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError("This is not a valid phone number.", code="invalid_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164_phone(value: str) -> None:
    if normalize_phone(value) != value:
        raise ValidationError("Store phone numbers in E.164 form, for example +14155550132.", code="invalid_phone")


def validate_language(value: str) -> None:
    """A language the installation has texts for (``settings.LANGUAGES``)."""
    from django.conf import settings

    if value not in {code for code, _name in settings.LANGUAGES}:
        choices = ", ".join(code for code, _name in settings.LANGUAGES)
        raise ValidationError(f"Unknown language {value!r}; choose one of {choices}.")
