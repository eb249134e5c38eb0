"""Admin for what the clinic package owns: the audit trail (read-only) and staff site memberships."""

from __future__ import annotations

import csv

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path
from django.utils.functional import cached_property

from clinic import access, audit, clock
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


# The list counts at most this many rows: enough to page through, and a bounded cost at any size of trail.
COUNT_CAP = 10_000


class _Echo:
    def write(self, value: str) -> str:
        return value


class BoundedCountPaginator(Paginator):
    """Counts up to COUNT_CAP + 1 rows (``SELECT count(*) FROM (... LIMIT n)``), never the whole trail."""

    @cached_property
    def count(self) -> int:
        return self.object_list[: COUNT_CAP + 1].count()


class RoleFilter(admin.SimpleListFilter):
    """The roles as a fixed list: no ``SELECT DISTINCT role`` over the trail to build the choices."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return access.Role.choices

    def queryset(self, request, queryset):
        return queryset.filter(role=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Searchable by program admins; nobody can add, change or delete (the database refuses too).

    Built for a trail of tens of millions of rows: no date drill-down (it sorts the whole
    table for its links), filters with fixed choices (actions, categories, roles, and
    Django's fixed date ranges), a bounded count, and a search that resolves its term to
    patient and user ids first so PostgreSQL uses the ``(patient, at)`` and ``(user, at)``
    indexes (``get_search_results``).
    """

    list_display = ["at", "username", "role", "action", "category", "patient_mrn", "ip_address", "request_id"]
    list_filter = ["action", "category", RoleFilter, ("at", admin.DateFieldListFilter)]
    # Declared so the search box shows; get_search_results does the searching.
    search_fields = ["=request_id"]
    search_help_text = "An MRN, a patient's last name or full legal name, a username, or a request id."
    list_select_related = ["patient"]
    # Fifty rows a page: the page's cost is mostly rendering rows, and an audit search is narrowed, not scrolled.
    list_per_page = 50
    paginator = BoundedCountPaginator
    show_full_result_count = False  # a count over the whole trail is slow and says little
    change_list_template = "admin/clinic/auditevent/change_list.html"

    def get_queryset(self, request):
        return audit.visible_events(request.user)

    def get_search_results(self, request, queryset, search_term):
        """Rows about the patients the term names, by the users it names, or with it as request id.

        The term is resolved to ids first (small tables, their own indexes), so the trail is
        searched by ``patient_id IN (...)``, ``user_id IN (...)`` and ``request_id = ...``, each an
        index, instead of ``UPPER(column) = UPPER(term)`` over every row.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        patient_ids, user_ids = audit.search_ids(term)
        found = Q(request_id=term)
        if patient_ids:
            found |= Q(patient_id__in=patient_ids)
        if user_ids:
            found |= Q(user_id__in=user_ids)
        return queryset.filter(found), False

    def get_actions(self, request):
        return {}

    @admin.display(description="patient")
    def patient_mrn(self, obj: AuditEvent) -> str:
        return obj.patient.mrn if obj.patient_id and obj.patient else ""

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_export": request.user.has_perm("clinic.export_auditevent"),
            "count_cap": COUNT_CAP,
        }
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
        # Bounded like the list's count: an export of the whole trail is not counted first.
        count = rows[: COUNT_CAP + 1].count()
        shown = f"{COUNT_CAP:,}+" if count > COUNT_CAP else str(count)
        filters = ",".join(sorted(request.GET)) or "none"
        audit.record(
            request,
            action=AuditAction.EXPORT,
            category=AuditCategory.AUDIT,
            detail=f"audit trail CSV: {shown} rows; filters: {filters}"[:300],
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
