"""One check that a page's queries do not grow with its rows (issue 12: constant query counts per page)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext


def worklist_rows(response) -> list:
    return response.context["worklist"].rows


def assert_constant_queries(client, url: str, fill: Callable[[int], None], *, small: int = 2, big: int = 12,
                            rows: Callable = worklist_rows) -> None:  # fmt: skip
    """``fill(n)`` adds n rows; the page lists exactly ``small`` then ``big`` rows, in the same number of queries."""
    fill(small)
    client.get(url)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        assert len(rows(client.get(url))) == small
    fill(big - small)
    with CaptureQueriesContext(connection) as many:
        assert len(rows(client.get(url))) == big
    assert len(many.captured_queries) == len(few.captured_queries), (
        f"{url}: {len(few.captured_queries)} queries for {small} rows, {len(many.captured_queries)} for {big}"
    )
