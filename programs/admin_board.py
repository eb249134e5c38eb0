"""The bed board (issue 12): every bed of a residential program, or of all the user's sites, on one page.

Reached from the census card. An occupied bed shows who is in it, day N of the stay, the planned
discharge and what needs deciding; a free bed shows since when and the next planned admission.
The actions are the care-journey workflows (``admin_workflows``), offered only to roles that may
run them: front desk sees the same board without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from clinic import access, audit, clock, localtime
from clinic.errors import DomainError
from clinic.models import AuditAction, AuditCategory
from patients.models import Patient
from programs import admin_workflows, selectors, services
from programs.models import Bed, Placement, Program

VIEW_BOARD = "programs.view_bed"
ADMIT = "programs.add_placement"


@dataclass
class BoardRow:
    """A bed on the board with the actions this user may take from it."""

    row: selectors.BoardBed
    actions: list[tuple[str, str]] = field(default_factory=list)  # (label, url)


def _patient_choices(user):
    """Patients at the user's sites who have no current level of care: the ones a bed can go to."""
    busy = Placement.objects.open().filter(patient=OuterRef("pk"))
    return access.visible_patients(user).exclude(Exists(busy)).order_by("legal_last_name", "legal_first_name")


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, patient: Patient) -> str:
        return f"{patient.display_name} · MRN {patient.mrn}"


class BoardAdmitForm(forms.Form):
    admitted_on = forms.DateField(widget=admin_workflows.DATE)
    planned_discharge_on = forms.DateField(
        widget=admin_workflows.DATE, required=False, help_text="Leave empty for the program minimum."
    )

    def __init__(self, *args, user, on, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"] = PatientChoiceField(queryset=_patient_choices(user))
        self.fields["bed"] = admin_workflows._free_bed_field(on, user)
        self.order_fields(["patient", "bed", "admitted_on", "planned_discharge_on"])


def _visible_residential(user):
    return access.visible_programs(user).residential().filter(is_active=True)


def _board_url(program: Program | None) -> str:
    if program is None:
        return reverse("admin:programs_bed_board")
    return reverse("admin:programs_bed_board_program", args=[program.public_id])


def _actions(row: selectors.BoardBed, user, back: str) -> list[tuple[str, str]]:
    if row.stay is not None:
        slugs = [("Step down", "step-down"), ("Extend", "extend"), ("Discharge", "discharge")]
        return admin_workflows.workflow_links(patient_id=row.stay.patient_id, user=user, back=back, slugs=slugs)
    # A reserved bed is admitted to through its reservation (Admissions > Reservations), not from here.
    if row.in_service and not row.reserved and user.has_perm(ADMIT):
        return [("Admit", reverse("admin:programs_bed_admit", args=[row.bed.public_id]))]
    return []


def board_view(model_admin: admin.ModelAdmin):
    def view(request: HttpRequest, program_id=None) -> HttpResponse:
        if not request.user.has_perm(VIEW_BOARD):
            raise PermissionDenied
        programs = _visible_residential(request.user)
        program = None
        if program_id is not None:
            program = programs.select_related("site").filter(public_id=program_id).first()
            if program is None:
                raise Http404("No such residential program at your sites.")
            programs = programs.filter(pk=program.pk)
        back = _board_url(program)
        rows = [
            BoardRow(row, _actions(row, request.user, back)) for row in selectors.bed_board_local(programs=programs)
        ]
        shown = {r.row.stay.patient_id for r in rows if r.row.stay} | {
            r.row.next_admission.patient.pk for r in rows if r.row.next_admission
        }
        audit.record(
            request,
            action=AuditAction.VIEW,
            category=AuditCategory.CLINICAL,
            patients=sorted(shown),
            obj=program,
            detail="bed board",
        )
        beds = [r.row for r in rows]
        context = {
            **model_admin.admin_site.each_context(request),
            "title": f"Bed board · {program.name}" if program else "Bed board · all your sites",
            "program": program,
            "rows": rows,
            "show_clinical": access.can_view_clinical(request.user),
            "summary": {
                "occupied": sum(1 for b in beds if b.stay),
                "free": sum(1 for b in beds if not b.stay and b.in_service and not b.reserved),
                "reserved": sum(1 for b in beds if b.in_service and b.reserved),
                "out_of_service": sum(1 for b in beds if not b.in_service),
                "frees_this_week": sum(1 for b in beds if b.frees_this_week),
            },
            "opts": model_admin.model._meta,
        }
        return TemplateResponse(request, "admin/programs/bed_board.html", context)

    return model_admin.admin_site.admin_view(view)


def admit_view(model_admin: admin.ModelAdmin):
    def view(request: HttpRequest, bed_id) -> HttpResponse:
        if not request.user.has_perm(ADMIT):
            raise PermissionDenied
        bed = (
            Bed.objects.filter(program__in=_visible_residential(request.user), public_id=bed_id)
            .select_related("program__site")
            .first()
        )
        if bed is None:
            raise Http404("No such bed at your sites.")
        on = clock.local_today(bed.program.time_zone)
        form = BoardAdmitForm(
            request.POST or None, initial={"bed": bed.pk, "admitted_on": on}, user=request.user, on=on
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                stay = services.admit_to_residential(
                    patient=data["patient"],
                    bed=data["bed"],
                    admitted_on=data["admitted_on"],
                    planned_discharge_on=data["planned_discharge_on"],
                    admitted_by=request.user,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                audit.record(
                    request, action=AuditAction.CREATE, category=AuditCategory.CLINICAL, patients=[stay.patient_id],
                    obj=stay, detail="admitted from the bed board",
                )  # fmt: skip
                messages.success(
                    request,
                    f"Admitted {stay.patient.display_name} to {stay.program.name}, bed {stay.bed.label}, "
                    f"until {localtime.day(stay.planned_end_on)}.",
                )
                return redirect(_board_url(stay.program))
        context = {
            **model_admin.admin_site.each_context(request),
            "title": f"Admit to bed {bed.label}",
            "subtitle": bed.program.name,
            "bed": bed,
            "board_url": _board_url(bed.program),
            "form": form,
            "opts": model_admin.model._meta,
        }
        return TemplateResponse(request, "admin/programs/board_admit.html", context)

    return model_admin.admin_site.admin_view(view)


def board_urls(model_admin: admin.ModelAdmin) -> list:
    return [
        path("board/", board_view(model_admin), name="programs_bed_board"),
        path("board/<uuid:program_id>/", board_view(model_admin), name="programs_bed_board_program"),
        path("board/admit/<uuid:bed_id>/", admit_view(model_admin), name="programs_bed_admit"),
    ]
