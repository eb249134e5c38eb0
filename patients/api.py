"""The patient app's own endpoints (/api/v1/me/...): a patient sees and edits only their own record."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from clinic import audit, clock
from clinic.api.fields import LocalTimeField
from clinic.api.permissions import IsPatient
from clinic.api.serializers import represent
from clinic.api.strict import StrictInputMixin
from clinic.api.versioning import required_version
from clinic.models import AuditAction, AuditCategory
from clinic.versioning import etag_for
from patients import services
from patients.models import ConsentMeans, Patient
from patients.validators import normalize_phone, validate_time_zone
from scheduling import selectors as schedule_selectors

IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": r'^(\*|(W/)?"[\x21\x23-\x7e]+")$'},
    OpenApiParameter.HEADER,
    required=True,
    description='The ETag from your last read (412 if the record changed since), or "*" to change it whatever '
    "its version. Without the header: 428; an empty or malformed value: 400.",
)


class PhoneInputField(serializers.CharField):
    """A phone number as the person types it; checked here so it is reported with the other fields.

    The service still normalises it to E.164 (and checks again, for callers other than the API).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value:
            try:
                normalize_phone(value)
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.messages[0], code="invalid_phone") from None
        return value


class ProfileSerializer(StrictInputMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    time_zone = serializers.CharField(validators=[validate_time_zone], required=False)
    # Typed as the person writes it ("+1 (617) 555-0199"); the service stores E.164.
    phone = PhoneInputField()

    class Meta:
        model = Patient
        fields = ["id", "mrn", "legal_first_name", "legal_last_name", "preferred_name", "date_of_birth"]
        fields += ["phone", "email", "time_zone", "preferred_language"]
        read_only_fields = ["id", "mrn", "legal_first_name", "legal_last_name", "date_of_birth"]


class PreferencesSerializer(StrictInputMixin, serializers.ModelSerializer):
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
        response = Response(represent(self.get_serializer_class(), patient))
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
# In the patient's language (issue 13): the /me/ views run with it active.
LEVEL_WORDS = {
    "residential": _("Residential care"),
    "iop": _("Intensive outpatient program"),
    "aftercare": _("Aftercare"),
}
BEGAN_WORDS = {
    "admitted": _("You were admitted on %(date)s."),
    "enrolled": _("You started on %(date)s."),
    "stepped_down": _("You moved on from residential care on %(date)s."),
    "stepped_up": _("You moved to residential care for more support on %(date)s."),
    "discharged": _("You completed this stay and began aftercare on %(date)s."),
}
# A date inside a sentence, per language ("December 7, 2026"; "7 de diciembre de 2026").
DATE_IN_SENTENCE = pgettext_lazy("date format", "F j, Y")


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
        now = clock.now()
        today = now.astimezone(ZoneInfo(patient.time_zone)).date()  # the patient's own date, at the same instant
        # The journey and this week's hours in one statement (issue 17).
        care = schedule_selectors.patient_care(patient=patient, now=now)
        journey = [
            {
                "level": step.kind,
                "title": str(LEVEL_WORDS[step.kind]),
                "description": BEGAN_WORDS[step.how_it_began]
                % {"date": date_format(step.start_on, str(DATE_IN_SENTENCE))},
                "program": step.program_name,
                "start_on": step.start_on,
                "end_on": step.end_on,
                "current": step.start_on <= today and (step.end_on is None or step.end_on > today),
            }
            for step in care.steps
        ]
        current = next((step for step in reversed(journey) if step["current"]), None)
        week = care.this_week
        data = {
            "current_level": current["level"] if current else None,
            "current_title": current["title"] if current else _("Not currently in a program"),
            "journey": journey,
            "this_week": week
            and {
                "week_start": week.week_start,
                "attended_hours": week.attended_hours,
                "scheduled_hours": week.scheduled_hours,
                "target_hours": week.minimum_hours,
            },
        }
        self._audit(AuditAction.VIEW)
        return Response(represent(CareSerializer, data))
