"""Input that means what the OpenAPI contract says: JSON types as declared, filters that refuse empty values.

DRF is lenient by default (``"3"`` for an integer, ``1`` for a boolean, ``?status=``
ignored); a client built from the schema should get a 400 for input the schema
calls invalid, not a silent guess. Views taking these bodies accept JSON only.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers
from rest_framework.parsers import JSONParser

from clinic.api.serializers import check_moment, impossible_date_message


class JsonBodyMixin:
    """Request bodies are JSON (the schema then lists application/json only); others answer 415."""

    parser_classes = [JSONParser]


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictFilterSet(django_filters.FilterSet):
    """A filter given with no value (``?status=``) is an error, not "no filter"."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name in self.filters:
            if name in self.data and any(value == "" for value in self.data.getlist(name)):
                self.form.add_error(name, "Give a value, or leave the filter out.")
                valid = False
        return valid


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant with a real UTC offset and a believable date: anything else is a 400, not a 500."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if message := impossible_date_message(text):
                raise ValidationError(message, code="impossible_date")
            try:
                moment = parse_datetime(text)
            except ValueError:
                moment = None  # the parent says what is wrong with the format
            if moment is not None:
                check_moment(moment)
        return super().to_python(value)


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """The API's date-time filter (``?due_after=``): every date-time filter uses it, so none reaches SQL unchecked."""

    field_class = BoundedIsoDateTimeField


class StrictInputMixin:
    # Every write serializer: a field the request may not set is refused by name, never ignored in
    # silence. A read-only field ("mrn" in a PATCH of /me/) or a field the endpoint does not take
    # answers 400 with a field error, listed together with every other invalid field of the request,
    # so the caller learns at once that the change they meant was not made. The schema says the same
    # (``additionalProperties: false`` on request bodies, see ``clinic.api.schema``). A comment, not a
    # docstring: the schema would show a docstring as the description of every request body.

    def to_internal_value(self, data):
        refused = self._refused_fields(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if refused and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **refused}) from None
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value

    def _refused_fields(self, data) -> dict:
        if not hasattr(data, "keys"):
            return {}  # not an object: the parent says so
        writable = {name for name, field in self.fields.items() if not field.read_only}
        refused = {}
        for name in sorted(set(data.keys()) - writable):
            field = self.fields.get(name)
            if field is not None:
                refused[name] = [
                    serializers.ErrorDetail("This field is read-only; it cannot be changed here.", "read_only")
                ]
            else:
                accepted = ", ".join(sorted(writable)) or "nothing"
                refused[name] = [
                    serializers.ErrorDetail(
                        f"This request does not take this field; it takes: {accepted}.", "unknown_field"
                    )
                ]
        return refused
