"""The staff panel's side of app access: invite (or re-invite) and deactivate, from the patient's page.

Both go through ``accounts.services`` and are audited like the API. A code that could not be
sent is shown on the answer page once (never put in a message, which the session would store).
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers

from accounts import selectors, services
from clinic import audit
from clinic.errors import DomainError
from clinic.models import AuditAction, AuditCategory

PERMISSION = "patients.change_patient"


def patient_access_urls(model_admin: admin.ModelAdmin) -> list:
    view = model_admin.admin_site.admin_view(_app_access_view(model_admin))
    return [path("<path:object_id>/app-access/<slug:action>/", view, name="patients_patient_app_access")]


def panel_context(*, patient, user) -> dict | None:
    """The "App access" panel of the patient page, with its buttons for roles that may use them."""
    if not user.has_perm("patients.view_patient"):
        return None
    context = selectors.app_access(patient=patient)
    if user.has_perm(PERMISSION):
        context["invite_url"] = reverse("admin:patients_patient_app_access", args=[patient.pk, "invite"])
        if context["state"] == "active":
            context["deactivate_url"] = reverse("admin:patients_patient_app_access", args=[patient.pk, "deactivate"])
    return context


def _app_access_view(model_admin: admin.ModelAdmin):
    def view(request, object_id, action):
        if action not in ("invite", "deactivate"):
            raise Http404
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        patient = model_admin.get_object(request, object_id)  # scoped: another site's patient is not found
        if patient is None:
            raise Http404
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "patient": patient,
            "action": action,
            "title": "Invite to the app" if action == "invite" else "Deactivate app access",
            "access": selectors.app_access(patient=patient),
        }
        if request.method == "POST":
            try:
                if action == "invite":
                    issued = services.invite_patient(patient=patient, invited_by=request.user)
                    how = f"sent via {', '.join(issued.sent_via)}" if issued.sent_via else "to hand over in person"
                    audit.record(request, action=AuditAction.CREATE, category=AuditCategory.DEMOGRAPHICS,
                                 patients=[patient], obj=issued.record, detail=f"app invitation {how}")  # fmt: skip
                    context["issued"] = issued
                else:
                    services.deactivate_app_access(patient=patient, deactivated_by=request.user)
                    audit.record(request, action=AuditAction.CHANGE, category=AuditCategory.DEMOGRAPHICS,
                                 patients=[patient], obj=patient, detail="app access deactivated")  # fmt: skip
                    model_admin.message_user(request, f"App access of {patient} deactivated; devices signed out.")
                    return HttpResponseRedirect(reverse("admin:patients_patient_change", args=[patient.pk]))
            except DomainError as error:
                context["error"] = error.message
        response = TemplateResponse(request, "admin/accounts/app_access.html", context)
        add_never_cache_headers(response)  # the page may show a code once
        return response

    return view
