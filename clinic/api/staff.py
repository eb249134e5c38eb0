"""The base of every staff endpoint: role checks, site scoping and the audit trail, in one place.

Rules come from ``clinic.access`` (shared with the admin); this module only applies them:

- ``IsStaffMember``: a clinic role (clinician, front desk, program admin) or a superuser; a patient gets 403.
- ``HasRolePermission``: ``required_permissions`` maps an HTTP method to the Django permission the role must hold.
- ``StaffView.get_queryset``: every queryset passes through ``access.scope_queryset``, so an object at another
  site is a 404 and a list holds only what the caller may see.
- ``StaffView.audit``: one audit row per patient touched; the middleware writes a request's rows in one INSERT.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter

from rest_framework.generics import GenericAPIView, ListAPIView, RetrieveAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from clinic import access, audit
from clinic.models import AuditAction


class IsStaffMember(BasePermission):
    message = "This part of the API is for clinic staff."

    def has_permission(self, request, view) -> bool:
        return access.is_staff_member(request.user)


class HasRolePermission(BasePermission):
    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        permission = getattr(view, "required_permissions", {}).get(request.method)
        return permission is None or request.user.has_perm(permission)


class StaffView(GenericAPIView):
    permission_classes = [IsStaffMember, HasRolePermission]
    # Objects are addressed by their public UUID; a malformed one is a 404, like an unknown one.
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    required_permissions: dict[str, str] = {}
    audit_category: str = ""
    # How to reach the patient id from a listed object ("patient_id", "episode.patient_id"); "" when not patient data.
    patient_attr = "patient_id"

    def get_queryset(self):
        return access.scope_queryset(super().get_queryset(), user=self.request.user)

    def patient_ids(self, objects: Iterable) -> list[int]:
        getter = attrgetter(self.patient_attr)
        return [getter(obj) for obj in objects]

    def audit(
        self, action: str, objects: Iterable = (), *, category: str = "", obj=None, detail: str = "", patients=None
    ) -> None:
        patient_ids = list(patients) if patients is not None else self.patient_ids(objects)
        if not patient_ids or not (category or self.audit_category):
            return
        audit.record(
            self.request,
            action=action,
            category=category or self.audit_category,
            patients=patient_ids,
            obj=obj,
            detail=detail,
        )

    def filters_detail(self) -> str:
        # Parameter names only: a search term may be a patient's name, and the trail holds no values.
        names = sorted(key for key in self.request.query_params if key not in ("page", "page_size"))
        return f"filters: {', '.join(names)}" if names else ""


class StaffListView(StaffView, ListAPIView):
    """GET a page of scoped rows; the patients on the page are recorded as viewed."""

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        if self.patient_attr:
            self.audit(AuditAction.VIEW, page, detail=self.filters_detail())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class StaffDetailView(StaffView, RetrieveAPIView):
    """GET one scoped row; its patient is recorded as viewed."""

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        if self.patient_attr:
            self.audit(AuditAction.VIEW, [obj], obj=obj)
        return Response(self.get_serializer(obj).data)
