"""API clients in the staff panel: a program admin registers an organisation and sees its secret once."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from exchange import services
from exchange.models import ApiClient, BulkExport


class RegisterClientForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ["name", "recipient"]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["name", "recipient", "client_id", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "recipient"]
    readonly_fields = ["client_id", "registered_by", "created_at", "updated_at"]
    actions = ["deactivate"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = RegisterClientForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "recipient"]
        return ["name", "recipient", "client_id", "is_active", "registered_by", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # The recipient is what consents are matched against: changing it would re-point every consent.
        return [*self.readonly_fields, "recipient"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            if "is_active" in form.changed_data and not obj.is_active:
                services.deactivate_client(client=obj)
                return
            super().save_model(request, obj, form, change)
            return
        client, secret = services.register_client(
            name=form.cleaned_data["name"], recipient=form.cleaned_data["recipient"], registered_by=request.user
        )
        obj.pk = client.pk
        messages.warning(
            request,
            f"Give the organisation these credentials now; the secret is not shown again. "
            f"client_id: {client.client_id}  client_secret: {secret}",
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the audit trail names clients; deactivate instead

    @admin.action(description="Deactivate (tokens revoked at once)", permissions=["change"])
    def deactivate(self, request, queryset):
        for client in queryset:
            services.deactivate_client(client=client)
        self.message_user(request, f"{queryset.count()} client(s) deactivated.")


@admin.register(BulkExport)
class BulkExportAdmin(admin.ModelAdmin):
    """What was exported, when, by whom: kept after the files are deleted."""

    list_display = ["public_id", "requested_at", "requested_by", "client", "program", "status", "expires_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in BulkExport._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
