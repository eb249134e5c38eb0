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


class OptionalChoiceField(serializers.ChoiceField):
    """A choice that may be unset: null in answers (and in the schema), never the empty string.

    The models keep "" for "not set" (Django's convention for text); the contract says null,
    which a generated client reads as "no value" rather than an unknown member of the enum.
    """

    def __init__(self, **kwargs):
        kwargs["allow_null"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)

    def to_internal_value(self, data):
        return "" if data is None else super().to_internal_value(data)

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)


class BlankChoicesAsNullMixin:
    # For ModelSerializers: every model choice field that may be blank is an ``OptionalChoiceField``.
    # (A comment: the schema would show a docstring as the description of every serializer using it.)

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if getattr(model_field, "choices", None) and getattr(model_field, "blank", False):
            field_class = OptionalChoiceField
            kwargs.pop("allow_blank", None)
            kwargs.pop("max_length", None)
        return field_class, kwargs
