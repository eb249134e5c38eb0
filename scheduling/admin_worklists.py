"""IOP worklists (issue 12): below the weekly minimum (with the hours), and consecutive absences.

"Below the weekly minimum" shows each enrollment's hours scheduled and attended in the week
against the program's band, with [Book a session] (front desk books sessions too). "Consecutive
absences and missed sessions" shows the dates missed and, for clinical roles, the open staff
follow-up with [Resolve]. Both are read per program's own local week, in a constant number of
queries.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, OuterRef, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import time_format

from clinic import access, audit, clock, localtime
from clinic.errors import DomainError
from clinic.models import AuditAction, AuditCategory
from clinic.worklist import (
    Action,
    Flag,
    Row,
    Worklist,
    action_for,
    day,
    days,
    list_view,
    register_titles,
    staff_name,
    title_of,
)
from programs.admin_workflows import _next_url, workflow_links
from programs.models import Placement, PlacementKind, Program
from reminders import selectors as follow_up_selectors
from reminders import services as follow_ups
from reminders.models import FollowUpItem
from scheduling import selectors, services
from scheduling.models import Attendance, Booking, Session

VIEW_ENROLLMENTS = "programs.view_iopenrollment"
BOOK = "scheduling.add_booking"
VIEW_FOLLOW_UPS = "reminders.view_followupitem"
RESOLVE = "reminders.change_followupitem"
BOOK_AHEAD_DAYS = 14  # the sessions offered to book: from now to two weeks ahead


def resolve_url(item: FollowUpItem) -> str:
    return reverse("admin:reminders_followup_resolve", args=[item.public_id])


def _hours(value) -> str:
    return f"{value.normalize():f} h"


# A session's start in its program's local time, in the locale's format, with the zone only when it is not
# the user's (one rule for every staff page, clinic.localtime).
when = localtime.when


# --- Below the weekly minimum ----------------------------------------------------------------------

BASES = {
    # basis: (title, weeks back from each program's current week, intro)
    "scheduled": (
        "IOP below weekly minimum, scheduled this week",
        0,
        "Hours booked this week (full weeks only) fall short of the program's band: book a session.",
    ),
    "attended": (
        "IOP below weekly minimum, attended last week",
        1,
        "Hours attended in the last complete week fell short of the program's band.",
    ),
}


def below_minimum_worklist(request: HttpRequest, basis: str) -> Worklist:
    if basis not in BASES:
        raise Http404("No such list.")
    title, weeks_back, intro = BASES[basis]
    programs = access.visible_programs(request.user)
    back = reverse("admin:programs_worklist_below_minimum", args=[basis])
    may_book = request.user.has_perm(BOOK)
    rows = []
    for week in selectors.below_minimum(basis=basis, programs=programs, weeks_back=weeks_back):
        enrollment = week.enrollment
        book_url = reverse("admin:programs_enrollment_book", args=[enrollment.public_id])
        short = week.minimum_hours - (week.scheduled_hours if basis == "scheduled" else week.attended_hours)
        rows.append(
            Row(
                patient=enrollment.patient,
                program=enrollment.program,
                cells=[
                    f"{day(week.week_start)} to {day(week.week_start + dt.timedelta(days=6))}",
                    _hours(week.scheduled_hours),
                    _hours(week.attended_hours),
                    f"{_hours(week.minimum_hours)} to {_hours(week.maximum_hours)}"
                    + (" (adolescent)" if week.adolescent else ""),
                ],
                flags=[Flag(f"Short by {_hours(short)}")],
                actions=action_for(may_book, "Book a session", book_url, back=back),
                key=str(enrollment.public_id),
            )
        )
    other = "attended" if basis == "scheduled" else "scheduled"
    return Worklist(
        slug=f"below-minimum-{basis}",
        title=title,
        intro=intro,
        columns=["Week", "Scheduled", "Attended", "Band"],
        rows=rows,
        empty="Every full-week IOP enrollment is within its band.",
        tabs=[
            (BASES[basis][0], back, True),
            (BASES[other][0], reverse("admin:programs_worklist_below_minimum", args=[other]), False),
        ],
    )


# --- IOP roster (the census card of an IOP program) -------------------------------------------------


def roster_url(program: Program) -> str:
    return reverse("admin:programs_worklist_iop_roster", args=[program.public_id])


def _booked(series: list[selectors.BookedSeries]) -> str:
    """The patient's own week: which groups, at what time, how many sessions ("Morning group 9 a.m., 4 sessions")."""

    def sessions(n: int) -> str:
        return "1 session" if n == 1 else f"{n} sessions"

    return "; ".join(f"{one.name} {time_format(one.start_time)}, {sessions(one.sessions)}" for one in series) or "none"


def _next_session(session: Session | None, zone: str) -> str:
    if session is None:
        return "none booked"
    return f"{when(session.starts_at, zone)} · {session.series.name} · {staff_name(session.facilitator)}"


def iop_roster_worklist(request: HttpRequest, program_id) -> Worklist:
    """Everyone enrolled in an IOP program on its local today: the day of the enrollment, this week's hours
    against the band (the below-minimum lists' own computation), the next session, and the actions."""
    program = (
        access.visible_programs(request.user)
        .filter(public_id=program_id, is_active=True)
        .select_related("site")
        .first()
    )
    if program is None or program.is_residential:
        raise Http404("No such IOP program at your sites.")
    today = clock.local_today(program.time_zone)
    enrollments = list(
        Placement.objects.on(today)
        .filter(program=program, kind=PlacementKind.IOP)
        .select_related("patient", "program__site")
        .order_by("patient__legal_last_name", "patient__legal_first_name", "id")
    )
    weeks = {week.enrollment.pk: week for week in selectors.weekly_hours(enrollments=enrollments)}
    upcoming = selectors.next_sessions(enrollments=enrollments)
    monday = selectors.week_start(today)
    # What each patient is booked into this week, not the program's track (the same on every row).
    booked = selectors.booked_series(enrollments=enrollments, week_start=monday)
    back = roster_url(program)
    may_book = request.user.has_perm(BOOK)
    rows = []
    for enrollment in enrollments:
        week = weeks[enrollment.pk]
        flags = []
        if week.partial_week:
            flags.append(Flag("Partial week", ""))
        elif week.below_minimum_scheduled:
            flags.append(Flag(f"Below the band by {_hours(week.minimum_hours - week.scheduled_hours)}"))
        if week.above_maximum:
            flags.append(Flag("Above the band"))
        links = workflow_links(
            patient_id=enrollment.patient_id, user=request.user, back=back,
            slugs=[("Step up", "step-up"), ("Discharge", "discharge")],
        )  # fmt: skip
        book_url = reverse("admin:programs_enrollment_book", args=[enrollment.public_id])
        rows.append(
            Row(
                patient=enrollment.patient,
                program=program,
                cells=[
                    f"Day {(today - enrollment.start_on).days + 1}",
                    _booked(booked.get(enrollment.pk, [])),
                    _hours(week.scheduled_hours),
                    _hours(week.attended_hours),
                    f"{_hours(week.minimum_hours)} to {_hours(week.maximum_hours)}"
                    + (" (adolescent)" if week.adolescent else ""),
                    _next_session(upcoming.get(enrollment.pk), program.time_zone),
                ],
                flags=flags,
                actions=[
                    *(Action(label, url) for label, url in links),
                    *action_for(may_book, "Book a session", book_url, back=back),
                ],
                key=str(enrollment.public_id),
            )
        )
    return Worklist(
        slug="iop-roster",
        title=f"IOP roster · {program.name}",
        intro=f"Everyone enrolled in {program.name} on {day(today)}, with the hours scheduled and attended this "
        f"week ({day(monday)} to {day(monday + dt.timedelta(days=6))}) against the program's weekly band.",
        columns=["Enrollment", "Booked this week", "Scheduled this week", "Attended this week", "Band", "Next session"],
        rows=rows,
        empty=f"Nobody is enrolled in {program.name} today.",
        show_program=False,  # one program, named in the title: its column would only take a tablet's width
    )


class BookForm(forms.Form):
    session = forms.ModelChoiceField(queryset=Session.objects.none(), label="Session", empty_label=None)

    def __init__(self, *args, enrollment: Placement, **kwargs):
        super().__init__(*args, **kwargs)
        zone = enrollment.program.time_zone
        field = self.fields["session"]
        field.queryset = bookable_sessions(enrollment)
        field.help_text = (
            f"{enrollment.program.name}'s sessions of the next {BOOK_AHEAD_DAYS} days with a seat free, "
            "in the program's local time. None listed: there is no free seat to book."
        )
        field.label_from_instance = lambda s: (
            f"{when(s.starts_at, zone)} · {s.series.name} · {s.capacity - s.booked_count} seat(s) free"
        )


def bookable_sessions(enrollment: Placement):
    """The enrollment's program's sessions it could join: not started, within two weeks, seats free, not booked."""
    now = clock.now()
    booked = Booking.objects.active().filter(session=OuterRef("pk"), patient_id=enrollment.patient_id)
    sessions = Session.objects.scheduled().filter(
        series__program_id=enrollment.program_id,
        starts_at__gt=now,
        starts_at__lt=now + dt.timedelta(days=BOOK_AHEAD_DAYS),
        booked_count__lt=F("capacity"),
    )
    if enrollment.ended_on is not None:
        sessions = sessions.filter(local_date__lt=enrollment.ended_on)
    return sessions.exclude(Exists(booked)).select_related("series").order_by("starts_at")


def book_view(model_admin: admin.ModelAdmin):
    def view(request: HttpRequest, enrollment_id) -> HttpResponse:
        if not request.user.has_perm(BOOK):
            raise PermissionDenied
        enrollment = (
            Placement.objects.open()
            .filter(kind=PlacementKind.IOP, public_id=enrollment_id, program__in=access.visible_programs(request.user))
            .select_related("patient", "program__site")
            .first()
        )
        if enrollment is None:
            raise Http404("No such current IOP enrollment at your sites.")
        back = _next_url(request) or reverse("admin:programs_worklist_below_minimum", args=["scheduled"])
        form = BookForm(request.POST or None, enrollment=enrollment)
        if request.method == "POST" and form.is_valid():
            session = form.cleaned_data["session"]
            try:
                booking = services.book_session(session=session, patient=enrollment.patient)
            except DomainError as error:
                form.add_error("session" if error.field in (None, "patient", "session") else None, error.message)
            else:
                audit.record(
                    request, action=AuditAction.CREATE, category=AuditCategory.SCHEDULE,
                    patients=[enrollment.patient_id], obj=booking, detail="booked from a worklist",
                )  # fmt: skip
                messages.success(
                    request,
                    f"Booked {enrollment.patient.display_name} into {session.series.name}, "
                    f"{when(session.starts_at, enrollment.program.time_zone)}.",
                )
                return redirect(back)
        audit.record(
            request, action=AuditAction.VIEW, category=AuditCategory.SCHEDULE, patients=[enrollment.patient_id],
            obj=enrollment, detail="booking form",
        )  # fmt: skip
        context = {
            **model_admin.admin_site.each_context(request),
            "title": "Book a session",
            "subtitle": enrollment.patient.display_name,
            "facts": f"{enrollment.patient.display_name} (MRN {enrollment.patient.mrn}) · {enrollment.program.name}",
            "form": form,
            "submit": "Book",
            "back": back,
            "back_title": title_of(back),
            "opts": model_admin.model._meta,
        }
        return TemplateResponse(request, "admin/clinic/worklist_action.html", context)

    return model_admin.admin_site.admin_view(view)


# --- Consecutive absences and missed sessions ----------------------------------------------------


def _missed_dates(items: list[FollowUpItem], n: int) -> dict[tuple[int, int], list[dt.datetime]]:
    """The latest ``n`` absences of each follow-up's patient in its program, in one query."""
    if not items:
        return {}
    absences = (
        Booking.objects.active()
        .filter(
            attendance=Attendance.ABSENT,
            patient_id__in={item.patient_id for item in items},
            session__series__program_id__in={item.program_id for item in items},
        )
        .annotate(
            recent=Window(
                RowNumber(),
                partition_by=[F("patient_id"), F("session__series__program_id")],
                order_by=F("starts_at").desc(),
            )
        )
        .filter(recent__lte=n)
        .values_list("patient_id", "session__series__program_id", "starts_at")
    )
    dates: dict[tuple[int, int], list[dt.datetime]] = {}
    for patient_id, program_id, starts_at in absences:
        dates.setdefault((patient_id, program_id), []).append(starts_at)
    return {key: sorted(value, reverse=True) for key, value in dates.items()}


def missed_sessions_worklist(request: HttpRequest) -> Worklist:
    user = request.user
    programs = access.visible_programs(user)
    back = reverse("admin:programs_worklist_missed_sessions")
    runs = selectors.consecutive_absences(n=selectors.ABSENCE_RUN, programs=programs)
    items: list[FollowUpItem] = []
    if user.has_perm(VIEW_FOLLOW_UPS):
        items = list(
            FollowUpItem.objects.filter(
                kind=FollowUpItem.Kind.MISSED_SESSIONS, status=FollowUpItem.Status.OPEN, program__in=programs
            )
            .select_related("patient", "program__site")
            .order_by("created_at")
        )
    open_item = {(item.patient_id, item.program_id): item for item in items}
    rows = []
    seen = set()

    def row_for(patient, program, absent_at, item: FollowUpItem | None, still_absent: bool) -> Row:
        flags = [Flag(f"{len(absent_at)} in a row")] if still_absent else [Flag("Attended since", "")]
        if item is not None:
            flags.append(Flag(f"Follow-up open since {localtime.day(item.created_at, program.time_zone)}"))
        actions = action_for(user.has_perm(RESOLVE), "Resolve", resolve_url(item), back=back) if item else []
        return Row(
            patient=patient,
            program=program,
            cells=[", ".join(when(moment, program.time_zone) for moment in absent_at) or "—"],
            flags=flags,
            actions=actions,
            key=f"{patient.public_id}-{program.public_id}",
            counted=still_absent,
        )

    for run in runs:
        enrollment = run.enrollment
        key = (enrollment.patient_id, enrollment.program_id)
        seen.add(key)
        rows.append(row_for(enrollment.patient, enrollment.program, run.absent_at, open_item.get(key), True))
    leftover = [item for item in items if (item.patient_id, item.program_id) not in seen]
    dates = _missed_dates(leftover, selectors.ABSENCE_RUN)
    for item in leftover:
        rows.append(row_for(item.patient, item.program, dates.get((item.patient_id, item.program_id), []), item, False))
    return Worklist(
        slug="missed-sessions",
        title="Consecutive absences and missed sessions",
        intro=f"IOP patients whose last {selectors.ABSENCE_RUN} recorded sessions were missed (excused ones "
        "left out), and the open missed-session follow-ups: call, then resolve.",
        columns=["Sessions missed"],
        rows=rows,
        empty="No one has missed sessions in a row.",
    )


# --- Open follow-up items (missed sessions and requests for help) ---------------------------------


def follow_ups_worklist(request: HttpRequest) -> Worklist:
    """Every open follow-up at the user's sites, urgent first, with [Resolve] for clinical roles."""
    back = reverse("admin:reminders_worklist_follow_ups")
    may_resolve = request.user.has_perm(RESOLVE)
    now = clock.now()
    rows = []
    for item in follow_up_selectors.follow_up_rows(follow_up_selectors.follow_ups_open(
        sites=access.visible_sites(request.user)
    )):  # fmt: skip
        zone = item.program.time_zone
        opened = (localtime.local_date(now, zone) - localtime.local_date(item.created_at, zone)).days
        rows.append(
            Row(
                patient=item.patient,
                program=item.program,
                cells=[
                    item.get_kind_display(),
                    localtime.when(item.created_at, zone),
                    item.details or "—",
                    days(opened),
                ],
                flags=[Flag("Urgent")] if item.urgency == FollowUpItem.Urgency.URGENT else [],
                actions=action_for(may_resolve, "Resolve", resolve_url(item), back=back),
                key=str(item.public_id),
            )
        )
    return Worklist(
        slug="follow-ups",
        title="Open follow-up items",
        intro="Missed sessions and patients who asked for help, urgent first then the oldest: call, then resolve.",
        columns=["Kind", "Opened", "Reason", "Days open"],
        rows=rows,
        empty="No open follow-up at your sites.",
    )


class ResolveForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Note", help_text="What was done (optional)."
    )


def resolve_view(model_admin: admin.ModelAdmin):
    def view(request: HttpRequest, item_id) -> HttpResponse:
        if not request.user.has_perm(RESOLVE):
            raise PermissionDenied
        item = (
            FollowUpItem.objects.filter(public_id=item_id, program__in=access.visible_programs(request.user))
            .select_related("patient", "program")
            .first()
        )
        if item is None:
            raise Http404("No such follow-up at your sites.")
        back = _next_url(request) or reverse("admin:programs_worklist_missed_sessions")
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                follow_ups.resolve_follow_up(item=item, resolved_by=request.user, note=form.cleaned_data["note"])
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                audit.record(
                    request, action=AuditAction.CHANGE, category=AuditCategory.CLINICAL, patients=[item.patient_id],
                    obj=item, detail="follow-up resolved",
                )  # fmt: skip
                messages.success(request, f"Resolved the follow-up for {item.patient.display_name}.")
                return redirect(back)
        audit.record(
            request, action=AuditAction.VIEW, category=AuditCategory.CLINICAL, patients=[item.patient_id], obj=item,
            detail="follow-up resolve form",
        )  # fmt: skip
        context = {
            **model_admin.admin_site.each_context(request),
            "title": f"Resolve · {item.get_kind_display()}",
            "subtitle": item.patient.display_name,
            "facts": f"{item.patient.display_name} (MRN {item.patient.mrn}) · {item.program.name} · {item.details}",
            "form": form,
            "submit": "Resolve",
            "back": back,
            "back_title": title_of(back),
            "opts": model_admin.model._meta,
        }
        return TemplateResponse(request, "admin/clinic/worklist_action.html", context)

    return model_admin.admin_site.admin_view(view)


def enrollment_worklist_urls(model_admin: admin.ModelAdmin) -> list:
    """Hooked into the IOP enrollments' admin URLs (the lists the figures used to open)."""
    return [
        path(
            "worklist/below-minimum/<str:basis>/",
            list_view(
                model_admin, permission=VIEW_ENROLLMENTS, build=below_minimum_worklist, category=AuditCategory.SCHEDULE
            ),
            name="programs_worklist_below_minimum",
        ),
        path(
            "worklist/missed-sessions/",
            list_view(
                model_admin,
                permission=VIEW_ENROLLMENTS,
                build=missed_sessions_worklist,
                category=AuditCategory.SCHEDULE,
            ),
            name="programs_worklist_missed_sessions",
        ),
        path(
            "worklist/roster/<uuid:program_id>/",
            list_view(
                model_admin, permission=VIEW_ENROLLMENTS, build=iop_roster_worklist, category=AuditCategory.SCHEDULE
            ),
            name="programs_worklist_iop_roster",
        ),
        path("<uuid:enrollment_id>/book/", book_view(model_admin), name="programs_enrollment_book"),
    ]


def follow_up_urls(model_admin: admin.ModelAdmin) -> list:
    return [
        path(
            "worklist/",
            list_view(model_admin, permission=VIEW_FOLLOW_UPS, build=follow_ups_worklist),
            name="reminders_worklist_follow_ups",
        ),
        path("<uuid:item_id>/resolve/", resolve_view(model_admin), name="reminders_followup_resolve"),
    ]


# The lists a Book or Resolve form can return to, named in its breadcrumb.
register_titles(
    {
        "admin:programs_worklist_below_minimum": lambda basis: BASES[basis][0] if basis in BASES else None,
        "admin:programs_worklist_missed_sessions": "Consecutive absences and missed sessions",
        "admin:programs_worklist_iop_roster": "IOP roster",
        "admin:reminders_worklist_follow_ups": "Open follow-up items",
    }
)
