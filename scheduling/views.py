"""The calendar feed: a capability URL, so no login; the token is the key."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from clinic import audit
from clinic.models import AuditAction, AuditCategory
from scheduling import selectors
from scheduling.calendar import build_calendar


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    patient = selectors.patient_for_calendar_token(token)
    if patient is None:
        # The same answer for a token that never existed and one rotated or revoked.
        raise Http404("No such calendar.")
    # A read of the patient's schedule like any other; the token is a secret, so not in the trail's path.
    audit.record(
        request,
        action=AuditAction.VIEW,
        category=AuditCategory.SCHEDULE,
        patients=[patient],
        detail="calendar feed",
        path="/calendar/<token>.ics",
    )
    response = HttpResponse(build_calendar(patient=patient), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="appointments.ics"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
