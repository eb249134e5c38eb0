"""Input that means what the OpenAPI contract says: JSON types as declared, filters that refuse empty values.

DRF is lenient by default (``"3"`` for an integer, ``1`` for a boolean, ``?status=``
ignored); a client built from the schema should get a 400 for input the schema
calls invalid, not a silent guess. Views taking these bodies accept JSON only.
"""

from __future__ import annotations

import django_filters
from rest_framework import serializers
from rest_framework.parsers import JSONParser


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
