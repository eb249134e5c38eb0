"""One error body for every 4xx, so the mobile app and staff tools handle errors one way.

    {"error": {"code": "bed_unavailable", "message": "Bed 101-A is taken ...", "fields": {"bed": ["..."]}}}

``code`` is machine-readable and stable; ``message`` is for people; ``fields`` appears
when the error is about particular input fields.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework_simplejwt.exceptions import InvalidToken

from clinic.errors import Conflict, DomainError, NotFound, VersionMismatch

SESSION_EXPIRED = "Your session has expired; sign in again."


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = _("Send the If-Match header with the ETag you read, so a concurrent change is not overwritten.")
    default_code = "if_match_required"


_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "invalid",
}


def _domain_status(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return status.HTTP_404_NOT_FOUND
    if isinstance(error, VersionMismatch):
        return status.HTTP_412_PRECONDITION_FAILED
    if isinstance(error, Conflict):
        return status.HTTP_409_CONFLICT
    return status.HTTP_400_BAD_REQUEST


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _flatten(detail) -> str:
    if isinstance(detail, list | tuple):
        return " ".join(_flatten(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        fields = {exc.field: [exc.message]} if exc.field else None
        return Response(error_body(exc.code, exc.message, fields), status=_domain_status(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a server error: Django's 500 handling and error reporting take over
    if isinstance(exc, InvalidToken):
        # Expired, garbage or revoked: the app can do one thing about any of them, so it gets one code.
        response.data = error_body("token_invalid", SESSION_EXPIRED)
        return response
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = {
            key: [str(item) for item in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
        message = (
            "Some fields are not valid."
            if set(fields) != {"non_field_errors"}
            else _flatten(fields["non_field_errors"])
        )
        response.data = error_body("invalid", message, fields)
        return response
    code = getattr(exc, "default_code", None) if type(exc) not in _CODES else _CODES[type(exc)]
    detail = getattr(exc, "detail", None)
    code = getattr(detail, "code", None) if code in (None, "error") else code
    response.data = error_body(code or "error", _flatten(detail) if detail is not None else str(exc))
    return response


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable reason, for example `bed_unavailable`.")
    message = serializers.CharField(help_text="A sentence for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Errors by input field, when the error is about particular fields.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
