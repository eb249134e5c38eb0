"""Serializer fields with a precise OpenAPI contract."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


@extend_schema_field(
    {
        "type": "string",
        "pattern": LOCAL_TIME_PATTERN,
        "example": "21:00",
        "description": "A wall-clock time in the patient's own time zone (HH:MM), with no offset.",
    }
)
class LocalTimeField(serializers.TimeField):
    """A local wall-clock time ("21:00"). OpenAPI's ``time`` format requires an offset, which these times have not."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%H:%M")
        kwargs.setdefault("input_formats", ["%H:%M", "%H:%M:%S"])
        super().__init__(**kwargs)
