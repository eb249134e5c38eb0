"""Reminder delivery worklist (issue 12): sent today, late and failed, three tabs behind the dashboard's figures.

Whether and when a reminder went out ("I never got a text"), never its content: the reminder, its
channel, when it was due (the program's local time), what became of it and the attempts. A failed
reminder offers the patient's chart (to call instead) to roles that may open it; a late one is the
pipeline's problem (is a worker down?) and offers nothing.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404, HttpRequest
from django.urls import path, reverse

from clinic import access, clock, localtime
from clinic.models import AuditCategory
from clinic.worklist import Action, Flag, Row, Worklist, list_view, tabs_of
from reminders import selectors
from reminders.dashboard import start_of_today
from reminders.models import Reminder, ReminderStatus

VIEW_REMINDERS = "reminders.view_reminder"
VIEW_PATIENTS = "patients.view_patient"

LISTS = {
    # which: (title, intro, empty)
    "sent-today": (
        "Reminders sent today",
        "Reminders that went out since midnight (your time), the latest first.",
        "No reminder has gone out today.",
    ),
    "late": (
        "Reminders late",
        "Reminders due more than ten minutes ago that have not gone out: the pipeline is behind or a worker is "
        "down. Nothing to do per patient; tell whoever runs the workers.",
        "No reminder is late.",
    ),
    "failed": (
        "Reminders failed",
        "Reminders given up on in the last 7 days (the provider refused, or the retries ran out): call the "
        "patient if the appointment matters.",
        "No reminder failed in the last 7 days.",
    ),
}


def _reminders(which: str, sites):
    now = clock.now()
    if which == "sent-today":
        return selectors.reminders_sent_since(since=start_of_today(), sites=sites).order_by("-sent_at", "-id")
    if which == "late":
        return selectors.reminders_late(now=now, sites=sites).order_by("send_after", "id")
    return selectors.reminders_failed(now=now, sites=sites).order_by("-updated_at", "-id")


def _program(reminder: Reminder):
    if reminder.booking_id is not None:
        return reminder.booking.session.series.program
    return reminder.checkin.plan.program


def _status(reminder: Reminder, zone: str) -> str:
    if reminder.status == ReminderStatus.SENT:
        return f"Sent {localtime.when(reminder.sent_at, zone)}"
    if reminder.status == ReminderStatus.FAILED:
        return f"Failed: {reminder.get_status_reason_display()}" if reminder.status_reason else "Failed"
    return f"{reminder.get_status_display()}, next try {localtime.when(reminder.send_after, zone)}"


def reminders_worklist(request: HttpRequest, which: str) -> Worklist:
    if which not in LISTS:
        raise Http404("No such list.")
    title, intro, empty = LISTS[which]
    may_open_chart = which == "failed" and request.user.has_perm(VIEW_PATIENTS)
    reminders = _reminders(which, access.visible_sites(request.user)).select_related(
        "patient",
        "booking__session__series__program__site",
        "checkin__plan__program__site",
    )
    rows = []
    for reminder in reminders:
        program = _program(reminder)
        zone = program.time_zone
        rows.append(
            Row(
                patient=reminder.patient,
                program=program,
                cells=[
                    "Session" if reminder.booking_id else "Aftercare check-in",
                    reminder.get_channel_display(),
                    localtime.when(reminder.due_at, zone),
                    _status(reminder, zone),
                    str(reminder.attempts),
                ],
                flags=[Flag("Late")] if which == "late" else [],
                actions=[Action("Open chart", reverse("admin:patients_patient_change", args=[reminder.patient_id]))]
                if may_open_chart
                else [],
                key=str(reminder.pk),
            )
        )
    return Worklist(
        slug=f"reminders-{which}",
        title=title,
        intro=intro,
        columns=["Reminder of", "Channel", "Due", "Status", "Attempts"],
        rows=rows,
        empty=empty,
        tabs=tabs_of(LISTS, "admin:reminders_worklist", which),
    )


def reminder_worklist_urls(model_admin: admin.ModelAdmin) -> list:
    return [
        path(
            "worklist/<str:which>/",
            list_view(
                model_admin, permission=VIEW_REMINDERS, build=reminders_worklist, category=AuditCategory.MESSAGING
            ),
            name="reminders_worklist",
        )
    ]
