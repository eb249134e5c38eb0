"""Staff endpoints for the care journey (programs, beds, episodes, stays, enrollments and the clinical actions),
and the patient app's aftercare view.

Every action is a POST that calls the same service the admin uses; domain errors become 4xx with the error body.
"""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from clinic import access, clock
from clinic.api.fields import BlankChoicesAsNullMixin
from clinic.api.serializers import (
    BoundedDateField,
    ClinicalDetailMixin,
    PatientRefSerializer,
    RefSerializer,
    ScopedPublicIdField,
)
from clinic.api.staff import StaffDetailView, StaffListView, StaffView
from clinic.api.strict import StrictInputMixin
from clinic.models import AuditAction, AuditCategory
from patients.models import Patient
from programs import selectors, services
from programs.models import (
    Bed,
    Discharge,
    Disposition,
    Placement,
    PlacementKind,
    Program,
    Reversal,
    StayExtension,
    Transition,
    TreatmentEpisode,
)

# --- programs and beds ------------------------------------------------------------------------------


class SiteRefSerializer(RefSerializer):
    code = serializers.CharField(read_only=True)


class CensusSerializer(serializers.Serializer):
    on = serializers.DateField()
    patients = serializers.IntegerField()
    beds_in_service = serializers.IntegerField()
    beds_occupied = serializers.IntegerField()
    occupancy_percent = serializers.FloatField(allow_null=True)


class ProgramSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    site = SiteRefSerializer(read_only=True)
    census = serializers.SerializerMethodField(help_text="Today's figures (null for an inactive program).")

    class Meta:
        model = Program
        fields = ["id", "name", "site", "asam_level", "is_residential", "capacity", "time_zone", "is_active"]
        fields += ["residential_min_days", "residential_max_days", "iop_min_weekly_hours_adult"]
        fields += ["iop_min_weekly_hours_adolescent", "iop_max_weekly_hours", "census"]
        read_only_fields = fields

    @extend_schema_field(CensusSerializer(allow_null=True))
    def get_census(self, program) -> dict | None:
        figures = self.context.get("census", {}).get(program.pk)
        if figures is None:
            return None
        return CensusSerializer(
            {
                "on": self.context["census_on"],
                "patients": figures.patients,
                "beds_in_service": figures.beds_in_service,
                "beds_occupied": figures.beds_occupied,
                "occupancy_percent": figures.occupancy_percent,
            }
        ).data


class _ProgramView(StaffView):
    queryset = Program.objects.select_related("site")
    serializer_class = ProgramSerializer
    patient_attr = ""  # programs are not patient data

    def get_serializer_context(self):
        context = super().get_serializer_context()
        today = clock.today()
        figures = selectors.census(on=today, sites=access.visible_sites(self.request.user))
        context.update(census={row.program.pk: row for row in figures}, census_on=today)
        return context


class ProgramList(_ProgramView, StaffListView):
    """Programs at your sites, with today's census."""


class ProgramDetail(_ProgramView, StaffDetailView):
    """One program with today's census."""


class BedSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    program = RefSerializer(read_only=True)
    occupied_today = serializers.BooleanField(read_only=True)

    class Meta:
        model = Bed
        fields = ["id", "label", "program", "status", "occupied_today"]
        read_only_fields = fields


class BedFilter(django_filters.FilterSet):
    program = django_filters.UUIDFilter(field_name="program__public_id")
    status = django_filters.ChoiceFilter(choices=Bed.Status.choices)
    free_from = django_filters.DateFilter(
        method="free_from_day", help_text="Only beds in service with no stay on or after this day (for admitting)."
    )

    class Meta:
        model = Bed
        fields = ["program", "status", "free_from"]

    def free_from_day(self, queryset, name, value):
        return queryset.filter(pk__in=selectors.free_beds(from_on=value).values("pk"))


class BedList(StaffListView):
    """Beds of the residential programs at your sites; whether each is occupied today."""

    serializer_class = BedSerializer
    filterset_class = BedFilter
    patient_attr = ""

    def get_queryset(self):
        occupied = Placement.objects.on(clock.today()).filter(bed=OuterRef("pk"))
        beds = Bed.objects.select_related("program").annotate(occupied_today=Exists(occupied))
        return access.scope_queryset(beds, user=self.request.user)


# --- episodes, stays, enrollments -----------------------------------------------------------------------


class ExtensionClinicalSerializer(serializers.Serializer):
    reason = serializers.CharField()


class ExtensionSerializer(ClinicalDetailMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    clinical = ExtensionClinicalSerializer(source="*", read_only=True, allow_null=True)

    class Meta:
        model = StayExtension
        fields = ["id", "previous_planned_end_on", "new_planned_end_on", "approved_at", "clinical"]
        read_only_fields = fields


class PlacementSerializer(BlankChoicesAsNullMixin, serializers.ModelSerializer):
    """A residential stay or an IOP enrollment: one level of care inside an episode."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True)
    program = RefSerializer(read_only=True)
    bed = serializers.SerializerMethodField()
    status = serializers.CharField(read_only=True, help_text="planned, active, completed or cancelled (today).")
    extensions = ExtensionSerializer(many=True, read_only=True)

    class Meta:
        model = Placement
        fields = ["id", "kind", "patient", "episode", "program", "bed", "start_on", "planned_end_on", "ended_on"]
        fields += ["end_reason", "status", "cancelled_at", "extensions"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="The bed's label (residential only)."))
    def get_bed(self, placement) -> str | None:
        return placement.bed.label if placement.bed_id else None


PLACEMENTS = (
    Placement.objects.select_related("patient", "episode", "program", "bed")
    .prefetch_related("extensions")
    .order_by("-start_on", "-id")
)


class PlacementFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    program = django_filters.UUIDFilter(field_name="program__public_id")
    current = django_filters.BooleanFilter(method="current_only", help_text="Only those in force today.")

    class Meta:
        model = Placement
        fields = ["patient", "program", "current"]

    def current_only(self, queryset, name, value):
        today = Placement.objects.on(clock.today()).values("pk")
        return queryset.filter(pk__in=today) if value else queryset.exclude(pk__in=today)


class _PlacementView(StaffView):
    kind: str = ""
    serializer_class = PlacementSerializer
    filterset_class = PlacementFilter
    audit_category = AuditCategory.CLINICAL

    def get_queryset(self):
        return access.scope_queryset(PLACEMENTS.filter(kind=self.kind), user=self.request.user)

    def _created(self, placement: Placement) -> Response:
        placement = self.get_queryset().get(pk=placement.pk)
        self.audit(AuditAction.CREATE, [placement], obj=placement)
        return Response(self.get_serializer(placement).data, status=status.HTTP_201_CREATED)


class AdmitSerializer(StrictInputMixin, serializers.Serializer):
    patient = ScopedPublicIdField(queryset=Patient.objects.all())
    bed = ScopedPublicIdField(queryset=Bed.objects.select_related("program"))
    admitted_on = BoundedDateField()
    planned_discharge_on = BoundedDateField(required=False)


class EnrollSerializer(StrictInputMixin, serializers.Serializer):
    patient = ScopedPublicIdField(queryset=Patient.objects.all())
    program = ScopedPublicIdField(queryset=Program.objects.all())
    start_on = BoundedDateField()
    planned_end_on = BoundedDateField(required=False)


class ResidentialStayList(_PlacementView, StaffListView):
    """Residential stays at your sites' patients. POST admits a patient to a bed (opening an episode if needed)."""

    kind = PlacementKind.RESIDENTIAL
    required_permissions = {"POST": "programs.add_placement"}

    @extend_schema(request=AdmitSerializer, responses={201: PlacementSerializer})
    def post(self, request):
        data = _valid(AdmitSerializer, request, self)
        return self._created(services.admit_to_residential(admitted_by=request.user, **data))


class IOPEnrollmentList(_PlacementView, StaffListView):
    """IOP enrollments of your sites' patients. POST enrolls a patient directly in an outpatient track."""

    kind = PlacementKind.IOP
    required_permissions = {"POST": "programs.add_placement"}

    @extend_schema(request=EnrollSerializer, responses={201: PlacementSerializer})
    def post(self, request):
        data = _valid(EnrollSerializer, request, self)
        enrollment = services.enroll_in_iop(enrolled_by=request.user, **data)
        return self._created(enrollment)


class ResidentialStayDetail(_PlacementView, StaffDetailView):
    """One residential stay, with its extensions."""

    kind = PlacementKind.RESIDENTIAL


class IOPEnrollmentDetail(_PlacementView, StaffDetailView):
    """One IOP enrollment."""

    kind = PlacementKind.IOP


def _valid(serializer_class, request, view) -> dict:
    serializer = serializer_class(data=request.data, context=view.get_serializer_context())
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ExtendSerializer(StrictInputMixin, serializers.Serializer):
    new_planned_discharge_on = BoundedDateField()
    reason = serializers.CharField(max_length=2000)


class ExtendStay(_PlacementView):
    """Move a stay's planned discharge later; the approval is kept as its own record."""

    kind = PlacementKind.RESIDENTIAL
    required_permissions = {"POST": "programs.add_stayextension"}

    @extend_schema(request=ExtendSerializer, responses={200: PlacementSerializer})
    def post(self, request, id):
        stay = self.get_object()
        services.extend_stay(stay=stay, approved_by=request.user, **_valid(ExtendSerializer, request, self))
        stay = self.get_object()
        self.audit(AuditAction.CHANGE, [stay], obj=stay, detail="planned_end_on (extension)")
        return Response(self.get_serializer(stay).data)


class TransitionClinicalSerializer(serializers.Serializer):
    reason = serializers.CharField()
    decided_by = serializers.CharField(source="decided_by.get_username")


class TransitionSerializer(ClinicalDetailMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(source="episode.patient", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True)
    from_placement = serializers.UUIDField(source="from_placement.public_id", read_only=True)
    to_placement = serializers.UUIDField(source="to_placement.public_id", read_only=True)
    reversed = serializers.BooleanField(read_only=True)
    clinical = TransitionClinicalSerializer(source="*", read_only=True, allow_null=True)

    class Meta:
        model = Transition
        fields = ["id", "kind", "patient", "episode", "from_placement", "to_placement", "effective_on", "reversed"]
        fields += ["clinical"]
        read_only_fields = fields


TRANSITIONS = (
    Transition.objects.select_related("episode__patient", "from_placement", "to_placement", "decided_by")
    .annotate(reversed=Exists(Reversal.objects.filter(transition=OuterRef("pk"))))
    .order_by("-effective_on", "-id")
)


class StepDownSerializer(StrictInputMixin, serializers.Serializer):
    to_program = ScopedPublicIdField(queryset=Program.objects.all())
    on = BoundedDateField()
    reason = serializers.CharField(max_length=2000)
    planned_end_on = BoundedDateField(required=False)


class StepUpSerializer(StrictInputMixin, serializers.Serializer):
    bed = ScopedPublicIdField(queryset=Bed.objects.select_related("program"))
    on = BoundedDateField()
    reason = serializers.CharField(max_length=2000)
    planned_discharge_on = BoundedDateField(required=False)


class _TransitionAction(_PlacementView):
    required_permissions = {"POST": "programs.add_transition"}

    def _respond(self, transition: Transition) -> Response:
        transition = TRANSITIONS.get(pk=transition.pk)
        self.audit(AuditAction.CREATE, [transition.from_placement], obj=transition, detail=transition.kind)
        return Response(TransitionSerializer(transition, context=self.get_serializer_context()).data, status=201)


class StepDown(_TransitionAction):
    """End a residential stay and start an IOP enrollment the same day."""

    kind = PlacementKind.RESIDENTIAL

    @extend_schema(request=StepDownSerializer, responses={201: TransitionSerializer})
    def post(self, request, id):
        stay = self.get_object()
        data = _valid(StepDownSerializer, request, self)
        return self._respond(services.step_down(stay=stay, decided_by=request.user, **data))


class StepUp(_TransitionAction):
    """End an IOP enrollment and admit the patient to a residential bed the same day."""

    kind = PlacementKind.IOP

    @extend_schema(request=StepUpSerializer, responses={201: TransitionSerializer})
    def post(self, request, id):
        enrollment = self.get_object()
        data = _valid(StepUpSerializer, request, self)
        return self._respond(services.step_up(enrollment=enrollment, decided_by=request.user, **data))


class TransitionFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="episode__patient__public_id")
    episode = django_filters.UUIDFilter(field_name="episode__public_id")

    class Meta:
        model = Transition
        fields = ["patient", "episode", "kind"]


class TransitionList(StaffListView):
    """Step-downs and step-ups (clinical roles)."""

    queryset = TRANSITIONS
    serializer_class = TransitionSerializer
    filterset_class = TransitionFilter
    required_permissions = {"GET": "programs.view_transition"}
    audit_category = AuditCategory.CLINICAL
    patient_attr = "episode.patient_id"


class ReverseSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ReversalSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    transition = serializers.UUIDField(source="transition.public_id", read_only=True, allow_null=True)
    discharge = serializers.UUIDField(source="discharge.public_id", read_only=True, allow_null=True)

    class Meta:
        model = Reversal
        fields = ["id", "transition", "discharge", "reason", "created_at"]
        read_only_fields = fields


class ReverseTransition(StaffView):
    """Undo a step-down or step-up recorded in error: the new level of care is cancelled, the old one resumes."""

    queryset = Transition.objects.select_related("episode__patient")
    serializer_class = ReversalSerializer
    required_permissions = {"POST": "programs.add_reversal"}
    audit_category = AuditCategory.CLINICAL
    patient_attr = "episode.patient_id"

    @extend_schema(request=ReverseSerializer, responses={201: ReversalSerializer})
    def post(self, request, id):
        transition = self.get_object()
        data = _valid(ReverseSerializer, request, self)
        reversal = services.reverse_transition(transition=transition, reversed_by=request.user, **data)
        self.audit(AuditAction.CHANGE, [transition], obj=reversal, detail="reversal")
        return Response(self.get_serializer(reversal).data, status=status.HTTP_201_CREATED)


class DischargeClinicalSerializer(serializers.Serializer):
    disposition = serializers.ChoiceField(choices=Disposition.choices)
    notes = serializers.CharField()
    decided_by = serializers.CharField(source="decided_by.get_username")


class DischargeSerializer(ClinicalDetailMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(source="episode.patient", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True)
    ended_placement = serializers.UUIDField(source="ended_placement.public_id", read_only=True)
    reversed = serializers.BooleanField(read_only=True)
    clinical = DischargeClinicalSerializer(source="*", read_only=True, allow_null=True)

    class Meta:
        model = Discharge
        fields = ["id", "patient", "episode", "ended_placement", "effective_on", "reversed", "clinical"]
        read_only_fields = fields


DISCHARGES = (
    Discharge.objects.select_related("episode__patient", "ended_placement", "decided_by")
    .annotate(reversed=Exists(Reversal.objects.filter(discharge=OuterRef("pk"))))
    .order_by("-effective_on", "-id")
)


class DischargeFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="episode__patient__public_id")
    episode = django_filters.UUIDFilter(field_name="episode__public_id")

    class Meta:
        model = Discharge
        fields = ["patient", "episode"]


class DischargeList(StaffListView):
    """Discharges (clinical roles)."""

    queryset = DISCHARGES
    serializer_class = DischargeSerializer
    filterset_class = DischargeFilter
    required_permissions = {"GET": "programs.view_discharge"}
    audit_category = AuditCategory.CLINICAL
    patient_attr = "episode.patient_id"


class ReverseDischarge(StaffView):
    """Undo a discharge recorded in error: the episode and its last level of care resume, aftercare is revoked."""

    queryset = Discharge.objects.select_related("episode__patient")
    serializer_class = ReversalSerializer
    required_permissions = {"POST": "programs.add_reversal"}
    audit_category = AuditCategory.CLINICAL
    patient_attr = "episode.patient_id"

    @extend_schema(request=ReverseSerializer, responses={201: ReversalSerializer})
    def post(self, request, id):
        discharge = self.get_object()
        data = _valid(ReverseSerializer, request, self)
        reversal = services.reverse_discharge(discharge=discharge, reversed_by=request.user, **data)
        self.audit(AuditAction.CHANGE, [discharge], obj=reversal, detail="reversal")
        return Response(self.get_serializer(reversal).data, status=status.HTTP_201_CREATED)


class EpisodePlacementSerializer(BlankChoicesAsNullMixin, serializers.ModelSerializer):
    """A level of care as listed inside its episode."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    program = RefSerializer(read_only=True)
    bed = serializers.SerializerMethodField()
    status = serializers.CharField(read_only=True)

    class Meta:
        model = Placement
        fields = ["id", "kind", "program", "bed", "start_on", "planned_end_on", "ended_on", "end_reason", "status"]
        fields += ["cancelled_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_bed(self, placement) -> str | None:
        return placement.bed.label if placement.bed_id else None


class EpisodeSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    placements = EpisodePlacementSerializer(many=True, read_only=True)

    class Meta:
        model = TreatmentEpisode
        fields = ["id", "patient", "status", "started_on", "ended_on", "placements"]
        read_only_fields = fields


EPISODES = TreatmentEpisode.objects.select_related("patient").prefetch_related(
    Prefetch("placements", queryset=Placement.objects.select_related("program", "bed").order_by("start_on", "id"))
)


class EpisodeFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id")

    class Meta:
        model = TreatmentEpisode
        fields = ["patient", "status"]


class EpisodeList(StaffListView):
    """Treatment episodes (intake to final discharge) of your sites' patients, with their levels of care."""

    queryset = EPISODES
    serializer_class = EpisodeSerializer
    filterset_class = EpisodeFilter
    audit_category = AuditCategory.CLINICAL


class EpisodeDetail(StaffDetailView):
    """One treatment episode with its levels of care."""

    queryset = EPISODES
    serializer_class = EpisodeSerializer
    audit_category = AuditCategory.CLINICAL


class DischargeInputSerializer(StrictInputMixin, serializers.Serializer):
    on = BoundedDateField()
    disposition = serializers.ChoiceField(choices=Disposition.choices)
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True)


class DischargeEpisode(StaffView):
    """End the current level of care and the episode; the aftercare plan and its check-ins start."""

    queryset = TreatmentEpisode.objects.select_related("patient")
    serializer_class = DischargeSerializer
    required_permissions = {"POST": "programs.add_discharge"}
    audit_category = AuditCategory.CLINICAL

    @extend_schema(request=DischargeInputSerializer, responses={201: DischargeSerializer})
    def post(self, request, id):
        episode = self.get_object()
        data = _valid(DischargeInputSerializer, request, self)
        record = services.discharge(episode=episode, decided_by=request.user, **data)
        record = DISCHARGES.get(pk=record.pk)
        self.audit(AuditAction.CREATE, [episode], obj=record, detail="discharge")
        return Response(self.get_serializer(record).data, status=status.HTTP_201_CREATED)
