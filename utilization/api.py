"""Staff endpoints for utilization review: payers, coverage, authorizations and their reviews,
days in care against days approved, the UR worklists and the billable units.

Every read of coverage and authorizations is recorded in the audit trail under "payer". Front desk
enters coverage and sees whether care is authorized, never the authorization notes.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from clinic import access, clock
from clinic.api.serializers import BoundedDateField, PatientRefSerializer, ScopedPublicIdField
from clinic.api.staff import StaffDetailView, StaffListView, StaffView
from clinic.api.strict import StrictInputMixin
from clinic.models import AuditAction, AuditCategory
from patients.models import Patient
from programs.models import AsamLevel, TreatmentEpisode
from utilization import selectors, services
from utilization.models import (
    Authorization,
    AuthorizationStatus,
    ConcurrentReview,
    Coverage,
    Payer,
    ReviewOutcome,
    SubscriberRelation,
    UnitKind,
)
from utilization.roles import can_see_authorization_notes


def _valid(serializer_class, request, view, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, context=view.get_serializer_context(), **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class PayerField(ScopedPublicIdField):
    """A payer by public UUID. Payers are the same at every site, so every caller sees them all."""

    def __init__(self, **kwargs):
        super().__init__(queryset=Payer.objects.all(), **kwargs)

    def scope(self, queryset, request):
        return queryset


# --- payers and coverage -------------------------------------------------------------------------------------


class PayerSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Payer
        fields = ["id", "name", "kind", "requires_authorization"]
        read_only_fields = fields


class PayerList(StaffListView):
    """The payers the clinic works with (reference data, the same at every site; edited in the admin)."""

    serializer_class = PayerSerializer
    required_permissions = {"GET": "utilization.view_payer"}
    patient_attr = ""

    def get_queryset(self):
        return Payer.objects.order_by("name")


class CoverageSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    payer = PayerSerializer(read_only=True)

    class Meta:
        model = Coverage
        fields = ["id", "patient", "payer", "rank", "member_id", "group_number", "subscriber_relation"]
        fields += ["effective_on", "ends_on"]
        read_only_fields = fields


class CoverageInputSerializer(StrictInputMixin, serializers.Serializer):
    patient = ScopedPublicIdField(queryset=Patient.objects.all())
    payer = PayerField()
    rank = serializers.IntegerField(min_value=1, max_value=9, default=1)
    member_id = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    group_number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    subscriber_relation = serializers.ChoiceField(choices=SubscriberRelation.choices, default=SubscriberRelation.SELF)
    effective_on = BoundedDateField()
    ends_on = BoundedDateField(required=False, allow_null=True, default=None)


class CoverageFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    payer = django_filters.UUIDFilter(field_name="payer__public_id")

    class Meta:
        model = Coverage
        fields = ["patient", "payer"]


class _CoverageView(StaffView):
    queryset = Coverage.objects.select_related("patient", "payer").order_by("patient_id", "rank", "-effective_on")
    serializer_class = CoverageSerializer
    audit_category = AuditCategory.PAYER


class CoverageList(_CoverageView, StaffListView):
    """Coverages of your sites' patients, in order. POST records one (front desk and up)."""

    filterset_class = CoverageFilter
    required_permissions = {"GET": "utilization.view_coverage", "POST": "utilization.add_coverage"}

    @extend_schema(request=CoverageInputSerializer, responses={201: CoverageSerializer})
    def post(self, request):
        coverage = services.add_coverage(created_by=request.user, **_valid(CoverageInputSerializer, request, self))
        coverage = self.get_queryset().get(pk=coverage.pk)
        self.audit(AuditAction.CREATE, [coverage], obj=coverage)
        return Response(self.get_serializer(coverage).data, status=status.HTTP_201_CREATED)


class CoverageDetail(_CoverageView, StaffDetailView):
    """One coverage."""

    required_permissions = {"GET": "utilization.view_coverage"}


# --- authorizations and reviews -----------------------------------------------------------------------------


class _NotesHidden:
    """``notes`` is null for roles that may not read the payer's reasoning (front desk)."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not can_see_authorization_notes(request.user):
            data["notes"] = None
        return data


class ReviewSerializer(_NotesHidden, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    notes = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = ConcurrentReview
        fields = ["id", "reviewed_on", "outcome", "units_added", "new_end_on", "next_review_on", "notes"]
        read_only_fields = fields


class CoverageRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    payer = serializers.CharField(source="payer.name", read_only=True)
    rank = serializers.IntegerField(read_only=True)


class AuthorizationSerializer(_NotesHidden, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True)
    coverage = CoverageRefSerializer(read_only=True)
    covered_through = serializers.DateField(read_only=True, allow_null=True)
    units_approved = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Approved plus added at reviews."
    )
    units_used = serializers.IntegerField(read_only=True, help_text="Days or sessions used through today.")
    reviews = ReviewSerializer(many=True, read_only=True)
    notes = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Authorization
        fields = ["id", "patient", "episode", "coverage", "asam_level", "unit_kind", "status", "number"]
        fields += ["requested_units", "requested_start_on", "requested_end_on", "requested_on"]
        fields += ["approved_units", "start_on", "end_on", "decided_on", "units_added", "extended_to"]
        fields += ["covered_through", "units_approved", "units_used", "next_review_on", "reviews", "notes"]
        read_only_fields = fields


class AuthorizationRequestSerializer(StrictInputMixin, serializers.Serializer):
    episode = ScopedPublicIdField(queryset=TreatmentEpisode.objects.all())
    coverage = ScopedPublicIdField(queryset=Coverage.objects.select_related("payer"))
    asam_level = serializers.ChoiceField(choices=AsamLevel.choices)
    unit_kind = serializers.ChoiceField(choices=UnitKind.choices, default=UnitKind.DAYS)
    requested_units = serializers.IntegerField(max_value=10_000)
    start_on = BoundedDateField()
    end_on = BoundedDateField()
    requested_on = BoundedDateField(required=False, help_text="When the payer was asked (today by default).")
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class DecisionSerializer(StrictInputMixin, serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[(s, AuthorizationStatus(s).label) for s in ("approved", "partial", "denied")]
    )
    decided_on = BoundedDateField()
    number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    approved_units = serializers.IntegerField(required=False, allow_null=True, default=None, max_value=10_000)
    start_on = BoundedDateField(required=False, allow_null=True, default=None)
    end_on = BoundedDateField(required=False, allow_null=True, default=None)
    next_review_on = BoundedDateField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class ReviewInputSerializer(StrictInputMixin, serializers.Serializer):
    reviewed_on = BoundedDateField()
    outcome = serializers.ChoiceField(choices=ReviewOutcome.choices)
    units_added = serializers.IntegerField(min_value=0, max_value=10_000, default=0)
    new_end_on = BoundedDateField(required=False, allow_null=True, default=None)
    next_review_on = BoundedDateField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class AuthorizationFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    episode = django_filters.UUIDFilter(field_name="episode__public_id")

    class Meta:
        model = Authorization
        fields = ["patient", "episode", "status", "asam_level"]


class _AuthorizationView(StaffView):
    serializer_class = AuthorizationSerializer
    audit_category = AuditCategory.PAYER

    def get_queryset(self):
        queryset = Authorization.objects.select_related("patient", "episode", "coverage__payer").prefetch_related(
            Prefetch("reviews", queryset=ConcurrentReview.objects.order_by("reviewed_on", "id"))
        )
        queryset = selectors.with_units_used(queryset, on=clock.today()).order_by("-requested_on", "-id")
        return access.scope_queryset(queryset, user=self.request.user)

    def _respond(self, authorization: Authorization, *, action: str, detail: str, code: int = 200) -> Response:
        authorization = self.get_queryset().get(pk=authorization.pk)
        self.audit(action, [authorization], obj=authorization, detail=detail)
        return Response(self.get_serializer(authorization).data, status=code)


class AuthorizationList(_AuthorizationView, StaffListView):
    """Authorizations of your sites' patients with days (or sessions) used. POST requests one from the payer."""

    filterset_class = AuthorizationFilter
    required_permissions = {"GET": "utilization.view_authorization", "POST": "utilization.add_authorization"}

    @extend_schema(request=AuthorizationRequestSerializer, responses={201: AuthorizationSerializer})
    def post(self, request):
        authorization = services.request_authorization(
            requested_by=request.user, **_valid(AuthorizationRequestSerializer, request, self)
        )
        return self._respond(authorization, action=AuditAction.CREATE, detail="request", code=201)


class AuthorizationDetail(_AuthorizationView, StaffDetailView):
    """One authorization with its reviews and days used."""

    required_permissions = {"GET": "utilization.view_authorization"}


class AuthorizationDecision(_AuthorizationView):
    """Record the payer's decision (approved, partially approved, denied) exactly as the payer gave it."""

    required_permissions = {"POST": "utilization.change_authorization"}

    @extend_schema(request=DecisionSerializer, responses={200: AuthorizationSerializer})
    def post(self, request, id):
        authorization = self.get_object()
        data = _valid(DecisionSerializer, request, self)
        authorization = services.record_decision(authorization=authorization, decided_by=request.user, **data)
        return self._respond(authorization, action=AuditAction.CHANGE, detail=f"decision: {authorization.status}")


class AuthorizationReview(_AuthorizationView):
    """Record a concurrent review: more units approved (with the new end), denied, pending, peer-to-peer, appealed."""

    required_permissions = {"POST": "utilization.add_concurrentreview"}

    @extend_schema(request=ReviewInputSerializer, responses={201: AuthorizationSerializer})
    def post(self, request, id):
        authorization = self.get_object()
        data = _valid(ReviewInputSerializer, request, self)
        review = services.record_review(authorization=authorization, recorded_by=request.user, **data)
        return self._respond(authorization, action=AuditAction.CREATE, detail=f"review: {review.outcome}", code=201)


# --- days in care against days approved -----------------------------------------------------------------------


class DayInCareSerializer(serializers.Serializer):
    day = serializers.DateField()
    asam_level = serializers.CharField()
    authorization = serializers.CharField(source="authorization_number", allow_null=True)
    needs_authorization = serializers.BooleanField()
    at_risk = serializers.BooleanField(help_text="In care, needing an authorization, and none covers the day.")


class EpisodeUtilizationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="episode.public_id")
    patient = PatientRefSerializer(source="episode.patient")
    headline = serializers.CharField(help_text='For the chart header: "Auth 12 of 14 days, review due Thu Dec 10".')
    days_in_care = serializers.IntegerField()
    days_covered = serializers.IntegerField()
    days_at_risk = serializers.IntegerField()
    planned_end_on = serializers.DateField(allow_null=True, help_text="The current level of care's planned end.")
    planned_days_not_covered = serializers.IntegerField(
        help_text="Planned days from today (after an extension or a step-down) no approved authorization covers."
    )
    first_planned_day_not_covered = serializers.DateField(allow_null=True)
    days = DayInCareSerializer(many=True)


class EpisodeUtilization(StaffView):
    """Every day of an episode's care through today, with the approved authorization that covers it (or none)."""

    queryset = TreatmentEpisode.objects.select_related("patient")
    serializer_class = EpisodeUtilizationSerializer
    required_permissions = {"GET": "utilization.view_authorization"}
    audit_category = AuditCategory.PAYER

    def get(self, request, id):
        episode = self.get_object()
        summary = selectors.episode_summary(episode=episode, on=clock.today())
        self.audit(AuditAction.VIEW, [episode], obj=episode, detail="days in care against authorizations")
        return Response(self.get_serializer({"episode": episode, **summary}).data)


# --- the UR worklists -------------------------------------------------------------------------------------------


class WorklistKind:
    REVIEWS_DUE = "reviews_due"
    ENDING_SOON = "ending_soon"
    DAYS_NOT_COVERED = "days_not_covered"
    DENIALS = "denials"
    NEEDS_AUTHORIZATION = "needs_authorization"
    ALL = (REVIEWS_DUE, ENDING_SOON, DAYS_NOT_COVERED, DENIALS, NEEDS_AUTHORIZATION)


class WorklistItemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[(k, k) for k in WorklistKind.ALL])
    patient = PatientRefSerializer()
    episode = serializers.UUIDField()
    authorization = serializers.UUIDField(allow_null=True)
    number = serializers.CharField(allow_blank=True)
    asam_level = serializers.CharField()
    on = serializers.DateField(help_text="Review due, authorization ends, denied on, or the first day not covered.")
    days = serializers.IntegerField(allow_null=True, help_text="Days in care not covered (days_not_covered).")


class Worklist(StaffListView):
    """The UR coordinator's day: reviews due today and tomorrow, authorizations ending within 3 days with the
    patient still in that level, days in care not covered, denials without follow-up in 2 days, and patients
    stepped down without an IOP authorization."""

    serializer_class = WorklistItemSerializer
    filter_backends: list = []  # its parameters are its own (kind); no model filter applies
    required_permissions = {"GET": "utilization.view_concurrentreview"}
    audit_category = AuditCategory.PAYER
    patient_attr = ""  # recorded below, with the patients of the page

    @extend_schema(parameters=[OpenApiParameter("kind", OpenApiTypes.STR, enum=list(WorklistKind.ALL), required=False)])
    def get(self, request, *args, **kwargs):
        kind = request.query_params.get("kind")
        if kind is not None and kind not in WorklistKind.ALL:
            raise serializers.ValidationError({"kind": [f"Choose one of {', '.join(WorklistKind.ALL)}."]})
        items = _worklist(user=request.user, on=clock.today(), kinds=[kind] if kind else list(WorklistKind.ALL))
        page = self.paginate_queryset(items)
        self.audit(AuditAction.VIEW, patients=[row["patient"].pk for row in page], detail="UR worklist")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def _worklist(*, user, on: dt.date, kinds: list[str]) -> list[dict]:
    def scoped(queryset):
        return access.scope_queryset(queryset, user=user).select_related("patient", "episode").order_by("pk")

    items: list[dict] = []

    def authorizations(queryset, kind: str, date_of) -> None:
        for auth in scoped(queryset):
            items.append(
                {"kind": kind, "patient": auth.patient, "episode": auth.episode.public_id,
                 "authorization": auth.public_id, "number": auth.number, "asam_level": auth.asam_level,
                 "on": date_of(auth), "days": None}
            )  # fmt: skip

    def placements(queryset, kind: str, uncovered: dict) -> None:
        for placement in scoped(queryset).select_related("program"):
            days, first = uncovered.get(placement.pk, (None, placement.start_on))
            items.append(
                {"kind": kind, "patient": placement.patient, "episode": placement.episode.public_id,
                 "authorization": None, "number": "", "asam_level": placement.program.asam_level,
                 "on": first, "days": days}
            )  # fmt: skip

    if WorklistKind.REVIEWS_DUE in kinds:
        authorizations(selectors.reviews_due(on=on), WorklistKind.REVIEWS_DUE, lambda a: a.next_review_on)
    if WorklistKind.ENDING_SOON in kinds:
        authorizations(selectors.ending_soon(on=on), WorklistKind.ENDING_SOON, lambda a: a.covered_through)
    if WorklistKind.DENIALS in kinds:
        authorizations(selectors.denials_without_follow_up(on=on), WorklistKind.DENIALS, lambda a: a.denied_on)
    if WorklistKind.DAYS_NOT_COVERED in kinds:
        uncovered = selectors.uncovered_days_by_placement(on=on)
        placements(
            selectors.PlacementUnderReview.objects.filter(pk__in=list(uncovered)), WorklistKind.DAYS_NOT_COVERED,
            uncovered,
        )  # fmt: skip
    if WorklistKind.NEEDS_AUTHORIZATION in kinds:
        placements(selectors.needs_authorization(on=on), WorklistKind.NEEDS_AUTHORIZATION, {})
    return items


# --- billable units ---------------------------------------------------------------------------------------------


class BillableUnitSerializer(serializers.Serializer):
    patient_id = serializers.UUIDField()
    mrn = serializers.CharField()
    day = serializers.DateField()
    program = serializers.CharField()
    asam_level = serializers.CharField()
    revenue_code = serializers.CharField()
    hcpcs_code = serializers.CharField()
    attended_minutes = serializers.IntegerField(allow_null=True)
    payer = serializers.CharField()
    member_id = serializers.CharField()
    authorization = serializers.CharField(help_text='The covering authorization number, or "not covered".')


class BillableUnitQuerySerializer(serializers.Serializer):
    payer = PayerField(required=False)
    date_from = BoundedDateField(required=False)
    date_to = BoundedDateField(required=False)


class BillableUnits(StaffListView):
    """Billable units for a payer and a date range (at most 366 days; the last 30 days by default): one row per
    patient, day and code, with the authorization that covers it or "not covered". The admin streams it as CSV."""

    serializer_class = BillableUnitSerializer
    filter_backends: list = []  # rows come from a selector, filtered by BillableUnitQuerySerializer
    required_permissions = {"GET": "utilization.export_billable_units"}
    audit_category = AuditCategory.PAYER
    patient_attr = ""

    @extend_schema(parameters=[BillableUnitQuerySerializer])
    def get(self, request, *args, **kwargs):
        query = BillableUnitQuerySerializer(data=request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        end = query.validated_data.get("date_to") or clock.today()
        start = query.validated_data.get("date_from") or end - dt.timedelta(days=29)
        rows = list(
            selectors.billable_units(
                start=start, end=end, payer=query.validated_data.get("payer"), sites=access.visible_sites(request.user)
            )
        )
        page = self.paginate_queryset(rows)
        patients = Patient.objects.filter(public_id__in={row.patient_id for row in page}).values_list("pk", flat=True)
        self.audit(AuditAction.EXPORT, patients=list(patients), detail="billable units")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
