"""Serializer building blocks shared by the API: references by public UUID, clinical detail, bounded dates."""

from __future__ import annotations

import datetime as dt
import uuid

from rest_framework import serializers

from clinic import access, clock

EARLIEST_DATE = dt.date(1900, 1, 1)
MAX_DAYS_AHEAD = 3 * 366


class ScopedPublicIdField(serializers.SlugRelatedField):
    """A reference to a row by its public UUID, among the rows the caller may see (others: "does not exist")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "public_id")
        super().__init__(**kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return queryset.none()
        return access.scope_queryset(queryset, user=request.user)

    def to_internal_value(self, data):
        try:
            uuid.UUID(str(data))
        except (TypeError, ValueError, AttributeError):
            self.fail("invalid")
        return super().to_internal_value(data)


class BoundedDateField(serializers.DateField):
    """A date in a believable range, so a typo (year 1 or 9999) is a 400 rather than an overflow deeper down."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        latest = clock.today() + dt.timedelta(days=MAX_DAYS_AHEAD)
        if not EARLIEST_DATE <= day <= latest:
            raise serializers.ValidationError(f"Give a date between {EARLIEST_DATE} and {latest}.")
        return day


class BoundedDateTimeField(serializers.DateTimeField):
    """An aware date and time within the same believable range as ``BoundedDateField``."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        latest = clock.today() + dt.timedelta(days=MAX_DAYS_AHEAD)
        if not EARLIEST_DATE <= moment.date() <= latest:
            raise serializers.ValidationError(f"Give a time between {EARLIEST_DATE} and {latest}.")
        return moment


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
