"""Reminder endpoints: the patient's push devices (/me/devices/), and for staff the outbox and follow-ups.

Staff see rows of the patients at their sites only (``clinic.access.scope_queryset``)
and need the role's model permission (``clinic.access.ROLE_PERMISSIONS``): front
desk may see whether reminders went out, clinicians also work the follow-ups.
Reminder content is never served: it is rendered at send time and not stored.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView, RetrieveAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from clinic import access, audit
from clinic.api.fields import BlankChoicesAsNullMixin
from clinic.api.pagination import CursorPages
from clinic.api.permissions import IsPatient
from clinic.api.serializers import PatientRefSerializer
from clinic.api.strict import (
    BoundedIsoDateTimeFilter,
    JsonBodyMixin,
    StrictCharField,
    StrictChoiceField,
    StrictFilterSet,
    StrictInputMixin,
)
from clinic.models import AuditAction, AuditCategory
from patients.models import Channel
from reminders import services
from reminders.models import FollowUpItem, PushDevice, Reason, Reminder, ReminderStatus

# --- shared pieces ---------------------------------------------------------------------------------


class HasRolePermission(BasePermission):
    """A staff member (or superuser) whose role holds the view's permission for this method.

    Patients and logins without a role get 403; anonymous callers 401 (DRF asks them to authenticate).
    """

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and access.is_staff_member(user)):
            return False
        method = request.method.lower()
        permission = view.required_permissions.get(method)
        if permission is None:
            # A method the view does not offer is answered 405 by the view; one it offers needs a permission.
            return not hasattr(view, method)
        return user.has_perm(permission)


class _StaffView(JsonBodyMixin, GenericAPIView):
    permission_classes = [HasRolePermission]
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    model: type = None
    # Method → "app_label.codename"; HEAD and OPTIONS read like GET.
    required_permissions: dict[str, str] = {}

    def get_queryset(self) -> QuerySet:
        return access.scope_queryset(self.base_queryset(), user=self.request.user)

    def base_queryset(self) -> QuerySet:
        raise NotImplementedError


def _audit_rows(request, rows, *, action: str, category: str, detail: str = "") -> None:
    audit.record(
        request, action=action, category=category, patients=sorted({r.patient_id for r in rows}), detail=detail
    )


# --- the patient's push devices ----------------------------------------------------------------------


class DeviceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    token_ending = serializers.SerializerMethodField(
        help_text="The last characters of the token, to tell devices apart."
    )

    class Meta:
        model = PushDevice
        fields = ["id", "platform", "token_ending", "is_active", "created_at", "updated_at"]

    def get_token_ending(self, device: PushDevice) -> str:
        return device.token[-6:]


class DeviceInputSerializer(StrictInputMixin, serializers.Serializer):
    token = StrictCharField(max_length=512, help_text="The FCM registration token of this device.")
    platform = StrictChoiceField(choices=["ios", "android", "web"])


class _MyDevices(JsonBodyMixin, GenericAPIView):
    permission_classes = [IsPatient]
    serializer_class = DeviceSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"

    def get_queryset(self) -> QuerySet[PushDevice]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no patient
            return PushDevice.objects.none()
        return PushDevice.objects.filter(patient=self.request.user.patient).order_by("-updated_at", "-id")


class DeviceListView(_MyDevices, ListAPIView):
    """Your devices registered for push notifications. Register this device with POST."""

    pagination_class = CursorPages  # the patient app's lists page by cursor, without a count (issue 17)

    def list(self, request, *args, **kwargs):
        audit.record(
            request, action=AuditAction.VIEW, category=AuditCategory.MESSAGING, patients=[request.user.patient]
        )
        return super().list(request, *args, **kwargs)

    @extend_schema(request=DeviceInputSerializer, responses={201: DeviceSerializer})
    def post(self, request):
        data = DeviceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = request.user.patient
        audit.record(request, action=AuditAction.CREATE, category=AuditCategory.MESSAGING, patients=[patient])
        device = services.register_push_device(patient=patient, **data.validated_data)
        return Response(DeviceSerializer(device).data, status=status.HTTP_201_CREATED)


class DeviceView(_MyDevices):
    """Stop push notifications to one of your devices (signing out of the app does this)."""

    @extend_schema(responses={204: None})
    def delete(self, request, id):
        device = self.get_object()
        audit.record(
            request,
            action=AuditAction.DELETE,
            category=AuditCategory.MESSAGING,
            patients=[device.patient_id],
            obj=device,
        )
        services.remove_push_device(patient=request.user.patient, device=device)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- staff: the reminder outbox ------------------------------------------------------------------------


class ReminderSerializer(BlankChoicesAsNullMixin, serializers.ModelSerializer):
    """Whether and when a reminder went out, and why not; never what it said."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    target = serializers.SerializerMethodField(help_text="What it reminds of: booking or checkin.")
    target_id = serializers.SerializerMethodField(help_text="The booking's or check-in's id, if it still exists.")
    status_reason_text = serializers.CharField(source="get_status_reason_display", read_only=True)

    class Meta:
        model = Reminder
        fields = ["id", "patient", "target", "target_id", "kind", "channel", "due_at", "send_after", "status"]
        fields += ["status_reason", "status_reason_text", "attempts", "sent_at", "created_at", "updated_at"]

    def get_target(self, reminder: Reminder) -> str | None:
        if reminder.checkin_id:
            return "checkin"
        return "booking" if reminder.booking_id else None

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_target_id(self, reminder: Reminder):
        target = reminder.checkin or reminder.booking
        return str(target.public_id) if target is not None else None


class ReminderFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=ReminderStatus.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    reason = django_filters.ChoiceFilter(field_name="status_reason", choices=Reason.choices)
    patient = django_filters.UUIDFilter(field_name="patient__public_id", help_text="The patient's id.")
    due_after = BoundedIsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = BoundedIsoDateTimeFilter(field_name="due_at", lookup_expr="lt")

    class Meta:
        model = Reminder
        fields = ["status", "channel", "reason", "patient", "due_after", "due_before"]


class _Reminders(_StaffView):
    serializer_class = ReminderSerializer
    required_permissions = {m: "reminders.view_reminder" for m in ("get", "head", "options")}

    def base_queryset(self) -> QuerySet[Reminder]:
        return Reminder.objects.select_related("patient", "checkin", "booking").order_by("-due_at", "-id")


class ReminderListView(_Reminders, ListAPIView):
    """Reminders of the patients at your sites, newest first: status and the reason one did not go out."""

    filterset_class = ReminderFilter

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        _audit_rows(request, page, action=AuditAction.VIEW, category=AuditCategory.MESSAGING, detail="reminder list")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ReminderView(_Reminders, RetrieveAPIView):
    """One reminder: when it was due, when it went out or why not."""

    def retrieve(self, request, *args, **kwargs):
        reminder = self.get_object()
        _audit_rows(request, [reminder], action=AuditAction.VIEW, category=AuditCategory.MESSAGING)
        return Response(self.get_serializer(reminder).data)


# --- staff: follow-up items ----------------------------------------------------------------------------


class ProgramRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(read_only=True)


class FollowUpSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    program = ProgramRefSerializer(read_only=True)
    resolved_by = serializers.CharField(source="resolved_by.get_username", read_only=True, allow_null=True)

    class Meta:
        model = FollowUpItem
        fields = ["id", "patient", "program", "kind", "urgency", "status", "details", "created_at"]
        fields += ["resolved_at", "resolved_by", "resolution_note"]


class ResolveInputSerializer(StrictInputMixin, serializers.Serializer):
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class FollowUpFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=FollowUpItem.Status.choices)
    urgency = django_filters.ChoiceFilter(choices=FollowUpItem.Urgency.choices)
    kind = django_filters.ChoiceFilter(choices=FollowUpItem.Kind.choices)
    patient = django_filters.UUIDFilter(field_name="patient__public_id", help_text="The patient's id.")
    program = django_filters.UUIDFilter(field_name="program__public_id", help_text="The program's id.")

    class Meta:
        model = FollowUpItem
        fields = ["status", "urgency", "kind", "patient", "program"]


class _FollowUps(_StaffView):
    serializer_class = FollowUpSerializer
    required_permissions = {
        **{m: "reminders.view_followupitem" for m in ("get", "head", "options")},
        "post": "reminders.change_followupitem",
    }

    def base_queryset(self) -> QuerySet[FollowUpItem]:
        # Open before resolved, urgent first, oldest first: the order staff work them in.
        return FollowUpItem.objects.select_related("patient", "program", "resolved_by").order_by(
            "status", "-urgency", "created_at", "id"
        )


class FollowUpListView(_FollowUps, ListAPIView):
    """Work for the staff about patients at your sites (missed sessions, a patient asking for help)."""

    filterset_class = FollowUpFilter

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        _audit_rows(request, page, action=AuditAction.VIEW, category=AuditCategory.CLINICAL, detail="follow-up list")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class FollowUpView(_FollowUps, RetrieveAPIView):
    """One follow-up item."""

    def retrieve(self, request, *args, **kwargs):
        item = self.get_object()
        _audit_rows(request, [item], action=AuditAction.VIEW, category=AuditCategory.CLINICAL)
        return Response(self.get_serializer(item).data)


class ResolveFollowUpView(_FollowUps):
    """Mark a follow-up as done, with what was done. Resolving twice is refused."""

    @extend_schema(request=ResolveInputSerializer, responses={200: FollowUpSerializer})
    def post(self, request, id):
        item = self.get_object()
        data = ResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _audit_rows(
            request, [item], action=AuditAction.CHANGE, category=AuditCategory.CLINICAL, detail="follow-up resolved"
        )
        item = services.resolve_follow_up(item=item, resolved_by=request.user, note=data.validated_data["note"])
        item = self.get_queryset().get(pk=item.pk)
        return Response(self.get_serializer(item).data)
