"""Staff endpoints for a patient's app access: invite (or re-invite) and deactivate."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts import selectors, services
from clinic.api.staff import StaffView
from clinic.models import AuditAction, AuditCategory
from patients.models import Patient


class InvitationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="record.public_id")
    expires_at = serializers.DateTimeField(source="record.expires_at")
    sent_via = serializers.ListField(child=serializers.CharField(), help_text="sms, email; empty: hand it over.")
    code = serializers.SerializerMethodField(
        help_text="Only when it could not be sent (no consent, confidential communication): give it in person. "
        "Shown in this answer only."
    )

    def get_code(self, issued) -> str | None:
        return issued.code if issued.handed_over_in_person else None


class AppAccessSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["active", "invited", "deactivated", "none"])
    username = serializers.CharField()
    invitation_expires_at = serializers.DateTimeField(allow_null=True)
    invitation_sent_via = serializers.ListField(child=serializers.CharField())


class _PatientAccessView(StaffView):
    queryset = Patient.objects.select_related("registered_site__messaging_profile", "user")
    audit_category = AuditCategory.DEMOGRAPHICS
    patient_attr = "pk"


class PatientInvitations(_PatientAccessView):
    """Invite the patient to the app: a single-use code (72 hours) by text and e-mail; the previous one is revoked."""

    serializer_class = InvitationSerializer
    required_permissions = {"POST": "patients.change_patient"}

    @extend_schema(request=None, responses={201: InvitationSerializer})
    def post(self, request, id):
        patient = self.get_object()
        issued = services.invite_patient(patient=patient, invited_by=request.user)
        how = f"sent via {', '.join(issued.sent_via)}" if issued.sent_via else "to hand over in person"
        self.audit(AuditAction.CREATE, [patient], obj=issued.record, detail=f"app invitation {how}")
        return Response(InvitationSerializer(issued).data, status=status.HTTP_201_CREATED)


class PatientAppAccess(_PatientAccessView):
    """The patient's app access. DELETE deactivates it (a lost phone); a new invitation restores it."""

    serializer_class = AppAccessSerializer
    required_permissions = {"DELETE": "patients.change_patient"}

    def get(self, request, id):
        patient = self.get_object()
        self.audit(AuditAction.VIEW, [patient], obj=patient, detail="app access")
        return Response(AppAccessSerializer(selectors.app_access(patient=patient)).data)

    def delete(self, request, id):
        patient = services.deactivate_app_access(patient=self.get_object(), deactivated_by=request.user)
        self.audit(AuditAction.CHANGE, [patient], obj=patient, detail="app access deactivated")
        return Response(AppAccessSerializer(selectors.app_access(patient=patient)).data)
