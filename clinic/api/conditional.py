"""Conditional GET for the patient app (issue 13): an ETag on every /me/ read, 304 when it has not changed.

A phone on a metered plan asks "has this changed?" with ``If-None-Match`` and gets
``304 Not Modified`` with no body when it has not. Records that may be edited keep
their version ETag (the one ``If-Match`` checks); every other /me/ answer is tagged
with a hash of its body, so a list's tag changes when any item in it, or their
order, changes. The view still runs (and audits the read): the saving is the
phone's data, not the server's work.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_vary_headers, set_response_etag


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
        return get_conditional_response(request, etag=response["ETag"], response=response)
