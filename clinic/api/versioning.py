"""If-Match handling for API updates; the comparison itself happens in the service, under the row lock."""

from __future__ import annotations

import re

from rest_framework.request import Request

from clinic.api.errors import PreconditionRequired
from clinic.errors import InvalidInput

# RFC 9110 §8.8.3: an entity tag is an opaque string in double quotes, optionally marked weak with W/.
_ENTITY_TAG = re.compile(r'^(W/)?"[\x21\x23-\x7e]+"$')


def required_version(request: Request) -> str | None:
    """The version the client expects to change, from If-Match.

    No header: 428. ``*`` matches any current representation (RFC 9110 §13.1.1), so the
    change is made whatever the version (None). An empty or malformed value is a 400 that
    says what to send; a well-formed tag that is not the current one is the service's 412.
    """
    if "If-Match" not in request.headers:
        raise PreconditionRequired()
    header = request.headers["If-Match"].strip()
    if header == "*":
        return None
    if not _ENTITY_TAG.match(header):
        raise InvalidInput(
            'If-Match must hold the ETag you read, exactly as it was sent (in double quotes), or "*" to change '
            "the record whatever its version.",
            code="if_match_invalid",
        )
    return header.removeprefix("W/")
