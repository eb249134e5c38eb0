"""The care-journey workflows in the staff admin: forms that call the same services as the API.

Every workflow starts from the patient's page (the clinician's natural starting point),
works out the patient's current level of care on the server, and shows a domain error
as a form error, never a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from clinic import access, clock, localtime
from clinic.errors import DomainError
from patients.models import Patient
from programs import selectors, services
from programs.models import Bed, Discharge, Disposition, Placement, PlacementKind, Program, Transition

DATE = forms.DateInput(attrs={"type": "date"})


class BedChoiceField(forms.ModelChoiceField):
    def __init__(self, *args, visible_beds=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.visible_beds = visible_beds if visible_beds is not None else Bed.objects.none()

    def label_from_instance(self, bed: Bed) -> str:
        return f"{bed.program.site.name} · {bed.program.name} · bed {bed.label}"

    def to_python(self, value):
        # A bed taken between showing the form and submitting it is no longer a choice: say so
        # in words (issue 12) instead of "Select a valid choice"; the form keeps the other fields.
        try:
            return super().to_python(value)
        except ValidationError as error:
            bed = self.visible_beds.filter(pk=value).first() if str(value).isdigit() else None
            if error.code != "invalid_choice" or bed is None:
                raise
            raise ValidationError(
                f"Bed {bed.label} is no longer free: it was taken, reserved or taken out of service meanwhile. "
                "Choose another free bed.",
                code="bed_taken",
            ) from error


def _free_bed_field(on: dt.date, user) -> BedChoiceField:
    # Only free beds at the user's sites are offered; the service re-checks under a lock.
    programs = access.visible_programs(user)
    return BedChoiceField(
        queryset=selectors.free_beds(from_on=on, programs=programs),
        visible_beds=Bed.objects.filter(program__in=programs),
        label="Bed (free beds only)",
    )


def _outpatient_programs(user):
    return access.visible_programs(user).outpatient().filter(is_active=True)


class WorkflowForm(forms.Form):
    """A form whose choices depend on who fills it in (beds and programs at the user's sites)."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user


class AdmitForm(WorkflowForm):
    admitted_on = forms.DateField(widget=DATE)
    planned_discharge_on = forms.DateField(
        widget=DATE, required=False, help_text="Leave empty for the program minimum (usually 30 days)."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bed"] = _free_bed_field(clock.today(), self.user)
        self.order_fields(["bed", "admitted_on", "planned_discharge_on"])


class EnrollForm(WorkflowForm):
    program = forms.ModelChoiceField(queryset=Program.objects.none())
    start_on = forms.DateField(widget=DATE)
    planned_end_on = forms.DateField(widget=DATE, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = _outpatient_programs(self.user)


class ExtendForm(WorkflowForm):
    new_planned_discharge_on = forms.DateField(widget=DATE)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    approved_by = forms.ModelChoiceField(queryset=get_user_model().objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Whoever approves works at one of the same sites (or is the person recording it).
        colleagues = get_user_model().objects.filter(
            is_active=True, is_staff=True, site_memberships__site__in=access.visible_sites(self.user)
        )
        self.fields["approved_by"].queryset = (colleagues | get_user_model().objects.filter(pk=self.user.pk)).distinct()


class StepDownForm(WorkflowForm):
    to_program = forms.ModelChoiceField(queryset=Program.objects.none(), label="IOP track")
    on = forms.DateField(widget=DATE, label="Effective on", help_text="The stay ends and the track starts this day.")
    planned_end_on = forms.DateField(widget=DATE, required=False, label="Planned end of IOP")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_program"].queryset = _outpatient_programs(self.user)


class StepUpForm(WorkflowForm):
    on = forms.DateField(widget=DATE, label="Effective on")
    planned_discharge_on = forms.DateField(widget=DATE, required=False)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bed"] = _free_bed_field(clock.today(), self.user)
        self.order_fields(["bed", "on", "planned_discharge_on", "reason"])


class DischargeForm(WorkflowForm):
    on = forms.DateField(widget=DATE, label="Discharged on")
    disposition = forms.ChoiceField(choices=Disposition.choices)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ReverseForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Why the record was wrong.")


@dataclass(frozen=True)
class Workflow:
    slug: str
    title: str
    form: type[forms.Form]
    permission: str
    # (patient, current placement, cleaned data, user) -> success message
    run: Callable[..., str]
    needs: str | None = None  # "residential", "iop", "none" (no current placement), or None (any)


def _current(patient: Patient) -> Placement | None:
    return Placement.objects.open().filter(patient=patient).select_related("program", "bed", "episode").first()


def _admit(patient, current, data, user) -> str:
    stay = services.admit_to_residential(
        patient=patient,
        bed=data["bed"],
        admitted_on=data["admitted_on"],
        planned_discharge_on=data["planned_discharge_on"],
        admitted_by=user,
    )
    return f"Admitted to {stay.program.name}, bed {stay.bed.label}, until {localtime.day(stay.planned_end_on)}."


def _enroll(patient, current, data, user) -> str:
    enrollment = services.enroll_in_iop(
        patient=patient,
        program=data["program"],
        start_on=data["start_on"],
        planned_end_on=data["planned_end_on"],
        enrolled_by=user,
    )
    return f"Enrolled in {enrollment.program.name} from {localtime.day(enrollment.start_on)}."


def _extend(patient, current, data, user) -> str:
    extension = services.extend_stay(
        stay=current,
        new_planned_discharge_on=data["new_planned_discharge_on"],
        reason=data["reason"],
        approved_by=data["approved_by"],
    )
    return f"Stay extended to {localtime.day(extension.new_planned_end_on)}."


def _step_down(patient, current, data, user) -> str:
    transition = services.step_down(
        stay=current,
        to_program=data["to_program"],
        on=data["on"],
        reason=data["reason"],
        planned_end_on=data["planned_end_on"],
        decided_by=user,
    )
    return f"Stepped down to {transition.to_placement.program.name} on {localtime.day(transition.effective_on)}."


def _step_up(patient, current, data, user) -> str:
    transition = services.step_up(
        enrollment=current,
        bed=data["bed"],
        on=data["on"],
        reason=data["reason"],
        planned_discharge_on=data["planned_discharge_on"],
        decided_by=user,
    )
    stay = transition.to_placement
    return f"Stepped up to {stay.program.name}, bed {stay.bed.label}, on {localtime.day(transition.effective_on)}."


def _discharge(patient, current, data, user) -> str:
    record = services.discharge(
        episode=current.episode, on=data["on"], disposition=data["disposition"], notes=data["notes"], decided_by=user
    )
    checkins = record.aftercare_plan.checkins.count()
    return f"Discharged on {localtime.day(record.effective_on)}; aftercare plan started with {checkins} check-ins."


WORKFLOWS = {
    workflow.slug: workflow
    for workflow in [
        Workflow("admit", "Admit to residential", AdmitForm, "programs.add_placement", _admit, needs="none"),
        Workflow("enroll", "Enroll in IOP", EnrollForm, "programs.add_placement", _enroll, needs="none"),
        Workflow("extend", "Extend the stay", ExtendForm, "programs.add_stayextension", _extend, "residential"),
        Workflow("step-down", "Step down to IOP", StepDownForm, "programs.add_transition", _step_down, "residential"),
        Workflow("step-up", "Step up to residential", StepUpForm, "programs.add_transition", _step_up, "iop"),
        Workflow("discharge", "Discharge", DischargeForm, "programs.add_discharge", _discharge),
    ]
}


def workflow_links(*, patient_id: int, user, back: str, slugs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(label, url) of each named workflow the user may run on the patient, returning to ``back`` when done."""
    return [
        (label, reverse("admin:patients_patient_workflow", args=[patient_id, slug]) + f"?next={back}")
        for label, slug in slugs
        if user.has_perm(WORKFLOWS[slug].permission)
    ]


def available_workflows(*, patient: Patient, user) -> list[tuple[str, str]]:
    """(title, url) of the workflows that fit the patient's current level of care and the user's role."""
    current = _current(patient)
    state = "none" if current is None else current.kind
    return [
        (workflow.title, reverse("admin:patients_patient_workflow", args=[patient.pk, workflow.slug]))
        for workflow in WORKFLOWS.values()
        if user.has_perm(workflow.permission)
        and (workflow.needs == state or (workflow.needs is None and current is not None))
    ]


def reversible_records(*, patient: Patient) -> list[tuple[str, str]]:
    """(label, url) for the latest unreversed transition and discharge, the only ones a reversal may undo."""
    links = []
    latest = (
        Transition.objects.filter(episode__patient=patient, reversal__isnull=True)
        .order_by("-effective_on", "-id")
        .first()
    )
    if latest is not None:
        links.append(
            (
                f"Reverse the {latest}",
                reverse("admin:patients_patient_reverse", args=[patient.pk, "transition", latest.pk]),
            )
        )
    last_discharge = Discharge.objects.filter(episode__patient=patient, reversal__isnull=True).order_by("-id").first()
    if last_discharge is not None:
        links.append(
            (
                f"Reverse the {last_discharge}",
                reverse("admin:patients_patient_reverse", args=[patient.pk, "discharge", last_discharge.pk]),
            )
        )
    return links


def _render(request, model_admin, patient, title, form) -> HttpResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": str(patient),
        "patient": patient,
        "current": _current(patient),
        "form": form,
        "opts": model_admin.model._meta,
        "original": patient,
    }
    return TemplateResponse(request, "admin/programs/workflow_form.html", context)


def _next_url(request) -> str | None:
    """Where to go back after the workflow (the bed board, a worklist), if it is a page of this admin."""
    target = request.GET.get("next", "")
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    return target if allowed and target.startswith("/admin/") else None


def _submit(request, form, action: Callable[[], str], patient) -> HttpResponse | None:
    """Run the service; a domain error becomes a form error on its field, and nothing was written."""
    try:
        message = action()
    except DomainError as error:
        field = error.field if error.field in form.fields else None
        form.add_error(field, error.message)
        return None
    messages.success(request, message)
    return redirect(_next_url(request) or reverse("admin:patients_patient_change", args=[patient.pk]))


def workflow_view(model_admin: admin.ModelAdmin):
    def view(request: HttpRequest, object_id: str, slug: str) -> HttpResponse:
        workflow = WORKFLOWS.get(slug)
        if workflow is None:
            raise Http404("No such workflow.")
        if not request.user.has_perm(workflow.permission):
            raise PermissionDenied
        patient = model_admin.get_object(request, object_id)
        if patient is None:
            raise Http404("No such patient.")
        current = _current(patient)
        if workflow.needs == "none" and current is not None:
            messages.error(request, f"The patient is already in {current.program.name}; use a step-down or step-up.")
            return redirect("admin:patients_patient_change", patient.pk)
        if workflow.needs in (PlacementKind.RESIDENTIAL, PlacementKind.IOP) and (
            current is None or current.kind != workflow.needs
        ):
            messages.error(request, f"{workflow.title} needs a current {PlacementKind(workflow.needs).label.lower()}.")
            return redirect("admin:patients_patient_change", patient.pk)
        if workflow.needs is None and current is None:
            messages.error(request, "The patient has no current level of care.")
            return redirect("admin:patients_patient_change", patient.pk)

        initial = {"admitted_on": clock.today(), "on": clock.today(), "start_on": clock.today()}
        initial["approved_by"] = request.user.pk
        form = workflow.form(request.POST or None, initial=initial, user=request.user)
        if request.method == "POST" and form.is_valid():
            done = _submit(
                request, form, lambda: workflow.run(patient, current, form.cleaned_data, request.user), patient
            )
            if done is not None:
                return done
        return _render(request, model_admin, patient, workflow.title, form)

    return model_admin.admin_site.admin_view(view)


def reverse_view(model_admin: admin.ModelAdmin):
    def view(request: HttpRequest, object_id: str, kind: str, record_id: int) -> HttpResponse:
        if not request.user.has_perm("programs.add_reversal"):
            raise PermissionDenied
        patient = model_admin.get_object(request, object_id)
        if patient is None:
            raise Http404("No such patient.")
        if kind == "transition":
            record = get_object_or_404(Transition, pk=record_id, episode__patient=patient)
        elif kind == "discharge":
            record = get_object_or_404(Discharge, pk=record_id, episode__patient=patient)
        else:
            raise Http404("No such record.")
        form = ReverseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]

            def action() -> str:
                if kind == "transition":
                    services.reverse_transition(transition=record, reason=reason, reversed_by=request.user)
                else:
                    services.reverse_discharge(discharge=record, reason=reason, reversed_by=request.user)
                return f"Reversed the {record}. The previous level of care is restored."

            done = _submit(request, form, action, patient)
            if done is not None:
                return done
        return _render(request, model_admin, patient, f"Reverse the {record}", form)

    return model_admin.admin_site.admin_view(view)


def patient_workflow_urls(model_admin: admin.ModelAdmin) -> list:
    return [
        path("<path:object_id>/workflow/<slug:slug>/", workflow_view(model_admin), name="patients_patient_workflow"),
        path(
            "<path:object_id>/reverse/<slug:kind>/<int:record_id>/",
            reverse_view(model_admin),
            name="patients_patient_reverse",
        ),
    ]
