"""Serializer building blocks shared by the API: references by public UUID, clinical detail, bounded dates."""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers

from clinic import access, clock

EARLIEST_DATE = dt.date(1900, 1, 1)
MAX_DAYS_AHEAD = 3 * 366
# The offsets clocks on Earth use. PostgreSQL refuses anything beyond ±15:59 ("time zone
# displacement out of range"), so a wider one must be a 400 here, never a 500 in the query.
MIN_UTC_OFFSET = -dt.timedelta(hours=12)
MAX_UTC_OFFSET = dt.timedelta(hours=14)
_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@functools.cache
def _reader(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    return serializer_class()


def represent(serializer_class: type[serializers.Serializer], instance) -> dict:
    """``serializer_class(instance).data``, from one serializer kept per class for writing answers.

    DRF builds a serializer's fields anew for every instance (a ModelSerializer maps each model
    field again): on the patient app's reads that cost more than the query (issue 17). A list
    serializer already writes every row with one child; this keeps that child for the process. Only
    for serializers whose fields need no context (no request, no hyperlinks): the answer is the same
    dict, without DRF's ReturnDict wrapper, which only the browsable API reads.
    """
    return _reader(serializer_class).to_representation(instance)


class ScopedRelatedField(serializers.SlugRelatedField):
    """A reference to a row the caller may see; an unknown one is named as the model ("No bed with this id ...").

    The one place every related input field of the API gets its messages from. Subclasses
    narrow the queryset to what the caller may see with ``scope``.
    """

    lookup_name = "id"
    record_name = ""  # how people call the record; the model's verbose name by default

    def _record_name(self) -> str:
        return self.record_name or self.get_queryset().model._meta.verbose_name

    def scope(self, queryset, request):
        return access.scope_queryset(queryset, user=request.user)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return queryset.none()
        return self.scope(queryset, request)

    def fail(self, key, **kwargs):
        if key in {"does_not_exist", "invalid"}:
            name = self._record_name()
            if key == "does_not_exist":
                raise serializers.ValidationError(f"No {name} with this {self.lookup_name} at your sites.", code=key)
            raise serializers.ValidationError(f"Give the {name}'s {self.lookup_name} as a string.", code=key)
        return super().fail(key, **kwargs)


class ScopedPublicIdField(ScopedRelatedField):
    """A reference to a row by its public UUID, among the rows the caller may see."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "public_id")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            uuid.UUID(str(data))
        except (TypeError, ValueError, AttributeError):
            raise serializers.ValidationError(
                f"Give the {self._record_name()}'s id, a UUID such as 3f2b1c9e-8d4a-4b7e-9c1d-2a5e6f7b8c9d.",
                code="invalid",
            ) from None
        return super().to_internal_value(data)


def impossible_date_message(value) -> str | None:
    """For "2026-13-45": the shape is right but no such day exists, which is worth saying plainly."""
    if isinstance(value, str) and _DATE_SHAPE.match(value):
        try:
            dt.date.fromisoformat(value[:10])
        except ValueError:
            return f"{value[:10]} is an impossible date: no such day on the calendar (YYYY-MM-DD)."
    return None


def utc_offset_message(moment: dt.datetime) -> str | None:
    offset = moment.utcoffset()
    if offset is not None and not MIN_UTC_OFFSET <= offset <= MAX_UTC_OFFSET:
        return "Give a UTC offset between -12:00 and +14:00, for example 2026-12-07T18:00:00-05:00."
    return None


def check_moment(moment: dt.datetime) -> None:
    """A date and time given as a filter: a real offset and a believable date, else Django's ValidationError."""
    message = utc_offset_message(moment)
    latest = clock.today() + dt.timedelta(days=MAX_DAYS_AHEAD)
    if message is None and not EARLIEST_DATE <= moment.date() <= latest:
        message = f"Give a time between {EARLIEST_DATE} and {latest}."
    if message:
        raise DjangoValidationError(message, code="out_of_range")


class BoundedDateField(serializers.DateField):
    """A date in a believable range, so a typo (year 1 or 9999) is a 400 rather than an overflow deeper down."""

    def to_internal_value(self, value):
        if message := impossible_date_message(value):
            raise serializers.ValidationError(message, code="impossible_date")
        day = super().to_internal_value(value)
        latest = clock.today() + dt.timedelta(days=MAX_DAYS_AHEAD)
        if not EARLIEST_DATE <= day <= latest:
            raise serializers.ValidationError(f"Give a date between {EARLIEST_DATE} and {latest}.")
        return day


class BoundedDateTimeField(serializers.DateTimeField):
    """An aware date and time with a real UTC offset, within the same believable range as ``BoundedDateField``."""

    def to_internal_value(self, value):
        if message := impossible_date_message(value):
            raise serializers.ValidationError(message, code="impossible_date")
        moment = super().to_internal_value(value)
        latest = clock.today() + dt.timedelta(days=MAX_DAYS_AHEAD)
        if not EARLIEST_DATE <= moment.date() <= latest:
            raise serializers.ValidationError(f"Give a time between {EARLIEST_DATE} and {latest}.")
        return moment

    def enforce_timezone(self, value):
        # Checked before DRF converts to the server's zone, which would hide the offset that was sent.
        message = utc_offset_message(value) if timezone.is_aware(value) else None
        if message:
            raise serializers.ValidationError(message, code="out_of_range")
        return super().enforce_timezone(value)


class ClinicalDetailMixin:
    """For serializers with a nested ``clinical`` part: null for roles without clinical access (front desk).

    The one place where the API hides clinical detail (reasons, dispositions,
    notes); the rule itself is ``clinic.access.can_view_clinical``.
    """

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if "clinical" in data and (request is None or not access.can_view_clinical(request.user)):
            data["clinical"] = None
        return data


class RefSerializer(serializers.Serializer):
    """A short reference to a related row: its public id and a name for people."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(read_only=True)


class PatientRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    mrn = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)
