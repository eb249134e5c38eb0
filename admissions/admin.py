"""Admissions in the staff admin: referral and reservation lists, and forms that call the same services as the API.

Each step of the pipeline (record a referral, screen, accept, close, reprioritise, reserve a bed,
admit, cancel) is a small form on its own URL; a domain error is shown on the form and nothing
is written. The dashboard's waitlist figures link to these lists through ``worklist`` filters
that call the same selectors.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.text import capfirst

from admissions import admin_worklists, selectors, services
from admissions.models import Referral, ReferralSource, ReferralStatus, Reservation, ReservationStatus
from clinic import access, clock, localtime
from clinic.admin_base import ReadOnlyAdmin, ScopedAdminMixin
from clinic.errors import DomainError
from clinic.models import AuditCategory
from clinic.worklist import title_of
from patients.models import Patient
from programs.admin_workflows import _next_url
from programs.models import Bed, Program

DATE = forms.DateInput(attrs={"type": "date"})


class ClockWorklistFilter(admin.SimpleListFilter):
    """The dashboard's figures as list filters (the same selectors), at the application's clock."""

    title = "worklist"
    parameter_name = "worklist"
    worklists: dict[str, tuple[str, Callable]] = {}

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.worklists.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.worklists:
            return queryset
        _, select = self.worklists[self.value()]
        return queryset.filter(pk__in=select(clock.now()).values("pk"))


class ReferralWorklistFilter(ClockWorklistFilter):
    worklists = {
        "waiting": ("Waiting for admission", lambda now: selectors.waiting()),
        "not_contacted": ("Not contacted in 2 days", lambda now: selectors.referrals_not_contacted(now=now)),
    }


class ReservationWorklistFilter(ClockWorklistFilter):
    worklists = {
        "held": ("Held", lambda now: selectors.held_reservations(now=now)),
        "expiring": ("Expiring in 48 h", lambda now: selectors.reservations_expiring(now=now)),
    }


# --- forms ------------------------------------------------------------------------------------------------


class ActionForm(forms.Form):
    def __init__(self, *args, user, subject=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.subject = user, subject


class ReferralForm(ActionForm):
    program = forms.ModelChoiceField(queryset=Program.objects.none())
    source = forms.ChoiceField(choices=ReferralSource.choices)
    referred_on = forms.DateField(widget=DATE)
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.none(), required=False, help_text="If the person is already a patient."
    )
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    date_of_birth = forms.DateField(widget=DATE, required=False)
    phone = forms.CharField(max_length=32, required=False)
    email = forms.EmailField(required=False)
    referrer_name = forms.CharField(max_length=200, required=False)
    notes = forms.CharField(widget=forms.Textarea, required=False, help_text="Clinical: hidden from front desk.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = access.visible_programs(self.user).filter(is_active=True)
        self.fields["patient"].queryset = access.visible_patients(self.user)


class ReasonForm(ActionForm):
    reason = forms.CharField(widget=forms.Textarea)


class AcceptForm(ReasonForm):
    mrn = forms.CharField(max_length=32, required=False, help_text="To register a person who is not a patient yet.")
    confirm_new_person = forms.BooleanField(required=False, help_text="Checked: not one of the flagged patients.")


class CloseForm(ReasonForm):
    status = forms.ChoiceField(
        choices=[
            (s.value, s.label) for s in (ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN, ReferralStatus.NO_RESPONSE)
        ]
    )


class PriorityForm(ReasonForm):
    priority = forms.IntegerField(min_value=1, max_value=5, help_text="1 is the most urgent.")


class ReserveForm(ActionForm):
    bed = forms.ModelChoiceField(queryset=Bed.objects.none(), required=False, help_text="Residential programs only.")
    start_on = forms.DateField(widget=DATE)
    planned_end_on = forms.DateField(widget=DATE, required=False)
    # In the user's zone, which clinic.localtime activates for staff requests; the browser's picker.
    expires_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Not admitted by then, the reservation lapses (your local time).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bed"].queryset = Bed.objects.filter(
            program=self.subject.program, status=Bed.Status.AVAILABLE
        ).order_by("label")


class ExtendForm(ActionForm):
    expires_at = forms.DateTimeField(
        label="New expiry",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Not admitted by then, the reservation lapses (your local time).",
    )


class AdmitForm(ActionForm):
    admitted_on = forms.DateField(widget=DATE, required=False, help_text="Empty: the reserved day.")


# --- the steps ---------------------------------------------------------------------------------------------


def _create(referral, data, user) -> str:
    made = services.create_referral(created_by=user, **{k: v for k, v in data.items() if v not in (None, "")})
    return f"Referral of {made.display_name} to {made.program.name} recorded."


def _screen(referral, data, user) -> str:
    services.start_screening(referral=referral, by=user)
    return "Screening started."


def _accept(referral, data, user) -> str:
    accepted = services.accept_referral(referral=referral, by=user, **data)
    return f"Accepted onto the waitlist of {accepted.program.name}."


def _close(referral, data, user) -> str:
    closed = services.close_referral(referral=referral, by=user, **data)
    return f"Referral {closed.get_status_display().lower()}."


def _priority(referral, data, user) -> str:
    services.set_priority(referral=referral, by=user, **data)
    return f"Priority set to {data['priority']}."


def _reserve(referral, data, user) -> str:
    reservation = services.reserve(referral=referral, reserved_by=user, **data)
    return f"Reserved {reservation}."


def _admit(reservation, data, user) -> str:
    stay = services.admit_reservation(reservation=reservation, admitted_by=user, **data)
    return f"Admitted to {stay.program.name} on {localtime.day(stay.start_on)}."


def _extend(reservation, data, user) -> str:
    extended = services.extend_reservation(reservation=reservation, by=user, **data)
    return f"Reservation extended until {localtime.when(extended.expires_at, extended.program.time_zone)}."


def _cancel(reservation, data, user) -> str:
    services.cancel_reservation(reservation=reservation, by=user, **data)
    return "Reservation cancelled; the patient stays on the waitlist."


# slug: (title, form, permission, run, statuses it applies to)
REFERRAL_STEPS = {
    # Starting the screening is the first contact with the person (it records when).
    "screen": (
        "Record contact, start screening",
        ActionForm,
        "admissions.change_referral",
        _screen,
        {ReferralStatus.NEW},
    ),
    "accept": ("Accept onto the waitlist", AcceptForm, "admissions.change_referral", _accept, {"screening"}),
    "close": ("Close the referral", CloseForm, "admissions.change_referral", _close, {"new", "screening", "accepted"}),
    "priority": ("Change the priority", PriorityForm, "admissions.change_referral", _priority, {"accepted"}),
    "reserve": ("Reserve a bed or seat", ReserveForm, "admissions.add_reservation", _reserve, {"accepted"}),
}
RESERVATION_STEPS = {
    "admit": ("Admit the reserved patient", AdmitForm, "programs.add_placement", _admit, {ReservationStatus.HELD}),
    "extend": ("Extend the reservation", ExtendForm, "admissions.change_reservation", _extend, {"held"}),
    "cancel": ("Cancel the reservation", ReasonForm, "admissions.change_reservation", _cancel, {"held"}),
}


def _with_steps(display, steps, user) -> list:
    """The list's "next steps" column, holding the links this user may follow (built per request)."""

    def next_steps(obj) -> str:
        return _step_links(obj, steps, user)

    next_steps.short_description = "next steps"
    return [next_steps if name == "next_steps" else name for name in display]


def _step_links(obj, steps, user) -> str:
    name = f"admin:admissions_{obj._meta.model_name}_step"
    links = [
        (reverse(name, args=[obj.pk, slug]), title)
        for slug, (title, _, permission, _, statuses) in steps.items()
        if obj.status in statuses and user.has_perm(permission)
    ]
    return format_html_join(" · ", '<a href="{}">{}</a>', links) or "—"


def _step_view(model_admin, steps):
    opts = model_admin.model._meta
    changelist = f"admin:admissions_{opts.model_name}_changelist"

    def view(request: HttpRequest, object_id: str | None = None, slug: str = "add") -> HttpResponse:
        if slug == "add":
            title, form_class, permission, run = "Record a referral", ReferralForm, "admissions.add_referral", _create
            subject = None
        else:
            if slug not in steps:
                raise Http404("No such step.")
            title, form_class, permission, run, _ = steps[slug]
            subject = model_admin.get_object(request, object_id)
            if subject is None:
                raise Http404("Not found.")
        if not request.user.has_perm(permission):
            raise PermissionDenied
        # Back where the step was started: a worklist (its ?next=) or else the stock list.
        came_from = _next_url(request)
        back = came_from or reverse(changelist)
        initial = {"referred_on": clock.today(), "start_on": clock.today()}
        data = request.POST if request.method == "POST" else None
        form = form_class(data, initial=initial, user=request.user, subject=subject)
        if request.method == "POST" and form.is_valid():
            try:
                message = run(subject, form.cleaned_data, request.user)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, message)
                return redirect(back)
        context = {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "subject": str(subject) if subject else "",
            "form": form,
            "opts": opts,
            "back_url": back,
            # The list it came from by name (a worklist), else the stock list's.
            "back_title": title_of(came_from) or capfirst(opts.verbose_name_plural),
        }
        return TemplateResponse(request, "admin/admissions/action_form.html", context)

    return model_admin.admin_site.admin_view(view)


# --- the lists -----------------------------------------------------------------------------------------------


@admin.register(Referral)
class ReferralAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.CLINICAL
    clinical_fields = ("notes", "decision_reason")
    list_display = ["display_name", "program", "status", "priority", "referred_on", "accepted_on", "waiting_days"]
    list_display += ["next_steps"]
    list_filter = [ReferralWorklistFilter, "status", "source", "program__site", "program"]
    search_fields = ["last_name", "first_name", "patient__mrn", "phone"]
    list_select_related = ["program__site", "patient"]
    ordering = ["status", "priority", "accepted_at", "-referred_on"]
    change_list_template = "admin/admissions/referral/change_list.html"
    fields = ["program", "requested_level", "source", "referred_on", "patient", "first_name", "last_name"]
    fields += ["date_of_birth", "phone", "email", "referrer_name", "notes", "status", "priority", "contacted_at"]
    fields += ["accepted_on", "closed_on", "decided_by", "decided_at", "decision_reason"]

    def get_urls(self):
        view = _step_view(self, REFERRAL_STEPS)
        return [
            *admin_worklists.referral_worklist_urls(self),  # before the stock "<path:object_id>/" pages
            path("record/", view, name="admissions_referral_record"),
            path("<path:object_id>/step/<slug:slug>/", view, name="admissions_referral_step"),
            *super().get_urls(),
        ]

    def get_list_display(self, request):
        return _with_steps(super().get_list_display(request), REFERRAL_STEPS, request.user)

    @admin.display(description="next steps")
    def next_steps(self, obj) -> str:
        return "—"  # replaced per request by get_list_display, with the links the user may follow

    @admin.display(description="name")
    def display_name(self, obj: Referral) -> str:
        return obj.display_name

    @admin.display(description="days waiting")
    def waiting_days(self, obj: Referral) -> int | str:
        if obj.status != ReferralStatus.ACCEPTED:
            return "—"
        return selectors.days_waiting(obj, today=clock.local_today(obj.program.time_zone))


@admin.register(Reservation)
class ReservationAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.SCHEDULE
    list_display = ["patient", "program", "bed", "start_on", "planned_end_on", "expires_at", "status", "next_steps"]
    list_filter = [ReservationWorklistFilter, "status", "program__site", "program"]
    search_fields = ["patient__mrn", "patient__legal_last_name", "bed__label"]
    list_select_related = ["patient", "program__site", "bed"]

    def get_urls(self):
        view = _step_view(self, RESERVATION_STEPS)
        return [
            *admin_worklists.reservation_worklist_urls(self),
            path("<path:object_id>/step/<slug:slug>/", view, name="admissions_reservation_step"),
            *super().get_urls(),
        ]

    def get_list_display(self, request):
        return _with_steps(super().get_list_display(request), RESERVATION_STEPS, request.user)

    @admin.display(description="next steps")
    def next_steps(self, obj) -> str:
        return "—"  # replaced per request by get_list_display, with the links the user may follow
