"""If-Match handling for API updates; the comparison itself happens in the service, under the row lock."""

from __future__ import annotations

from rest_framework.request import Request

from clinic.api.errors import PreconditionRequired


def required_version(request: Request) -> str:
    """The version the client expects to change, from If-Match; 428 when it is missing."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        raise PreconditionRequired()
    return header.removeprefix("W/")
