"""Conditional GET for the patient app (issue 13): an ETag on every /me/ read, 304 when it has not changed.

A phone on a metered plan asks "has this changed?" with ``If-None-Match`` and gets
``304 Not Modified`` with no body when it has not. Records that may be edited keep
their version ETag (the one ``If-Match`` checks); every other /me/ answer is tagged
with a hash of its body, so a list's tag changes when any item in it, or their
order, changes. The view still runs (and audits the read): the saving is the
phone's data, not the server's work.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.urls import reverse
from django.utils.cache import patch_vary_headers, set_response_etag
from django.utils.http import parse_etags

# What a 304 keeps of the full answer (RFC 9110, 15.4.5), plus the language it would have been in.
_KEPT = ("Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Last-Modified", "Vary", "Content-Language")


class MeConditionalGetMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self._prefix: str | None = None

    def _is_me(self, request: HttpRequest) -> bool:
        if self._prefix is None:
            self._prefix = reverse("api:me")
        return request.path_info.startswith(self._prefix)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD") or response.status_code != 200 or not self._is_me(request):
            return response
        if response.streaming:
            return response
        # Texts follow the patient's language or Accept-Language: a cache must not mix them.
        patch_vary_headers(response, ["Accept-Language", "Authorization"])
        if not response.has_header("ETag"):
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            set_response_etag(response)
        # Only If-None-Match: If-Match belongs to the PATCH that follows (checked under the row lock).
        asked = parse_etags(request.headers.get("If-None-Match", ""))
        if not asked or not _matches(response["ETag"], asked):
            return response
        not_modified = HttpResponseNotModified()
        for header in _KEPT:
            if header in response:
                not_modified[header] = response[header]
        return not_modified


def _matches(etag: str, asked: list[str]) -> bool:
    # The weak comparison (RFC 9110, 13.1.2), as If-None-Match uses.
    return "*" in asked or etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in asked}
