"""Running a group from the staff admin: take attendance, cancel or move one session, change a series from a date.

Thin entry points over ``scheduling.services`` (the same functions the API calls):
each view finds the session in the user's scoped queryset (another site's session
is not found), checks the permission the role holds for the action, shows a domain
error as a form error (nothing was written), and records who saw or changed which
patients' schedules in the audit trail.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from clinic import access, audit, clock, localtime
from clinic.errors import DomainError
from clinic.models import AuditAction, AuditCategory
from scheduling import services
from scheduling.models import PARTIAL_ATTENDANCE, Attendance, Booking, Session, SessionSeries, SessionStatus

TAKE_ATTENDANCE = "scheduling.add_attendancerecord"
CHANGE_SESSION = "scheduling.change_session"
CHANGE_SERIES = "scheduling.change_sessionseries"

DATE = forms.DateInput(attrs={"type": "date"})
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


# --- attendance ------------------------------------------------------------------------------


class AttendanceForm(forms.Form):
    """One row per booked patient: a mark (one tap) and, for late or left early, the minutes attended."""

    reason = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        label="Reason for corrections",
        help_text="Needed only when you change a mark that was already recorded.",
    )

    def __init__(self, *args, bookings: list[Booking], **kwargs):
        super().__init__(*args, **kwargs)
        self.bookings = bookings
        for booking in bookings:
            self.fields[f"mark_{booking.pk}"] = forms.ChoiceField(
                choices=Attendance.choices,
                required=False,
                widget=forms.RadioSelect,
                initial=booking.attendance or None,
                label=str(booking.patient),
            )
            self.fields[f"minutes_{booking.pk}"] = forms.IntegerField(
                required=False,
                min_value=1,
                initial=booking.minutes_attended if booking.attendance in PARTIAL_ATTENDANCE else None,
                label="Minutes attended",
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "minutes-input"}),
            )

    def rows(self):
        for booking in self.bookings:
            yield {"booking": booking, "mark": self[f"mark_{booking.pk}"], "minutes": self[f"minutes_{booking.pk}"]}

    def clean(self):
        data = super().clean()
        for booking in self.bookings:
            mark, minutes = data.get(f"mark_{booking.pk}"), data.get(f"minutes_{booking.pk}")
            if mark in PARTIAL_ATTENDANCE and minutes is None:
                label = Attendance(mark).label.lower()
                self.add_error(f"minutes_{booking.pk}", f"Give the minutes attended for {label}.")
        return data

    def marks(self) -> list[services.Mark]:
        """The marks given; minutes are passed only for late and left early (a stray number is ignored)."""
        marks = []
        for booking in self.bookings:
            mark = self.cleaned_data.get(f"mark_{booking.pk}")
            if mark:
                minutes = self.cleaned_data.get(f"minutes_{booking.pk}") if mark in PARTIAL_ATTENDANCE else None
                marks.append(services.Mark(patient_id=booking.patient_id, attendance=mark, minutes_attended=minutes))
        return marks


def _bookings(session: Session) -> list[Booking]:
    return list(
        Booking.objects.active().filter(session=session).select_related("patient").order_by("patient__legal_last_name")
    )


def _local(session: Session) -> dt.datetime:
    return session.starts_at.astimezone(ZoneInfo(session.series.program.time_zone))


def attendance_view(model_admin: admin.ModelAdmin):
    def view(request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm(TAKE_ATTENDANCE):
            raise PermissionDenied
        session = _scoped_session(model_admin, request, object_id)
        bookings = _bookings(session)
        initial = {}
        if request.method == "GET" and request.GET.get("everyone") == "present":
            # "Mark everyone present" (issue 12): pre-fills the marks not yet recorded; staff tap the
            # exceptions and save. Nothing is written until they do.
            initial = {f"mark_{b.pk}": Attendance.PRESENT for b in bookings if not b.attendance}
        form = AttendanceForm(request.POST or None, bookings=bookings, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                records = services.record_attendance(
                    session=session, marks=form.marks(), recorded_by=request.user, reason=form.cleaned_data["reason"]
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                changed = {record.booking.patient_id for record in records}
                if changed:
                    audit.record(
                        request,
                        action=AuditAction.CHANGE,
                        category=AuditCategory.SCHEDULE,
                        patients=changed,
                        obj=session,
                        detail="attendance",
                    )
                messages.success(request, f"Attendance saved: {len(records)} mark(s) recorded or corrected.")
                return redirect(request.path)
        audit.record(
            request,
            action=AuditAction.VIEW,
            category=AuditCategory.SCHEDULE,
            patients=[b.patient_id for b in bookings],
            obj=session,
            detail="attendance sheet",
        )
        context = {
            **_context(model_admin, request, session, f"Attendance · {session.series.name}"),
            "form": form,
            "has_recorded": any(b.attendance for b in bookings),
            "not_started": session.starts_at > clock.now(),
            "unrecorded": sum(1 for b in bookings if not b.attendance),
        }
        return TemplateResponse(request, "admin/scheduling/session/attendance.html", context)

    return model_admin.admin_site.admin_view(view)


# --- one occurrence: cancel, move ---------------------------------------------------------------


class CancelSessionForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Patients' bookings are cancelled with the session.")


class MoveSessionForm(forms.Form):
    date = forms.DateField(widget=DATE, label="New date")
    time = forms.TimeField(widget=TIME, label="New start time", help_text="In the program's local time.")
    reason = forms.CharField(max_length=200, required=False)


def _scoped_session(model_admin, request, object_id) -> Session:
    session = model_admin.get_object(request, object_id)  # scoped: another site's session is not found
    if session is None:
        raise Http404("No such session.")
    return session


def _context(model_admin, request, session: Session, title: str) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "session": session,
        "opts": model_admin.model._meta,
        "original": session,
    }


def _patients_of(session: Session) -> list[int]:
    return list(session.bookings.values_list("patient_id", flat=True).distinct())


def session_action_view(model_admin: admin.ModelAdmin, action: str):
    def view(request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm(CHANGE_SESSION):
            raise PermissionDenied
        session = _scoped_session(model_admin, request, object_id)
        if action == "cancel":
            form = CancelSessionForm(request.POST or None)
        else:
            local = _local(session)
            form = MoveSessionForm(request.POST or None, initial={"date": local.date(), "time": local.time()})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if action == "cancel":
                    services.cancel_session(session=session, reason=data["reason"])
                    message = "Session cancelled; its bookings were cancelled with it."
                else:
                    zone = ZoneInfo(session.series.program.time_zone)
                    starts_at = dt.datetime.combine(data["date"], data["time"], tzinfo=zone)
                    moved = services.move_session(session=session, starts_at=starts_at, reason=data["reason"])
                    new_time = localtime.when(moved.starts_at, moved.series.program.time_zone)
                    message = f"Session moved to {new_time}; its bookings moved with it."
            except DomainError as error:
                field = {"starts_at": "date"}.get(error.field, error.field)
                form.add_error(field if field in form.fields else None, error.message)
            else:
                audit.record(
                    request,
                    action=AuditAction.CHANGE,
                    category=AuditCategory.SCHEDULE,
                    patients=_patients_of(session),
                    obj=session,
                    detail=f"session {action}",
                )
                messages.success(request, message)
                return redirect("admin:scheduling_session_change", session.pk)
        title = "Cancel this session" if action == "cancel" else "Move this session"
        context = {**_context(model_admin, request, session, title), "form": form}
        return TemplateResponse(request, "admin/scheduling/session/action_form.html", context)

    return model_admin.admin_site.admin_view(view)


def session_tools(*, session: Session, user) -> list[tuple[str, str]]:
    """(title, url) of what this user may do with this session now."""
    tools = []
    if user.has_perm(TAKE_ATTENDANCE) and session.status == SessionStatus.SCHEDULED:
        tools.append(("Take attendance", reverse("admin:scheduling_session_attendance", args=[session.pk])))
    upcoming = session.status == SessionStatus.SCHEDULED and session.starts_at > clock.now()
    if user.has_perm(CHANGE_SESSION) and upcoming:
        tools.append(("Cancel this session", reverse("admin:scheduling_session_cancel", args=[session.pk])))
        tools.append(("Move this session", reverse("admin:scheduling_session_move", args=[session.pk])))
    if user.has_perm(CHANGE_SERIES):
        tools.append(("Change the series from a date", reverse("admin:scheduling_sessionseries_change_from",
                                                               args=[session.series_id])))  # fmt: skip
    return tools


def session_urls(model_admin: admin.ModelAdmin) -> list:
    return [
        path("<path:object_id>/attendance/", attendance_view(model_admin), name="scheduling_session_attendance"),
        path("<path:object_id>/cancel/", session_action_view(model_admin, "cancel"), name="scheduling_session_cancel"),
        path("<path:object_id>/move/", session_action_view(model_admin, "move"), name="scheduling_session_move"),
    ]


# --- a series from a date on --------------------------------------------------------------------


class ChangeSeriesForm(forms.Form):
    """Only the fields that are filled in and differ from the series are changed."""

    from_on = forms.DateField(widget=DATE, label="From", help_text="Sessions from this day on follow the new plan.")
    start_time = forms.TimeField(widget=TIME, required=False)
    duration_minutes = forms.IntegerField(required=False, min_value=1)
    rule = forms.CharField(required=False, help_text="RFC 5545 RRULE, for example FREQ=WEEKLY;BYDAY=MO,WE,TH.")
    room = forms.CharField(required=False, max_length=60)
    capacity = forms.IntegerField(required=False, min_value=1)
    facilitator = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    ends_on = forms.DateField(widget=DATE, required=False, label="Last day")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        colleagues = get_user_model().objects.filter(
            is_active=True, is_staff=True, site_memberships__site__in=access.visible_sites(user)
        )
        self.fields["facilitator"].queryset = (colleagues | get_user_model().objects.filter(pk=user.pk)).distinct()

    def changes(self, series: SessionSeries) -> dict:
        fields = ["start_time", "duration_minutes", "rule", "room", "capacity", "facilitator", "ends_on"]
        return {
            name: self.cleaned_data[name]
            for name in fields
            if self.cleaned_data.get(name) not in (None, "") and self.cleaned_data[name] != getattr(series, name)
        }


def change_series_view(model_admin: admin.ModelAdmin):
    def view(request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm(CHANGE_SERIES):
            raise PermissionDenied
        series = model_admin.get_object(request, object_id)
        if series is None:
            raise Http404("No such series.")
        initial = {
            "from_on": services.local_today(series.program.time_zone),
            "start_time": series.start_time,
            "duration_minutes": series.duration_minutes,
            "rule": series.rule,
            "room": series.room,
            "capacity": series.capacity,
            "facilitator": series.facilitator_id,
            "ends_on": series.ends_on,
        }
        form = ChangeSeriesForm(request.POST or None, initial=initial, user=request.user)
        if request.method == "POST" and form.is_valid():
            changes = form.changes(series)
            if not changes:
                form.add_error(None, "Nothing was changed.")
            else:
                try:
                    result = services.change_series(
                        series=series, from_on=form.cleaned_data["from_on"], changed_by=request.user, **changes
                    )
                except DomainError as error:
                    form.add_error(error.field if error.field in form.fields else None, error.message)
                else:
                    audit.record(
                        request,
                        action=AuditAction.CHANGE,
                        category=AuditCategory.SCHEDULE,
                        obj=result.series,
                        detail=("series from a date: " + ", ".join(sorted(changes)))[:300],
                    )
                    note = f" {len(result.unplaced_one_off_bookings)} one-off booking(s) could not follow."
                    messages.success(
                        request,
                        f"Series changed from {localtime.day(form.cleaned_data['from_on'])}: {result.removed_sessions} "
                        f"session(s) regenerated, {result.kept_sessions} kept (started or with attendance)."
                        + (note if result.unplaced_one_off_bookings else ""),
                    )
                    return redirect("admin:scheduling_sessionseries_change", result.series.pk)
        context = {
            **model_admin.admin_site.each_context(request),
            "title": f"Change {series.name} from a date",
            "subtitle": str(series),
            "series": series,
            "opts": model_admin.model._meta,
            "original": series,
            "form": form,
        }
        return TemplateResponse(request, "admin/scheduling/sessionseries/change_from.html", context)

    return model_admin.admin_site.admin_view(view)


def series_urls(model_admin: admin.ModelAdmin) -> list:
    return [path("<path:object_id>/change-from/", change_series_view(model_admin),
                 name="scheduling_sessionseries_change_from")]  # fmt: skip


# --- the patient page's schedule panel ----------------------------------------------------------


def patient_schedule_context(*, request, patient, today: dt.date) -> dict:
    """Upcoming sessions, attendance history and (for clinical roles) weekly hours against the band.

    Front desk sees the schedule and the marks (they hold the view permissions), not the weekly-hours
    compliance, which is a level-of-care judgement. Shown data is recorded in the audit trail.
    """
    from scheduling import selectors

    user = request.user
    if not user.has_perm("scheduling.view_booking"):
        return {}
    upcoming = list(selectors.upcoming_bookings(patient=patient)[:10])
    history = selectors.patient_attendance(patient=patient, today=today)
    clinical = access.can_view_clinical(user)
    if upcoming or history.recent or history.weeks:  # the page's own view is recorded by the mixin
        audit.record(
            request,
            action=AuditAction.VIEW,
            category=AuditCategory.SCHEDULE,
            patients=[patient],
            obj=patient,
            detail="upcoming sessions and attendance" + (" with weekly hours" if clinical else ""),
        )
    return {
        "schedule": {
            "upcoming": upcoming,
            "recent": history.recent,
            "weeks": history.weeks if clinical else None,
        }
    }


def consent_summary(*, patient, user) -> dict:
    """Messaging consent and preferences at a glance (Part 2 disclosure consents only for clinical roles)."""
    from patients.models import DisclosureConsent
    from scheduling.models import CalendarFeed

    channels = [name for name, on in [("SMS", patient.sms_allowed), ("e-mail", patient.email_allowed),
                                      ("app", patient.push_allowed)] if on]  # fmt: skip
    summary = {
        "consent": patient.has_messaging_consent,
        "consent_given_at": patient.messaging_consent_given_at,
        "consent_revoked_at": patient.messaging_consent_revoked_at,
        "channels": channels,
        "quiet_start": patient.quiet_hours_start,
        "quiet_end": patient.quiet_hours_end,
        "time_zone": patient.time_zone,
        "confidential": patient.confidential_communication,
        "confidential_instructions": patient.confidential_instructions,
        "calendar_feed": CalendarFeed.objects.filter(patient=patient, revoked_at__isnull=True).exists(),
    }
    if access.can_view_clinical(user):
        now = clock.now()
        summary["disclosures_in_force"] = DisclosureConsent.objects.filter(
            patient=patient, revoked_at__isnull=True, given_at__lte=now, expires_at__gt=now
        ).count()
    return summary
