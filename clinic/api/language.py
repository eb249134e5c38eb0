"""The patient app speaks the patient's language (issue 13).

On /me/ requests: ``Accept-Language`` (when the app sends one the installation has)
wins; otherwise the signed-in patient's ``preferred_language``; otherwise English.
The middleware activates the header's choice before the view and resets it after;
``IsPatient`` calls ``use_patients_language`` once it knows who is asking.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers

_ASKED = "_clinic_language_from_header"


def _from_header(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for code, _quality in translation.trans_real.parse_accept_lang_header(header):
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return None


def use_patients_language(request, patient) -> None:
    """Unless the app asked for a language, speak the patient's own."""
    http = getattr(request, "_request", request)
    if not hasattr(http, _ASKED):
        return  # not under the middleware, which is what resets the language after the request
    if getattr(http, _ASKED) is None:
        translation.activate(patient.preferred_language or settings.LANGUAGE_CODE)


class MeLanguageMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self._prefix: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._prefix is None:
            self._prefix = reverse("api:me")
        if not request.path_info.startswith(self._prefix):
            return self.get_response(request)
        asked = _from_header(request)
        setattr(request, _ASKED, asked)
        translation.activate(asked or settings.LANGUAGE_CODE)
        try:
            response = self.get_response(request)
            response.headers.setdefault("Content-Language", translation.get_language())
            patch_vary_headers(response, ["Accept-Language"])
            return response
        finally:
            translation.deactivate()
