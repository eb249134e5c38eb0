"""The audit trail: who read or changed which patient's data, when, from where (45 CFR 164.312(b)).

Entry points call one function::

    audit.record(request, action=AuditAction.VIEW, category=AuditCategory.DEMOGRAPHICS, patients=page)

Inside a request the rows are collected on the request and written by
``AuditMiddleware`` in **one statement** when the response is ready
(``INSERT ... SELECT * FROM unnest(...)``: one array per column, no model instances),
so a list of 100 patients costs one query. If that write fails the response is replaced by
an error: data is not served without its audit record. Outside a request (a
management command, a task) pass ``request=None`` and ``user=``; the row is
written at once.

DRF views pass their ``Request``; the user is read from it (so a JWT-authenticated
caller is recorded), the buffer from the ``HttpRequest`` underneath.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, models
from django.http import HttpRequest, HttpResponse

from clinic import access, clock
from clinic.logfilters import current_request_id
from clinic.models import AuditAction, AuditCategory, AuditEvent

logger = logging.getLogger(__name__)

__all__ = ["AuditAction", "AuditCategory", "AuditMiddleware", "access_report", "access_summary", "record"]

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is propagated only if it looks like an id, so a caller cannot
# put text (or patient data) into our logs and trail through the header.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
_BUFFER = "_clinic_audit_events"


def _http_request(request) -> HttpRequest | None:
    """The Django HttpRequest behind a DRF Request (or the request itself)."""
    return getattr(request, "_request", request)


def client_ip(request) -> str | None:
    """The caller's address: the socket's, or the entry the trusted proxies added to X-Forwarded-For."""
    http = _http_request(request)
    proxies = settings.CLINIC_TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in http.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return http.META.get("REMOTE_ADDR") or None


def _patient_ids(patients: Iterable) -> list[int | None]:
    ids = {getattr(p, "pk", p) for p in patients}
    ids.discard(None)
    return sorted(ids) or [None]


def record(
    request,
    *,
    action: AuditAction | str,
    category: AuditCategory | str = "",
    patients: Iterable = (),
    obj: models.Model | None = None,
    detail: str = "",
    user=None,
    username: str = "",
    path: str | None = None,
    anonymous: bool = False,
    role_label: str = "",
) -> list[AuditEvent]:
    """Record one access: one row per patient (or one row with no patient, for logins and the like).

    Outside a request the rows are written at once and returned (with their ids); inside
    one they wait on the request for ``flush`` and the list is empty.

    ``patients`` takes Patient objects or ids. ``detail`` holds field names or
    filters, never values. ``user`` defaults to ``request.user``; ``username``
    is for failed logins, where there is no user. ``path`` replaces the request's path
    where the path itself is a secret (a calendar feed's capability URL). ``anonymous`` records a
    caller who is not a user (another organisation's API client: ``username`` and ``role_label`` name it).
    """
    http = _http_request(request) if request is not None else None
    if user is None and request is not None and not anonymous:
        user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    role = access.role_of(user) if user is not None else None
    common = {
        "at": clock.now(),
        "user": user,
        "username": (user.get_username() if user is not None else username)[:150],
        "role": role.value if role else role_label,
        "ip_address": client_ip(http) if http is not None else None,
        "user_agent": (http.META.get("HTTP_USER_AGENT", "") if http is not None else "")[:300],
        "action": str(action),
        "category": str(category),
        "object_type": obj._meta.label_lower if obj is not None else "",
        "object_id": str(getattr(obj, "public_id", None) or getattr(obj, "pk", "") or "") if obj is not None else "",
        "path": (path if path is not None else http.path if http is not None else "")[:300],
        "request_id": getattr(http, "request_id", "") if http is not None else "",
        "detail": detail[:300],
    }
    # PostgreSQL text cannot hold NUL: a caller's parameter name or user agent with one must not
    # turn the audit write (and so the whole response) into a server error.
    common = {key: value.replace("\x00", "") if isinstance(value, str) else value for key, value in common.items()}
    user_id = user.pk if user is not None else None
    rows = [(common["at"], user_id, *(common[c] for c in _COMMON_BEFORE), pid, *(common[c] for c in _COMMON_AFTER))
            for pid in _patient_ids(patients)]  # fmt: skip
    buffer = getattr(http, _BUFFER, None) if http is not None else None
    if buffer is not None:
        buffer.extend(rows)
        return []
    ids = _insert(rows)
    fields = {key: value for key, value in common.items() if key != "user"}
    return [AuditEvent(pk=pk, user=user, patient_id=row[8], **fields) for pk, row in zip(ids, rows, strict=True)]


# Column order of a buffered row, as _INSERT takes them.
_COMMON_BEFORE = ("username", "role", "ip_address", "user_agent", "action", "category")
_COMMON_AFTER = ("object_type", "object_id", "path", "request_id", "detail")
_COLUMNS = (
    'INSERT INTO "clinic_auditevent" (at, user_id, username, role, ip_address, user_agent, action, category, '
    "patient_id, object_type, object_id, path, request_id, detail) "
)
# One access to one patient (a detail page, every /me/ read): the plainest statement, which
# PostgreSQL plans and runs in about two thirds of the time of the unnest below (issue 17).
_INSERT_ONE_ROW = _COLUMNS + "VALUES (" + ", ".join(["%s"] * 14) + ") RETURNING id"
# The usual list page: one access, many patients. The row's values once, the patient ids as an array.
_INSERT_ONE_ACCESS = (
    _COLUMNS + "SELECT %s::timestamptz, %s::bigint, %s, %s, %s::inet, %s, %s, %s, unnest(%s::bigint[]), "
    "%s, %s, %s, %s, %s RETURNING id"
)
# Several accesses in one request: one array per column.
_INSERT_ROWS = (
    _COLUMNS + "SELECT * FROM unnest(%s::timestamptz[], %s::bigint[], %s::text[], %s::text[], %s::inet[], "
    "%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) "
    "RETURNING id"
)


def _insert(rows: list[tuple]) -> list[int]:
    """Write rows in one statement: one row as plain VALUES, more unnested by PostgreSQL from arrays.

    Returns their ids, in the rows' order.
    """
    first = rows[0]
    if len(rows) == 1:
        sql, params = _INSERT_ONE_ROW, list(first)
    elif all(row[:8] == first[:8] and row[9:] == first[9:] for row in rows):
        sql, params = _INSERT_ONE_ACCESS, [*first[:8], [row[8] for row in rows], *first[9:]]
    else:
        sql, params = _INSERT_ROWS, [list(column) for column in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]


def flush(request) -> int:
    """Write the request's collected rows in one statement; return how many.

    An error propagates: the middleware then answers with a server error, not with data
    whose audit row is missing.
    """
    http = _http_request(request)
    rows = getattr(http, _BUFFER, None) or []
    if rows:
        _insert(rows)
        setattr(http, _BUFFER, [])
    return len(rows)


class AuditMiddleware:
    """Gives each request an id (X-Request-ID, kept from the caller when well-formed) and writes its audit rows."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        setattr(request, _BUFFER, [])
        token = current_request_id.set(request.request_id)
        try:
            response = self.get_response(request)
            # Outside the view's transaction on purpose: a rolled-back change is
            # still an attempt someone made. If this raises, the caller gets a 500
            # instead of data that was not audited.
            flush(request)
        finally:
            current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


# --- Login, logout, failed login ------------------------------------------------------------


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    record(request, action=AuditAction.LOGIN, user=user)


def on_user_logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        record(request, action=AuditAction.LOGOUT, user=user)


def on_user_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in ``credentials``; only the name is kept.
    record(request, action=AuditAction.LOGIN_FAILED, username=str(credentials.get("username", ""))[:150])


# --- Reading the trail --------------------------------------------------------------------


def visible_events(user) -> models.QuerySet[AuditEvent]:
    """The trail a program admin may search: events about patients they can see, and their sites' staff logins."""
    role = access.role_of(user)
    if role == access.Role.SUPERUSER:
        return AuditEvent.objects.all()
    if role != access.Role.PROGRAM_ADMIN:
        return AuditEvent.objects.none()
    from clinic.models import SiteMembership

    colleagues = SiteMembership.objects.filter(site__in=access.visible_sites(user)).values("user")
    return AuditEvent.objects.filter(
        models.Q(patient__in=access.visible_patients(user).values("pk"))
        | models.Q(patient__isnull=True, user__in=colleagues)
    )


def access_report(*, patient) -> models.QuerySet[AuditEvent]:
    """Every recorded access to one patient's data, newest first ("who looked at this record").

    The caller checks that the reader may see the patient and the trail
    (``visible_events``); the API pages through this queryset.
    """
    return AuditEvent.objects.filter(patient=patient).order_by("-at", "-id")


def access_summary(*, patient) -> list[dict]:
    """Per person: how many accesses of each action, first and last time. One query."""
    rows = (
        AuditEvent.objects.filter(patient=patient)
        .values("user_id", "username", "role", "action")
        .annotate(times=models.Count("id"), first_at=models.Min("at"), last_at=models.Max("at"))
        .order_by("-last_at")
    )
    return list(rows)


def search_ids(term: str) -> tuple[list[int], list[int]]:
    """The patients (by MRN, last name or "first last") and users (by username) a search term names.

    Case-insensitive, on the patients and users tables (thousands of rows, not the trail's
    millions); at most 200 of each. The caller's scope still applies to the trail rows it reads.
    """
    from django.contrib.auth import get_user_model

    from patients.models import Patient

    term = term.strip()
    names = models.Q(mrn__iexact=term) | models.Q(legal_last_name__iexact=term)
    first, _, last = term.partition(" ")
    if last:
        names |= models.Q(legal_first_name__iexact=first, legal_last_name__iexact=last.strip())
    patient_ids = list(Patient.objects.filter(names).values_list("pk", flat=True)[:200])
    user_ids = list(get_user_model().objects.filter(username__iexact=term).values_list("pk", flat=True)[:200])
    return patient_ids, user_ids
