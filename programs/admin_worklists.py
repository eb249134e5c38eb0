"""The care journey's worklists (issue 12): step-down due, nearing discharge, aftercare check-ins.

Each dashboard figure opens one of these lists, with the columns that decide it and the action
on each row: the care-journey workflows (``admin_workflows``, which come back here when done) and
recording a contact for a check-in. Actions are offered only to roles that may take them; the
views behind them check the same permissions.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from clinic import access, audit, clock
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
    title_of,
)
from programs import admin_workflows, services
from programs import worklist_selectors as selectors
from programs.models import AftercareCheckIn

VIEW_STAYS = "programs.view_residentialstay"
VIEW_CHECKINS = "programs.view_aftercarecheckin"
RECORD_CONTACT = "programs.change_aftercarecheckin"
VIEW_DISCHARGES = "programs.view_discharge"
VIEW_PATIENTS = "patients.view_patient"


def _workflow_actions(row: selectors.StayRow, user, back: str, slugs: list[tuple[str, str]]) -> list[Action]:
    links = admin_workflows.workflow_links(patient_id=row.stay.patient_id, user=user, back=back, slugs=slugs)
    return [Action(label, url) for label, url in links]


def _past_end_flag(row: selectors.StayRow) -> list[Flag]:
    # A stay still in its bed after the planned discharge is not "active" like the others: flag it.
    if row.past_planned_end:
        return [Flag(f"Past planned discharge by {days(-row.days_left)}")]
    return []


def step_down_worklist(request: HttpRequest) -> Worklist:
    back = reverse("admin:programs_worklist_step_down")
    sites = access.visible_sites(request.user)
    rows = []
    for row in selectors.stay_rows(selectors.stays_due_step_down(sites=sites)):
        rows.append(
            Row(
                patient=row.stay.patient,
                program=row.stay.program,
                cells=[
                    f"Day {row.days_in_care}",
                    days(row.past_minimum_by),
                    day(row.stay.planned_end_on),
                    row.stay.bed.label if row.stay.bed else "",
                ],
                flags=_past_end_flag(row),
                actions=_workflow_actions(row, request.user, back, [("Step down", "step-down")]),
                key=str(row.stay.public_id),
            )
        )
    return Worklist(
        slug="step-down-due",
        title="Due a step-down decision",
        intro="Residential stays past their program's minimum length, on each program's own today: "
        "decide on a step-down to IOP (or extend, from the patient's chart).",
        columns=["Days in care", "Past minimum by", "Planned end", "Bed"],
        rows=rows,
        empty="No stay is past its program minimum today.",
    )


def nearing_discharge_worklist(request: HttpRequest) -> Worklist:
    back = reverse("admin:programs_worklist_nearing_discharge")
    sites = access.visible_sites(request.user)
    rows = []
    for row in selectors.stay_rows(selectors.stays_nearing_discharge(sites=sites)):
        flags = _past_end_flag(row)
        if row.ends_at_maximum:
            flags.append(Flag(f"Program maximum on {day(row.max_end_on)}"))
        left = "past" if row.past_planned_end else days(row.days_left)
        rows.append(
            Row(
                patient=row.stay.patient,
                program=row.stay.program,
                cells=[
                    left,
                    day(row.stay.planned_end_on),
                    f"{days(row.days_to_maximum)} ({day(row.max_end_on)})",
                    f"Day {row.days_in_care}",
                ],
                flags=flags,
                actions=_workflow_actions(row, request.user, back, [("Extend", "extend"), ("Discharge", "discharge")]),
                key=str(row.stay.public_id),
            )
        )
    return Worklist(
        slug="nearing-discharge",
        title="Nearing discharge",
        intro="Residential stays whose planned discharge or program maximum is within a week, or already "
        "passed: extend the stay or discharge.",
        columns=["Days left", "Planned end", "To program maximum", "Days in care"],
        rows=rows,
        empty="No stay reaches its planned discharge or the program maximum this week.",
    )


def contact_url(checkin: AftercareCheckIn) -> str:
    return reverse("admin:programs_checkin_contact", args=[checkin.public_id])


def _checkin_tabs(current: str) -> list[tuple[str, str, bool]]:
    return [
        ("Due in the next 7 days", reverse("admin:programs_worklist_checkins", args=["due"]), current == "due"),
        ("Missed", reverse("admin:programs_worklist_checkins", args=["missed"]), current == "missed"),
    ]


def checkins_worklist(request: HttpRequest, which: str) -> Worklist:
    sites = access.visible_sites(request.user)
    select = selectors.checkins_due if which == "due" else selectors.checkins_missed
    back = reverse("admin:programs_worklist_checkins", args=[which])
    may_record = request.user.has_perm(RECORD_CONTACT)
    rows = []
    for row in selectors.checkin_rows(select(sites=sites)):
        checkin = row.checkin
        late = row.days_late
        rows.append(
            Row(
                patient=checkin.plan.patient,
                program=checkin.plan.program,
                cells=[f"Day {checkin.offset_days}", day(checkin.due_on), days(late) if late > 0 else "not yet"],
                flags=[Flag("Missed")] if which == "missed" else [],
                actions=action_for(may_record, "Record contact", contact_url(checkin), back=back),
                key=str(checkin.public_id),
            )
        )
    due = which == "due"
    return Worklist(
        slug=f"checkins-{which}",
        title="Aftercare check-ins due" if due else "Aftercare check-ins missed",
        intro="Open aftercare check-ins due from today to a week ahead."
        if due
        else f"Aftercare check-ins more than {selectors.CHECKIN_GRACE_DAYS} days late: call the patient and "
        "record the contact.",
        columns=["Check-in", "Due", "Days late"],
        rows=rows,
        empty="No check-in due this week." if due else "No missed check-in.",
        tabs=_checkin_tabs(which),
    )


# --- Admissions and discharges this week (each row opens the patient's chart) -------------------


def this_week() -> tuple[dt.date, dt.date]:
    """Monday to Sunday around today, as the dashboard's figures count them."""
    today = clock.today()
    start = today - dt.timedelta(days=today.weekday())
    return start, start + dt.timedelta(days=7)


def _chart_action(request: HttpRequest, patient) -> list[Action]:
    if not request.user.has_perm(VIEW_PATIENTS):
        return []
    return [Action("Open chart", reverse("admin:patients_patient_change", args=[patient.pk]))]


def admissions_worklist(request: HttpRequest) -> Worklist:
    start, end = this_week()
    rows = []
    for stay in selectors.admission_rows(start=start, end=end, sites=access.visible_sites(request.user)):
        if stay.start_on > stay.local_on:
            length = "not yet admitted"
        elif stay.ended_on and stay.ended_on <= stay.local_on:
            length = days((stay.ended_on - stay.start_on).days) + " (discharged)"
        else:
            length = f"Day {(stay.local_on - stay.start_on).days + 1}"
        rows.append(
            Row(
                patient=stay.patient,
                program=stay.program,
                cells=[stay.bed.label if stay.bed else "—", day(stay.start_on), length],
                actions=_chart_action(request, stay.patient),
                key=str(stay.public_id),
            )
        )
    return Worklist(
        slug="admissions-week",
        title="Admissions this week",
        intro=f"Residential admissions from {day(start)} to {day(end - dt.timedelta(days=1))}.",
        columns=["Bed", "Admitted", "Length of stay"],
        rows=rows,
        empty="No residential admission this week.",
        tabs=_week_tabs("admissions"),
    )


def discharges_worklist(request: HttpRequest) -> Worklist:
    start, end = this_week()
    rows = []
    for discharge in selectors.discharge_rows(start=start, end=end, sites=access.visible_sites(request.user)):
        placement = discharge.ended_placement
        rows.append(
            Row(
                patient=placement.patient,
                program=placement.program,
                cells=[
                    placement.bed.label if placement.bed else "—",
                    day(discharge.effective_on),
                    days((discharge.effective_on - placement.start_on).days),
                    discharge.get_disposition_display(),
                ],
                actions=_chart_action(request, placement.patient),
                key=str(discharge.pk),
            )
        )
    return Worklist(
        slug="discharges-week",
        title="Discharges this week",
        intro=f"Discharges from {day(start)} to {day(end - dt.timedelta(days=1))}, residential and IOP.",
        columns=["Bed", "Discharged", "Length of stay", "Discharge type"],
        rows=rows,
        empty="No discharge this week.",
        tabs=_week_tabs("discharges"),
    )


def _week_tabs(current: str) -> list[tuple[str, str, bool]]:
    return [
        ("Admissions this week", reverse("admin:programs_worklist_admissions"), current == "admissions"),
        ("Discharges this week", reverse("admin:programs_worklist_discharges"), current == "discharges"),
    ]


# --- Record contact (an aftercare check-in) ---------------------------------------------------


class ContactForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What was said",
        help_text="How the patient was reached and how they are (clinical; front desk does not see it).",
    )


def contact_view(model_admin: admin.ModelAdmin):
    def view(request: HttpRequest, checkin_id) -> HttpResponse:
        if not request.user.has_perm(RECORD_CONTACT):
            raise PermissionDenied
        checkin = (
            AftercareCheckIn.objects.filter(
                public_id=checkin_id, plan__program__site__in=access.visible_sites(request.user)
            )
            .select_related("plan__patient", "plan__program__site")
            .first()
        )
        if checkin is None:
            raise Http404("No such check-in at your sites.")
        back = admin_workflows._next_url(request) or reverse("admin:programs_worklist_checkins", args=["missed"])
        form = ContactForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.record_checkin_contact(
                    checkin=checkin, note=form.cleaned_data["note"], recorded_by=request.user
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                audit.record(
                    request, action=AuditAction.CHANGE, category=AuditCategory.CLINICAL,
                    patients=[checkin.plan.patient_id], obj=checkin, detail="aftercare contact recorded",
                )  # fmt: skip
                messages.success(
                    request, f"Contact recorded for {checkin.plan.patient.display_name}'s day-{checkin.offset_days} "
                    "check-in; it is complete.",
                )  # fmt: skip
                return redirect(back)
        audit.record(
            request, action=AuditAction.VIEW, category=AuditCategory.CLINICAL, patients=[checkin.plan.patient_id],
            obj=checkin, detail="aftercare contact form",
        )  # fmt: skip
        context = {
            **model_admin.admin_site.each_context(request),
            "title": f"Record contact · day-{checkin.offset_days} check-in",
            "subtitle": checkin.plan.patient.display_name,
            "facts": f"{checkin.plan.patient.display_name} (MRN {checkin.plan.patient.mrn}) · "
            f"{checkin.plan.program.name} · due {day(checkin.due_on)}",
            "form": form,
            "submit": "Record contact",
            "back": back,
            "back_title": title_of(back),
            "opts": model_admin.model._meta,
        }
        return TemplateResponse(request, "admin/clinic/worklist_action.html", context)

    return model_admin.admin_site.admin_view(view)


# --- URLs, hooked into the model admins' URLs ---------------------------------------------------


def stay_worklist_urls(model_admin: admin.ModelAdmin) -> list:
    return [
        path(
            "worklist/step-down/",
            list_view(model_admin, permission=VIEW_STAYS, build=step_down_worklist),
            name="programs_worklist_step_down",
        ),
        path(
            "worklist/nearing-discharge/",
            list_view(model_admin, permission=VIEW_STAYS, build=nearing_discharge_worklist),
            name="programs_worklist_nearing_discharge",
        ),
        path(
            "worklist/admissions-week/",
            list_view(model_admin, permission=VIEW_STAYS, build=admissions_worklist),
            name="programs_worklist_admissions",
        ),
        path(
            "worklist/discharges-week/",
            list_view(model_admin, permission=VIEW_DISCHARGES, build=discharges_worklist),
            name="programs_worklist_discharges",
        ),
    ]


def checkin_worklist_urls(model_admin: admin.ModelAdmin) -> list:
    return [
        path(
            "worklist/<str:which>/",
            list_view(model_admin, permission=VIEW_CHECKINS, build=_checkins),
            name="programs_worklist_checkins",
        ),
        path("<uuid:checkin_id>/contact/", contact_view(model_admin), name="programs_checkin_contact"),
    ]


def _checkins(request: HttpRequest, which: str) -> Worklist:
    if which not in ("due", "missed"):
        raise Http404("No such list.")
    return checkins_worklist(request, which)


# The list the Record contact form returns to, named in its breadcrumb.
register_titles(
    {
        "admin:programs_worklist_checkins": lambda which: {
            "due": "Aftercare check-ins due",
            "missed": "Aftercare check-ins missed",
        }.get(which)
    }
)
