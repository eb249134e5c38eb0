"""The UR coordinator's screens: payers, coverage, authorizations with their reviews, the levels of care
under review (days not covered, needs authorization), program billing codes and the billable-units CSV.

Requests, decisions and reviews are forms that call the same services as the API; a domain error is shown
on the form, never a 500. Authorization notes are hidden from front desk.
"""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from clinic import access, audit, clock, localtime
from clinic.admin_base import ReadOnlyAdmin, ReadOnlyInline, ScopedAdminMixin
from clinic.errors import DomainError
from clinic.models import AuditAction, AuditCategory
from clinic.worklist import title_of
from programs.admin import WorklistFilter
from programs.admin_workflows import _next_url
from programs.models import AsamLevel, TreatmentEpisode
from utilization import admin_worklists, selectors, services
from utilization.models import (
    Authorization,
    AuthorizationStatus,
    ConcurrentReview,
    Coverage,
    Payer,
    PlacementUnderReview,
    ProgramBilling,
    ReviewOutcome,
    UnitKind,
)

DATE = forms.DateInput(attrs={"type": "date"})


@admin.register(Payer)
class PayerAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "requires_authorization"]
    list_filter = ["kind", "requires_authorization"]
    search_fields = ["name"]


@admin.register(ProgramBilling)
class ProgramBillingAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["program", "revenue_code", "hcpcs_code", "iop_billable_minutes"]
    list_filter = ["program__site", "program__asam_level"]
    search_fields = ["program__name", "hcpcs_code", "revenue_code"]


class CoverageForm(forms.ModelForm):
    class Meta:
        model = Coverage
        fields = ["patient", "payer", "rank", "member_id", "group_number", "subscriber_relation"]
        fields += ["effective_on", "ends_on"]
        widgets = {"effective_on": DATE, "ends_on": DATE}


@admin.register(Coverage)
class CoverageAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Front desk enters coverage here at registration; a new coverage goes through the service."""

    form = CoverageForm
    audit_category = AuditCategory.PAYER
    list_display = ["patient", "payer", "rank", "member_id", "effective_on", "ends_on"]
    list_filter = ["payer", "rank", "subscriber_relation"]
    search_fields = ["patient__mrn", "patient__legal_last_name", "member_id"]
    list_select_related = ["patient", "payer"]
    autocomplete_fields = ["patient"]

    def get_readonly_fields(self, request, obj=None):
        # Once recorded, only the end date changes (the coverage lapses); anything else is a new coverage.
        return ["patient", "payer", "rank", "member_id", "effective_on"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = {name: form.cleaned_data[name] for name in CoverageForm.Meta.fields}
        try:
            created = services.add_coverage(created_by=request.user, **data)
        except DomainError as error:
            # Shown on the list page; nothing was written.
            messages.error(request, error.message)
            raise _Refused from error
        obj.pk, obj.public_id, obj.created_at = created.pk, created.public_id, created.created_at
        audit.record(
            request, action=AuditAction.CREATE, category=self.audit_category, patients=[obj.patient_id], obj=obj
        )

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except _Refused:
            return redirect(request.get_full_path())


class _Refused(Exception):
    """A service refused the admin's add; the message is already queued for the user."""


# --- authorizations ---------------------------------------------------------------------------------------


class AuthorizationWorklistFilter(WorklistFilter):
    worklists = {
        "reviews_due": ("Review due today or tomorrow", lambda on: selectors.reviews_due(on=on)),
        "ending_soon": ("Ending within 3 days, still in that level", lambda on: selectors.ending_soon(on=on)),
        "denials": ("Denied, no appeal or decision in 2 days", lambda on: selectors.denials_without_follow_up(on=on)),
    }


class ReviewInline(ReadOnlyInline):
    model = ConcurrentReview
    fields = ["reviewed_on", "outcome", "units_added", "new_end_on", "next_review_on", "notes", "recorded_by"]
    show_change_link = False


class ReviewInlineWithoutNotes(ReviewInline):
    fields = ["reviewed_on", "outcome", "units_added", "new_end_on", "next_review_on", "recorded_by"]


class RequestForm(forms.Form):
    episode = forms.ModelChoiceField(queryset=TreatmentEpisode.objects.none())
    coverage = forms.ModelChoiceField(queryset=Coverage.objects.none())
    asam_level = forms.ChoiceField(choices=AsamLevel.choices, label="Level of care")
    unit_kind = forms.ChoiceField(choices=UnitKind.choices)
    requested_units = forms.IntegerField()
    start_on = forms.DateField(widget=DATE)
    end_on = forms.DateField(widget=DATE)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["episode"].queryset = access.scope_queryset(
            TreatmentEpisode.objects.select_related("patient").filter(status__in=["active", "planned", "onhold"]),
            user=user,
        )
        self.fields["coverage"].queryset = access.scope_queryset(
            Coverage.objects.select_related("patient", "payer").filter(payer__requires_authorization=True), user=user
        )


class DecisionForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(s, AuthorizationStatus(s).label) for s in ("approved", "partial", "denied")], label="Decision"
    )
    decided_on = forms.DateField(widget=DATE)
    number = forms.CharField(max_length=40, required=False, label="Authorization number")
    approved_units = forms.IntegerField(required=False)
    start_on = forms.DateField(widget=DATE, required=False)
    end_on = forms.DateField(widget=DATE, required=False)
    next_review_on = forms.DateField(widget=DATE, required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ReviewForm(forms.Form):
    reviewed_on = forms.DateField(widget=DATE)
    outcome = forms.ChoiceField(choices=ReviewOutcome.choices)
    units_added = forms.IntegerField(min_value=0, initial=0)
    new_end_on = forms.DateField(widget=DATE, required=False)
    next_review_on = forms.DateField(widget=DATE, required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ExportForm(forms.Form):
    payer = forms.ModelChoiceField(queryset=Payer.objects.all(), required=False, empty_label="Every payer")
    date_from = forms.DateField(widget=DATE)
    date_to = forms.DateField(widget=DATE)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to"):
            try:
                selectors.check_export_range(start=data["date_from"], end=data["date_to"])
            except DomainError as error:
                raise forms.ValidationError(error.message) from error
        return data


class _Echo:
    def write(self, value):
        return value


@admin.register(Authorization)
class AuthorizationAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.PAYER
    clinical_fields = ("notes",)
    list_display = ["patient", "number_or_request", "asam_level", "status", "start_on", "covered", "usage"]
    list_display += ["next_review_on", "payer"]
    list_filter = [AuthorizationWorklistFilter, "status", "asam_level", "unit_kind", "coverage__payer"]
    search_fields = ["number", "patient__mrn", "patient__legal_last_name"]
    list_select_related = ["patient", "coverage__payer"]
    readonly_fields = [f.name for f in Authorization._meta.fields if f.name not in ("id",)]
    inlines = [ReviewInline]

    def get_queryset(self, request):
        return selectors.with_units_used(super().get_queryset(request), on=clock.today())

    def get_inlines(self, request, obj):
        return [ReviewInline if access.can_view_clinical(request.user) else ReviewInlineWithoutNotes]

    @admin.display(description="authorization")
    def number_or_request(self, obj) -> str:
        return obj.number or f"(requested {localtime.day(obj.requested_on)})"

    @admin.display(description="through")
    def covered(self, obj):
        return obj.covered_through

    @admin.display(description="used")
    def usage(self, obj) -> str:
        if obj.units_approved is None:
            return "-"
        return f"{obj.units_used} of {obj.units_approved} {obj.unit_kind}"

    @admin.display(description="payer", ordering="coverage__payer__name")
    def payer(self, obj) -> str:
        return obj.coverage.payer.name

    # --- the UR workflows ---
    def has_add_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("utilization.add_authorization")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            *admin_worklists.authorization_worklist_urls(self),
            path("export/", view(self.export_view), name="utilization_authorization_export"),
            path("<int:pk>/decision/", view(self.decision_view), name="utilization_authorization_decision"),
            path("<int:pk>/review/", view(self.review_view), name="utilization_authorization_review"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        links = []
        if request.user.has_perm("utilization.change_authorization"):
            url = reverse("admin:utilization_authorization_decision", args=[object_id])
            links.append(("Record the payer's decision", url))
        if request.user.has_perm("utilization.add_concurrentreview"):
            url = reverse("admin:utilization_authorization_review", args=[object_id])
            links.append(("Record a concurrent review", url))
        extra_context["subtitle"] = format_html(
            " ".join('<a class="button" href="{}">{}</a>' for _ in links), *[x for pair in links for x in pair[::-1]]
        ) if links else None  # fmt: skip
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        # A worklist opens the form filled in (episode, level, first day to cover, coverage).
        form = RequestForm(request.POST or None, initial=self._initial(request, RequestForm), user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                authorization = services.request_authorization(requested_by=request.user, **form.cleaned_data)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                audit.record(request, action=AuditAction.CREATE, category=self.audit_category,
                             patients=[authorization.patient_id], obj=authorization, detail="request")  # fmt: skip
                messages.success(request, "Authorization requested.")
                return self._done(request, authorization)
        return self._form_page(request, form, "Request an authorization")

    def _authorization(self, request, pk: int) -> Authorization:
        return get_object_or_404(self.get_queryset(request), pk=pk)

    @staticmethod
    def _initial(request, form_class, **defaults) -> dict:
        return {**defaults, **{name: request.GET[name] for name in form_class.base_fields if name in request.GET}}

    @staticmethod
    def _done(request, authorization) -> HttpResponse:
        """Back to the worklist that opened the form (its ``?next=``), else the authorization's page."""
        return redirect(
            _next_url(request) or reverse("admin:utilization_authorization_change", args=[authorization.pk])
        )

    def decision_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("utilization.change_authorization"):
            raise PermissionDenied
        authorization = self._authorization(request, pk)
        form = DecisionForm(
            request.POST or None, initial=self._initial(request, DecisionForm, decided_on=clock.today())
        )
        if request.method == "POST" and form.is_valid():
            try:
                services.record_decision(authorization=authorization, decided_by=request.user, **form.cleaned_data)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                audit.record(request, action=AuditAction.CHANGE, category=self.audit_category,
                             patients=[authorization.patient_id], obj=authorization, detail="decision")  # fmt: skip
                messages.success(request, "Decision recorded.")
                return self._done(request, authorization)
        return self._form_page(request, form, "Record the payer's decision", authorization)

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("utilization.add_concurrentreview"):
            raise PermissionDenied
        authorization = self._authorization(request, pk)
        # An appeal from the denials list comes with its outcome chosen.
        form = ReviewForm(request.POST or None, initial=self._initial(request, ReviewForm, reviewed_on=clock.today()))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            data["units_added"] = data["units_added"] or 0
            try:
                services.record_review(authorization=authorization, recorded_by=request.user, **data)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                audit.record(request, action=AuditAction.CREATE, category=self.audit_category,
                             patients=[authorization.patient_id], obj=authorization, detail="review")  # fmt: skip
                messages.success(request, "Review recorded.")
                return self._done(request, authorization)
        return self._form_page(request, form, "Record a concurrent review", authorization)

    def _form_page(self, request, form, title: str, authorization=None) -> TemplateResponse:
        summary = ""
        if authorization is not None:
            usage = self.usage(authorization)
            summary = f"{authorization.patient} · {authorization.get_asam_level_display()} · {usage}"
        back = _next_url(request)
        context = {**self.admin_site.each_context(request), "title": title, "form": form,
                   "authorization": authorization, "summary": summary, "opts": self.model._meta,
                   "back_url": back, "back_title": title_of(back) or "Worklist"}  # fmt: skip
        return TemplateResponse(request, "admin/utilization/form.html", context)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """Billable units for a payer and dates, streamed as CSV (at most 366 days)."""
        if not request.user.has_perm("utilization.export_billable_units"):
            raise PermissionDenied
        form = ExportForm(request.GET or None)
        if not request.GET or not form.is_valid():
            return self._form_page(request, form, "Export billable units")
        data = form.cleaned_data
        sites = None if request.user.is_superuser else list(access.visible_sites(request.user))
        rows = selectors.billable_units(start=data["date_from"], end=data["date_to"], payer=data["payer"], sites=sites)
        audit.record(request, action=AuditAction.EXPORT, category=self.audit_category,
                     detail=f"billable units {data['date_from']}..{data['date_to']}")  # fmt: skip
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(selectors.BillableUnit.CSV_HEADER)
            for row in rows:
                yield writer.writerow(row.csv_row())

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        name = f"billable-units-{data['date_from']:%Y%m%d}-{data['date_to']:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


# --- levels of care under review ----------------------------------------------------------------------------


class PlacementWorklistFilter(WorklistFilter):
    worklists = {
        "days_not_covered": ("Days in care not covered", lambda on: selectors.days_not_covered(on=on)),
        "needs_authorization": (
            "Stepped down, needs an authorization",
            lambda on: selectors.needs_authorization(on=on),
        ),
    }


@admin.register(PlacementUnderReview)
class PlacementUnderReviewAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    """Each level of care with its days in care against the payer's approval."""

    audit_category = AuditCategory.PAYER
    list_display = ["patient", "program", "kind", "start_on", "ended_on"]
    list_filter = [PlacementWorklistFilter, "kind", "program__site", "program"]
    search_fields = ["patient__mrn", "patient__legal_last_name"]
    list_select_related = ["patient", "program"]
    fields = ["patient", "episode", "program", "kind", "start_on", "planned_end_on", "ended_on"]

    def get_queryset(self, request):
        return super().get_queryset(request).not_cancelled()

    def get_list_display(self, request):
        # Counted once per page view for every placement (one query), not per row; kept in this closure
        # rather than on the admin instance, which requests share.
        uncovered = selectors.uncovered_days_by_placement(on=clock.today())

        @admin.display(description="days not covered")
        def days_not_covered(obj) -> str:
            days, first = uncovered.get(obj.pk, (0, None))
            return f"{days} (from {localtime.day(first)})" if days else "0"

        return [*super().get_list_display(request), days_not_covered]
