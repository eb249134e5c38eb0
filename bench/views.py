"""Raw-SQL baselines for the API benchmark: the same rows as the real endpoints, without DRF or the ORM.

Mounted under /bench/ only when BENCH_VIEWS=1 (``clinic/urls.py``); production never serves them.
Each view still checks the caller's JWT (no database read for that), so it answers the
same caller with the same rows; what it leaves out is what the comparison measures:
DRF's request handling, permissions, serializers and the ORM.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from clinic import access, audit, clock
from clinic.api.pagination import CursorPages
from clinic.models import AuditAction, AuditCategory
from patients.selectors import STAFF_PATIENT_PAGE_SQL
from scheduling.models import CancelReason, SessionStatus
from scheduling.selectors import PATIENT_CARE_SQL, UPCOMING_SESSIONS_SQL


def _user_id(request: HttpRequest) -> int | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        return int(AccessToken(header.removeprefix("Bearer "))["user_id"])
    except (TokenError, KeyError, ValueError):
        return None


def _rows(sql: str, params: list | dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _json(request: HttpRequest, build) -> JsonResponse:
    user_id = _user_id(request)
    if user_id is None:
        return JsonResponse({"error": {"code": "not_authenticated", "message": "Sign in."}}, status=401)
    return JsonResponse(build(user_id), safe=False, json_dumps_params={"default": str})


# The profile's columns, as the API answers them (``p`` is the patient's row).
_PROFILE_COLUMNS = (
    "p.public_id AS id, p.mrn, p.legal_first_name, p.legal_last_name, p.preferred_name, p.date_of_birth,"
    " p.phone, p.email, p.time_zone, p.preferred_language"
)
PROFILE_SQL = f"SELECT {_PROFILE_COLUMNS} FROM patients_patient p WHERE p.user_id = %s"


def me(request: HttpRequest) -> JsonResponse:
    return _json(request, lambda user_id: next(iter(_rows(PROFILE_SQL, [user_id])), {}))


# The profile with what its audit row names (the patient's row id, the login). The row itself is
# written by the API's own one-row statement (clinic.audit), so both sides insert alike.
AUDITED_PROFILE_SQL = (
    f"SELECT p.id AS patient_pk, u.username, {_PROFILE_COLUMNS}"
    " FROM patients_patient p JOIN auth_user u ON u.id = p.user_id WHERE p.user_id = %s"
)


def me_audited(request: HttpRequest) -> JsonResponse:
    """The raw profile read, then its audit row: the least any implementation keeping the audit must do.

    Beside ``me``, it shows how much of the API's ratio to the raw view is the audit row itself
    (one more statement and its COMMIT), which issue 17 keeps synchronous.
    """

    def build(user_id: int) -> dict:
        rows = _rows(AUDITED_PROFILE_SQL, [user_id])
        if not rows:
            return {}
        profile = rows[0]
        patient_pk, username = profile.pop("patient_pk"), profile.pop("username")
        with connection.cursor() as cursor:
            cursor.execute(audit._INSERT_ONE_ROW, [
                clock.now(), user_id, username, access.Role.PATIENT, request.META.get("REMOTE_ADDR"),
                request.headers.get("User-Agent", ""), AuditAction.VIEW, AuditCategory.DEMOGRAPHICS, patient_pk,
                "", "", request.path, getattr(request, "request_id", ""), "",
            ])  # fmt: skip
        return profile

    return _json(request, build)


def _for_caller(sql: str) -> str:
    """One of the API's statements, for the patient whose login the token names (the API has them loaded)."""
    return sql.replace("%(patient)s", "(SELECT id FROM patients_patient WHERE user_id = %(user)s)")


def me_care(request: HttpRequest) -> JsonResponse:
    # The API's own statement: the journey and this week's hours.
    sql, params = _for_caller(PATIENT_CARE_SQL), {"now": clock.now(), "scheduled": SessionStatus.SCHEDULED}
    return _json(request, lambda user_id: {"journey": _rows(sql, {**params, "user": user_id})})


# Where the API reads with a statement of its own (issue 17), the raw view runs that statement: the
# same rows and columns, so the ratio is the framework's cost and not a different job.
CENSUS_SQL = """
SELECT pr.public_id AS id, pr.name, si.name AS site, pr.asam_level, pr.capacity,
       count(p.id) FILTER (WHERE p.id IS NOT NULL) AS occupied
  FROM clinic_sitemembership m
  JOIN programs_site si ON si.id = m.site_id
  JOIN programs_program pr ON pr.site_id = si.id AND pr.is_active
  LEFT JOIN programs_placement p ON p.program_id = pr.id AND p.cancelled_at IS NULL
       AND p.start_on <= current_date AND (p.ended_on IS NULL OR p.ended_on > current_date)
 WHERE m.user_id = %s
 GROUP BY pr.id, si.name
 ORDER BY si.name, pr.name
"""


def me_sessions(request: HttpRequest) -> JsonResponse:
    # The API's first page of upcoming sessions, and one row more to know whether a next page exists.
    sql = _for_caller(UPCOMING_SESSIONS_SQL)
    params = {"now": clock.now(), "session_cancelled": CancelReason.SESSION_CANCELLED}
    params["limit"] = CursorPages.page_size + 1
    return _json(request, lambda user_id: {"results": _rows(sql, {**params, "user": user_id})})


def staff_census(request: HttpRequest) -> JsonResponse:
    return _json(request, lambda user_id: {"results": _rows(CENSUS_SQL, [user_id])})


def staff_patients(request: HttpRequest) -> JsonResponse:
    # The API's own statement: the patients at the caller's sites (registered there or placed in their
    # programs), every column the list shows, and the total for the page count.
    return _json(
        request, lambda user_id: {"results": _rows(STAFF_PATIENT_PAGE_SQL, {"user": user_id, "limit": 50, "offset": 0})}
    )
