"""FHIR's error body: every 4xx (and 5xx) of the FHIR API is an OperationOutcome."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions

from clinic.errors import DomainError, NotFound
from exchange.services import ExportInProgress


def operation_outcome(code: str, message: str, *, expression: str | None = None, severity: str = "error") -> dict:
    issue: dict = {"severity": severity, "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def classify(exc: Exception) -> tuple[int, str, str, str | None, dict] | None:
    """(HTTP status, FHIR issue type, message, parameter, headers) for an error, or None for a server error."""
    if isinstance(exc, ExportInProgress):
        return 429, "throttled", exc.message, None, {"Retry-After": "120"}
    if isinstance(exc, NotFound | Http404 | exceptions.NotFound):
        message = exc.message if isinstance(exc, DomainError) else "No such resource."
        return 404, "not-found", message, None, {}
    if isinstance(exc, DomainError):
        code = exc.code if exc.code in ("not-supported", "too-costly", "invalid") else "invalid"
        return 400, code, exc.message, exc.field, {}
    if isinstance(exc, exceptions.NotAuthenticated):
        message = (
            "Sign in: send Authorization: Bearer <a staff JWT, or an API client's token from /fhir/R4/auth/token>."
        )
        return 401, "login", message, None, {"WWW-Authenticate": 'Bearer realm="fhir"'}
    if isinstance(exc, exceptions.AuthenticationFailed):
        # simplejwt's detail is a dict of internals; a client needs to know only that it must get a new token.
        message = exc.detail if isinstance(exc.detail, str) else "The access token is not valid or has expired."
        return 401, "login", str(message), None, {"WWW-Authenticate": 'Bearer realm="fhir", error="invalid_token"'}
    if isinstance(exc, exceptions.PermissionDenied | DjangoPermissionDenied):
        return 403, "forbidden", str(getattr(exc, "detail", "")) or "You may not do this.", None, {}
    if isinstance(exc, exceptions.MethodNotAllowed):
        return 405, "not-supported", "This FHIR server is read-only here: use GET.", None, {}
    if isinstance(exc, exceptions.NotAcceptable):
        return 406, "not-supported", "This server answers in application/fhir+json.", None, {}
    if isinstance(exc, exceptions.Throttled):
        return 429, "throttled", "Too many requests; try again shortly.", None, {"Retry-After": str(exc.wait or 60)}
    if isinstance(exc, exceptions.APIException):
        return exc.status_code, "invalid", str(exc.detail), None, {}
    return None
