"""The bench's raw-SQL views are a measuring tool, never part of the served application."""

import pytest
from django.conf import settings
from django.urls import Resolver404, resolve


def test_raw_views_are_not_mounted_unless_bench_views_is_on():
    assert settings.BENCH_VIEWS is False
    with pytest.raises(Resolver404):
        resolve("/bench/raw/me/care/")
