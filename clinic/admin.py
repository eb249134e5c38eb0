"""Admin for what the clinic package owns: the audit trail (read-only) and staff site memberships."""

from __future__ import annotations

import csv

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path

from clinic import audit, clock
from clinic.admin_base import ReadOnlyAdmin, ScopedAdminMixin
from clinic.models import AuditAction, AuditCategory, AuditEvent, SiteMembership

EXPORT_COLUMNS = [
    ("at", "at_utc"),
    ("username", "user"),
    ("role", "role"),
    ("action", "action"),
    ("category", "category"),
    ("patient__mrn", "patient_mrn"),
    ("object_type", "object_type"),
    ("object_id", "object_id"),
    ("ip_address", "ip_address"),
    ("user_agent", "user_agent"),
    ("path", "path"),
    ("request_id", "request_id"),
    ("detail", "detail"),
]


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Searchable by program admins; nobody can add, change or delete (the database refuses too)."""

    list_display = ["at", "username", "role", "action", "category", "patient_mrn", "ip_address", "request_id"]
    list_filter = ["action", "category", "role"]
    search_fields = ["=username", "=request_id", "=patient__mrn", "=object_id"]
    date_hierarchy = "at"
    list_select_related = ["patient"]
    show_full_result_count = False  # a count over the whole trail is slow and says little
    change_list_template = "admin/clinic/auditevent/change_list.html"

    def get_queryset(self, request):
        return audit.visible_events(request.user)

    def get_actions(self, request):
        return {}

    @admin.display(description="patient")
    def patient_mrn(self, obj: AuditEvent) -> str:
        return obj.patient.mrn if obj.patient_id and obj.patient else ""

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_export": request.user.has_perm("clinic.export_auditevent")}
        response = super().changelist_view(request, extra_context)
        if getattr(response, "context_data", {}).get("cl") is not None:
            audit.record(request, action=AuditAction.VIEW, category=AuditCategory.AUDIT, detail="audit trail list")
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = getattr(response, "context_data", {}).get("original")
        if obj is not None:
            audit.record(
                request, action=AuditAction.VIEW, category=AuditCategory.AUDIT, patients=[obj.patient_id], obj=obj
            )
        return response

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        return [path("export/", export, name="clinic_auditevent_export"), *super().get_urls()]

    def export_view(self, request):
        """The filtered trail as CSV. The export itself is recorded before the first byte goes out."""
        if not (self.has_view_permission(request) and request.user.has_perm("clinic.export_auditevent")):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter.")
        rows = changelist.queryset.order_by("at", "id")
        count = rows.count()
        filters = ",".join(sorted(request.GET)) or "none"
        audit.record(
            request,
            action=AuditAction.EXPORT,
            category=AuditCategory.AUDIT,
            detail=f"audit trail CSV: {count} rows; filters: {filters}"[:300],
        )
        writer = csv.writer(_Echo())
        fields = [field for field, _ in EXPORT_COLUMNS]

        def lines():
            yield writer.writerow([header for _, header in EXPORT_COLUMNS])
            for values in rows.values_list(*fields).iterator(chunk_size=2000):
                yield writer.writerow([v.isoformat() if hasattr(v, "isoformat") else v for v in values])

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
        return response


@admin.register(SiteMembership)
class SiteMembershipAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "site", "created_at"]
    list_filter = ["site"]
    search_fields = ["user__username", "user__last_name"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "site"]


class SiteMembershipInline(admin.TabularInline):
    model = SiteMembership
    extra = 0
    fields = ["site"]


# Sites are assigned where accounts are managed (superusers): on the user's page.
User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ClinicUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, SiteMembershipInline]
