"""Admin building blocks shared by the apps."""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models

from clinic import access, audit
from clinic.models import AuditAction


class ReadOnlyAdmin(admin.ModelAdmin):
    """For history and for rows that only services may write: staff can look, not edit."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.fields


# --- Security (issue 7): scoping, clinical fields and the audit trail in the admin ---------


def _strip_fieldsets(fieldsets, hidden: set[str]):
    """The fieldsets without the hidden fields (fields may be grouped in tuples on one line)."""
    result = []
    for name, options in fieldsets:
        fields = []
        for entry in options.get("fields", ()):
            if isinstance(entry, (list, tuple)):
                kept = tuple(f for f in entry if f not in hidden)
                if kept:
                    fields.append(kept)
            elif entry not in hidden:
                fields.append(entry)
        if fields:
            result.append((name, {**options, "fields": fields}))
    return result


class ScopedAdminMixin:
    """Put first in an admin's bases. Applies ``clinic.access`` and records reads and writes in the audit trail.

    - every queryset (lists, change pages, foreign-key choices) holds only what the user may see;
    - ``clinical_fields`` / ``clinical_inlines`` are hidden from roles without clinical access (front desk);
    - with an ``audit_category``, list pages record the patients on the page (one INSERT), change
      pages the patient shown, and saves and deletions what changed (field names, never values).
    """

    audit_category: str | None = None
    clinical_fields: tuple[str, ...] = ()
    clinical_inlines: tuple[type, ...] = ()
    # One date format on staff pages (issue 12): the browser's own pickers show dates and times in the
    # user's locale (and the time in the user's zone, activated by clinic.localtime), where the stock
    # widgets showed ISO text ("2026-12-02") beside "Dec. 2, 2026" on the same form.
    formfield_overrides = {
        models.DateField: {"widget": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")},
        models.TimeField: {"widget": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")},
        models.DateTimeField: {
            "form_class": forms.DateTimeField,
            "widget": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        },
    }

    # Scoping
    def get_queryset(self, request):
        return access.scope_queryset(super().get_queryset(request), user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if "queryset" not in kwargs and _is_scoped(related):
            kwargs["queryset"] = access.scope_queryset(related._default_manager.all(), user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # Clinical fields
    def _hidden(self, request) -> set[str]:
        return set() if access.can_view_clinical(request.user) else set(self.clinical_fields)

    def get_fields(self, request, obj=None):
        hidden = self._hidden(request)
        return [f for f in super().get_fields(request, obj) if f not in hidden]

    def get_fieldsets(self, request, obj=None):
        return _strip_fieldsets(super().get_fieldsets(request, obj), self._hidden(request))

    def get_list_display(self, request):
        hidden = self._hidden(request)
        return [f for f in super().get_list_display(request) if f not in hidden]

    def get_list_filter(self, request):
        hidden = self._hidden(request)
        filters = [
            f for f in super().get_list_filter(request) if not isinstance(f, str) or f.split("__")[0] not in hidden
        ]
        return [_scoped_filter(self.model, f) for f in filters]

    def get_search_fields(self, request):
        hidden = self._hidden(request)
        return [f for f in super().get_search_fields(request) if f.lstrip("^=@").split("__")[0] not in hidden]

    def get_inlines(self, request, obj):
        inlines = super().get_inlines(request, obj)
        if access.can_view_clinical(request.user):
            return inlines
        return [inline for inline in inlines if inline not in self.clinical_inlines]

    # Audit trail
    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if self.audit_category else None
        if changelist is not None:
            # Evaluate the page once here; the template then renders this same list.
            rows = list(changelist.result_list)
            changelist.result_list = rows
            audit.record(
                request,
                action=AuditAction.VIEW,
                category=self.audit_category,
                patients=access.patient_ids_of(self.model, [row.pk for row in rows]),
                detail=f"list of {self.model._meta.verbose_name_plural}",
            )
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        response = super().changeform_view(request, object_id, form_url, extra_context)
        obj = getattr(response, "context_data", {}).get("original")
        if self.audit_category and obj is not None and request.method == "GET":
            audit.record(
                request,
                action=AuditAction.VIEW,
                category=self.audit_category,
                patients=access.patient_ids_of(self.model, [obj.pk]),
                obj=obj,
            )
        return response

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        obj = getattr(response, "context_data", {}).get("object")
        if self.audit_category and obj is not None:
            audit.record(
                request,
                action=AuditAction.VIEW,
                category=self.audit_category,
                patients=access.patient_ids_of(self.model, [obj.pk]),
                obj=obj,
                detail="change history",
            )
        return response

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if self.audit_category:
            audit.record(
                request,
                action=AuditAction.CHANGE if change else AuditAction.CREATE,
                category=self.audit_category,
                patients=access.patient_ids_of(self.model, [obj.pk]),
                obj=obj,
                detail=("fields: " + ", ".join(form.changed_data))[:300] if change else "",
            )

    def delete_model(self, request, obj):
        patient_ids = self._patient_ids_before_deletion([obj])
        super().delete_model(request, obj)
        self._record_deletion(request, patient_ids, count=1)

    def delete_queryset(self, request, queryset):
        objs = list(queryset)
        patient_ids = self._patient_ids_before_deletion(objs)
        super().delete_queryset(request, queryset)
        self._record_deletion(request, patient_ids, count=len(objs))

    def _patient_ids_before_deletion(self, objs) -> list[int]:
        return access.patient_ids_of(self.model, [o.pk for o in objs]) if self.audit_category else []

    def _record_deletion(self, request, patient_ids: list[int], *, count: int) -> None:
        if self.audit_category:
            audit.record(
                request,
                action=AuditAction.DELETE,
                category=self.audit_category,
                patients=patient_ids,
                detail=f"{count} {self.model._meta.verbose_name_plural}",
            )


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A filter on a related object (site, program, ...) that offers only the rows the user may see.

    Django's own lists every row of the related table, so a clinician of one site
    read the other sites' and programs' names in the sidebar. Models with a scope
    in ``clinic.access`` are scoped by it; any other related model offers only the
    values the user's own rows use.
    """

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        related = field.related_model
        if _is_scoped(related):
            visible = access.scope_queryset(related._default_manager.all(), user=request.user).values("pk")
        else:
            visible = model_admin.get_queryset(request).values(f"{self.field_path}__pk")
        return field.get_choices(include_blank=False, limit_choices_to={"pk__in": visible}, ordering=ordering)


def _scoped_filter(model, entry):
    """A plain related-field entry of ``list_filter`` becomes a scoped one; others stay as they are."""
    if not isinstance(entry, str):
        return entry
    try:
        field = get_fields_from_path(model, entry)[-1]
    except (FieldDoesNotExist, ImproperlyConfigured):  # pragma: no cover - Django's checks refuse these first
        return entry
    return (entry, ScopedRelatedFieldListFilter) if field.is_relation else entry


def _is_scoped(model) -> bool:
    try:
        access.scope_of(model)
    except ImproperlyConfigured:
        return False
    return True
