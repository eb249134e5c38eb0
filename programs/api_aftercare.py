"""The patient app's aftercare (/api/v1/me/aftercare/): the plan, its check-ins, and answering one.

A patient sees only their own plan. Answers are clinical data: they are the
patient's own, so the patient reads them here; staff APIs show them only to
clinical roles (``clinic.access.can_view_clinical``).
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from clinic import audit
from clinic.api.permissions import IsPatient
from clinic.api.strict import JsonBodyMixin, StrictBooleanField, StrictCharField, StrictInputMixin, StrictIntegerField
from clinic.errors import NotFound
from clinic.models import AuditAction, AuditCategory
from programs import services
from programs.models import AftercareCheckIn, AftercarePlan

# Plain words for the app; the clinical status names stay internal.
CHECKIN_WORDS = {
    AftercareCheckIn.Status.SCHEDULED: "Coming up",
    AftercareCheckIn.Status.COMPLETED: "Done",
    AftercareCheckIn.Status.MISSED: "Missed: you can still answer",
    AftercareCheckIn.Status.CANCELLED: "No longer needed",
}


class CheckInAnswerSerializer(serializers.ModelSerializer):
    text = serializers.CharField(source="answer_text")

    class Meta:
        model = AftercareCheckIn
        fields = ["mood", "text", "needs_help", "answered_at"]


class CheckInSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    day = serializers.IntegerField(source="offset_days", help_text="Days after you finished your program.")
    status_text = serializers.SerializerMethodField()
    can_answer = serializers.SerializerMethodField()
    answer = serializers.SerializerMethodField()

    class Meta:
        model = AftercareCheckIn
        fields = ["id", "day", "due_on", "status", "status_text", "can_answer", "answer"]

    def get_status_text(self, checkin: AftercareCheckIn) -> str:
        return CHECKIN_WORDS[checkin.status]

    def get_can_answer(self, checkin: AftercareCheckIn) -> bool:
        return (
            checkin.answered_at is None
            and checkin.status in (AftercareCheckIn.Status.SCHEDULED, AftercareCheckIn.Status.MISSED)
            and checkin.plan.status == AftercarePlan.Status.ACTIVE
            and self.context["today"] >= services.checkin_opens_on(checkin)
        )

    @extend_schema_field(CheckInAnswerSerializer(allow_null=True))
    def get_answer(self, checkin: AftercareCheckIn) -> dict | None:
        return CheckInAnswerSerializer(checkin).data if checkin.answered_at else None


class AftercarePlanSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    program = serializers.CharField(source="program.name")
    checkins = CheckInSerializer(many=True)

    class Meta:
        model = AftercarePlan
        fields = ["id", "status", "starts_on", "program", "checkins"]


class AnswerInputSerializer(StrictInputMixin, serializers.Serializer):
    mood = StrictIntegerField(
        min_value=1,
        max_value=5,
        required=False,
        allow_null=True,
        default=None,
        help_text="1 (very bad) to 5 (very good).",
    )
    text = StrictCharField(
        max_length=services.ANSWER_TEXT_MAX, required=False, allow_blank=True, default="", help_text="In your words."
    )
    needs_help = StrictBooleanField(
        required=False, default=False, help_text="Someone from the clinic will contact you soon."
    )


def _plans_of(patient) -> QuerySet[AftercarePlan]:
    checkins = AftercareCheckIn.objects.exclude(status=AftercareCheckIn.Status.CANCELLED).order_by("due_on")
    return (
        AftercarePlan.objects.filter(patient=patient)
        .exclude(status=AftercarePlan.Status.REVOKED)
        .select_related("program")
        .prefetch_related(Prefetch("checkins", queryset=checkins))
        .order_by("-starts_on", "-id")
    )


class _MeAftercareView(JsonBodyMixin, GenericAPIView):
    permission_classes = [IsPatient]

    def get_serializer_context(self) -> dict:
        # "Can I answer it yet?" follows the patient's own day, not the server's.
        user = self.request.user
        today = services.patient_today(user.patient) if hasattr(user, "patient") else None
        return {**super().get_serializer_context(), "today": today}


class AftercareView(_MeAftercareView):
    """Your aftercare plan (the most recent one) and its check-ins."""

    serializer_class = AftercarePlanSerializer

    def get(self, request):
        patient = request.user.patient
        plan = _plans_of(patient).first()
        if plan is None:
            raise NotFound("You have no aftercare plan.", code="no_aftercare_plan")
        audit.record(request, action=AuditAction.VIEW, category=AuditCategory.CLINICAL, patients=[patient], obj=plan)
        return Response(self.get_serializer(plan).data)


class _CheckInView(_MeAftercareView):
    serializer_class = CheckInSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"

    def get_queryset(self) -> QuerySet[AftercareCheckIn]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no patient
            return AftercareCheckIn.objects.none()
        # The patient's own check-ins only: another patient's id is a 404, never a 403.
        return AftercareCheckIn.objects.filter(plan__patient=self.request.user.patient).select_related("plan")


class CheckInView(_CheckInView):
    """One of your check-ins, with your answer once you have given it."""

    def get(self, request, id):
        checkin = self.get_object()
        audit.record(
            request, action=AuditAction.VIEW, category=AuditCategory.CLINICAL, patients=[checkin.plan.patient_id]
        )
        return Response(self.get_serializer(checkin).data)


class AnswerCheckInView(_CheckInView):
    """Answer a check-in: how you are doing, and whether you need help.

    Asking for help tells the clinic's staff at once; nobody else sees it.
    """

    @extend_schema(request=AnswerInputSerializer, responses={200: CheckInSerializer})
    def post(self, request, id):
        checkin = self.get_object()
        data = AnswerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # Recorded before the service runs: a refused attempt is an attempt too.
        audit.record(
            request,
            action=AuditAction.CHANGE,
            category=AuditCategory.CLINICAL,
            patients=[checkin.plan.patient_id],
            obj=checkin,
            detail="check-in answer" + (", help requested" if data.validated_data["needs_help"] else ""),
        )
        checkin = services.answer_checkin(checkin=checkin, **data.validated_data)
        return Response(self.get_serializer(checkin).data, status=status.HTTP_200_OK)
