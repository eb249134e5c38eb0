"""The sessions worklist (issue 12): today's sessions, and the started ones still awaiting attendance.

The dashboard's "Today's sessions" and "Sessions awaiting attendance" figures open this list (two tabs)
instead of the stock sessions list: each session's start in its program's local time, the group,
the facilitator by name, booked and attended, and [Take attendance] (the existing sheet) for the
roles that may take it. A row is a session, not a patient: the page shows no patient, and the
audit trail records the list shown without patients.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404, HttpRequest
from django.urls import path, reverse

from clinic import access, clock, localtime
from clinic.models import AuditCategory
from clinic.worklist import Action, Flag, Row, Worklist, list_view, staff_name, tabs_of
from scheduling import selectors
from scheduling.admin_views import TAKE_ATTENDANCE

VIEW_SESSIONS = "scheduling.view_session"

LISTS = {
    # which: (title, intro, empty)
    "today": (
        "Today's sessions",
        "The sessions on each program's own today at your sites, in start order (program's local time).",
        "No session today at your sites.",
    ),
    "awaiting": (
        "Sessions awaiting attendance",
        f"Sessions that started in the last {selectors.AWAITING_ATTENDANCE_DAYS} days with a booked patient "
        "whose attendance is not recorded, most recent first: take attendance.",
        "Every started session has its attendance recorded.",
    ),
}


def sessions_worklist(request: HttpRequest, which: str) -> Worklist:
    if which not in LISTS:
        raise Http404("No such list.")
    title, intro, empty = LISTS[which]
    sites = access.visible_sites(request.user)
    now = clock.now()
    if which == "today":
        sessions = selectors.sessions_today(sites=sites, now=now)
    else:
        sessions = selectors.sessions_awaiting_attendance(sites=sites, now=now).order_by("-starts_at", "-id")
    may_take = request.user.has_perm(TAKE_ATTENDANCE)
    rows = []
    for session in selectors.session_rows(sessions):
        program = session.series.program
        started = session.starts_at <= now
        rows.append(
            Row(
                patient=None,
                program=program,
                cells=[
                    localtime.when(session.starts_at, program.time_zone, with_date=which != "today"),
                    session.series.name,
                    staff_name(session.facilitator) or "—",
                    str(session.booked_count),
                    str(session.attended_count) if session.recorded_count else "not recorded",
                ],
                flags=[Flag("Attendance to record")] if started and session.unrecorded_count else [],
                actions=[
                    Action(
                        "Take attendance",
                        reverse("admin:scheduling_session_attendance", args=[session.pk]),
                    )
                ]
                if may_take
                else [],
                key=str(session.pk),
            )
        )
    return Worklist(
        slug=f"sessions-{which}",
        title=title,
        intro=intro,
        columns=["Starts", "Group", "Facilitator", "Booked", "Attended"],
        rows=rows,
        empty=empty,
        tabs=tabs_of(LISTS, "admin:scheduling_worklist_sessions", which),
        per_patient=False,
    )


def session_worklist_urls(model_admin: admin.ModelAdmin) -> list:
    return [
        path(
            "worklist/<str:which>/",
            list_view(model_admin, permission=VIEW_SESSIONS, build=sessions_worklist, category=AuditCategory.SCHEDULE),
            name="scheduling_worklist_sessions",
        )
    ]
