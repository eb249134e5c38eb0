"""The patient app's own endpoints (/api/v1/me/...): a patient sees and edits only their own record."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from clinic import audit, clock
from clinic.api.fields import LocalTimeField
from clinic.api.permissions import IsPatient
from clinic.api.versioning import required_version
from clinic.models import AuditAction, AuditCategory
from clinic.versioning import etag_for
from patients import services
from patients.models import ConsentMeans, Patient
from patients.validators import validate_time_zone
from programs import selectors as program_selectors
from scheduling import selectors as schedule_selectors

IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=True, description="The ETag from your last read."
)


class ProfileSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    time_zone = serializers.CharField(validators=[validate_time_zone], required=False)
    # Typed as the person writes it ("+1 (617) 555-0199"); the service checks and stores E.164.
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)

    class Meta:
        model = Patient
        fields = ["id", "mrn", "legal_first_name", "legal_last_name", "preferred_name", "date_of_birth"]
        fields += ["phone", "email", "time_zone"]
        read_only_fields = ["id", "mrn", "legal_first_name", "legal_last_name", "date_of_birth"]


class PreferencesSerializer(serializers.ModelSerializer):
    quiet_hours_start = LocalTimeField(required=False)
    quiet_hours_end = LocalTimeField(required=False)
    messaging_consent = serializers.BooleanField(
        source="has_messaging_consent", required=False, help_text="Whether we may send you reminders."
    )

    class Meta:
        model = Patient
        fields = ["sms_allowed", "email_allowed", "push_allowed", "quiet_hours_start", "quiet_hours_end"]
        fields += ["messaging_consent", "messaging_consent_given_at", "messaging_consent_revoked_at"]
        read_only_fields = ["messaging_consent_given_at", "messaging_consent_revoked_at"]


class _MeView(GenericAPIView):
    permission_classes = [IsPatient]
    audit_category = AuditCategory.DEMOGRAPHICS

    def get_object(self) -> Patient:
        return self.request.user.patient

    def _audit(self, action: str, detail: str = "") -> None:
        # The patient reading their own record is an access too (45 CFR 164.312(b)).
        patient = self.get_object()
        audit.record(self.request, action=action, category=self.audit_category, patients=[patient], detail=detail)

    def _respond(self, patient: Patient) -> Response:
        response = Response(self.get_serializer(patient).data)
        response["ETag"] = etag_for(patient)
        return response


class _EditableMeView(_MeView):
    """A part of the patient's own record they may read and edit (with If-Match)."""

    def get(self, request):
        self._audit(AuditAction.VIEW)
        return self._respond(self.get_object())

    @extend_schema(parameters=[IF_MATCH])
    def patch(self, request):
        expected = required_version(request)
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        patient = self._apply(dict(serializer.validated_data), expected_version=expected)
        self._audit(AuditAction.CHANGE, ", ".join(sorted(serializer.validated_data)))
        return self._respond(patient)

    def _apply(self, changes: dict, *, expected_version: str) -> Patient:
        return services.update_patient(patient=self.get_object(), expected_version=expected_version, **changes)


class ProfileView(_EditableMeView):
    """Your profile. Names and date of birth are changed by the clinic; contact details by you."""

    serializer_class = ProfileSerializer


class PreferencesView(_EditableMeView):
    """How and when we may contact you. Turning messaging consent off stops reminders at once."""

    serializer_class = PreferencesSerializer
    audit_category = AuditCategory.MESSAGING

    def _apply(self, changes: dict, *, expected_version: str) -> Patient:
        consent = changes.pop("has_messaging_consent", None)
        patient = super()._apply(changes, expected_version=expected_version)
        by = {"patient": patient, "means": ConsentMeans.APP, "recorded_by": self.request.user}
        if consent is True and not patient.has_messaging_consent:
            patient = services.give_messaging_consent(**by)
        elif consent is False:
            patient = services.revoke_messaging_consent(**by)
        return patient


# Patient-friendly words for the journey: what the patient app shows, not clinical codes.
LEVEL_WORDS = {
    "residential": "Residential care",
    "iop": "Intensive outpatient program",
    "aftercare": "Aftercare",
}
BEGAN_WORDS = {
    "admitted": "You were admitted",
    "enrolled": "You started",
    "stepped_down": "You moved on from residential care",
    "stepped_up": "You moved to residential care for more support",
    "discharged": "You completed this stay and began aftercare",
}


class JourneyStepSerializer(serializers.Serializer):
    level = serializers.CharField(help_text="residential, iop or aftercare")
    title = serializers.CharField()
    description = serializers.CharField()
    program = serializers.CharField()
    start_on = serializers.DateField()
    end_on = serializers.DateField(allow_null=True)
    current = serializers.BooleanField()


class ThisWeekSerializer(serializers.Serializer):
    week_start = serializers.DateField(help_text="The Monday of this week.")
    attended_hours = serializers.DecimalField(max_digits=6, decimal_places=2)
    scheduled_hours = serializers.DecimalField(max_digits=6, decimal_places=2)
    target_hours = serializers.DecimalField(max_digits=4, decimal_places=1, help_text="Your weekly goal.")


class CareSerializer(serializers.Serializer):
    current_level = serializers.CharField(allow_null=True, help_text="residential, iop, aftercare or null")
    current_title = serializers.CharField()
    journey = JourneyStepSerializer(many=True)
    this_week = ThisWeekSerializer(allow_null=True, help_text="Hours this week, while in an outpatient program.")


class CareView(_MeView):
    """Where you are in your care and how you got here, in plain words, with this week's hours."""

    serializer_class = CareSerializer
    audit_category = AuditCategory.CLINICAL

    def get(self, request):
        patient = self.get_object()
        today = clock.local_today(patient.time_zone)  # the patient's own date: "current" is what is current for them
        steps = program_selectors.patient_journey(patient=patient)
        journey = [
            {
                "level": step.kind,
                "title": LEVEL_WORDS[step.kind],
                "description": f"{BEGAN_WORDS[step.how_it_began]} on {step.start_on:%B %-d, %Y}.",
                "program": step.program.name,
                "start_on": step.start_on,
                "end_on": step.end_on,
                "current": step.start_on <= today and (step.end_on is None or step.end_on > today),
            }
            for step in steps
        ]
        current = next((step for step in reversed(journey) if step["current"]), None)
        data = {
            "current_level": current["level"] if current else None,
            "current_title": current["title"] if current else "Not currently in a program",
            "journey": journey,
            "this_week": self._this_week(),
        }
        self._audit(AuditAction.VIEW)
        return Response(CareSerializer(data).data)

    def _this_week(self) -> dict | None:
        weeks = schedule_selectors.weekly_hours(patient=self.get_object())
        if not weeks:
            return None
        week = max(weeks, key=lambda w: w.enrollment.start_on)
        return {
            "week_start": week.week_start,
            "attended_hours": week.attended_hours,
            "scheduled_hours": week.scheduled_hours,
            "target_hours": week.minimum_hours,
        }
