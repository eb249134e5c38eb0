"""Staff endpoints for admissions: referrals and their decisions, the waitlist, reservations, the census over time.

Thin views: a serializer validates, a service acts, an output serializer answers. Querysets pass through
``clinic.access`` (the caller's sites) and every read or change of a referral or reservation is audited.
Front desk may create referrals and reservations and cancel a reservation; the clinical decisions
(screening, accepting, declining, reordering, admitting) need a clinical role, and front desk sees
``"clinical": null`` where the referral's notes and reasons are.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from admissions import selectors, services
from admissions.models import Referral, ReferralSource, ReferralStatus, Reservation
from clinic import access, clock
from clinic.api.serializers import (
    BoundedDateField,
    BoundedDateTimeField,
    ClinicalDetailMixin,
    PatientRefSerializer,
    RefSerializer,
    ScopedPublicIdField,
)
from clinic.api.staff import StaffDetailView, StaffListView, StaffView
from clinic.api.strict import StrictInputMixin
from clinic.errors import InvalidInput
from clinic.models import AuditAction, AuditCategory
from patients.models import Patient
from programs.models import Bed, Program, Site

# --- referrals ----------------------------------------------------------------------------------------


class ReferralClinicalSerializer(serializers.Serializer):
    notes = serializers.CharField()
    decision_reason = serializers.CharField()
    decided_by = serializers.CharField(source="decided_by.get_username", allow_null=True, default=None)


class ReferralSerializer(ClinicalDetailMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    program = RefSerializer(read_only=True)
    patient = PatientRefSerializer(read_only=True, allow_null=True)
    days_waiting = serializers.SerializerMethodField()
    clinical = ReferralClinicalSerializer(source="*", read_only=True, allow_null=True)
    # As given, and "" when none was: a plain string in the schema, since "" is no e-mail address.
    email = serializers.CharField(read_only=True)

    class Meta:
        model = Referral
        fields = ["id", "program", "requested_level", "source", "referred_on", "patient", "first_name", "last_name"]
        fields += ["date_of_birth", "phone", "email", "referrer_name", "status", "priority", "contacted_at"]
        fields += ["accepted_on", "days_waiting", "closed_on", "decided_at", "clinical"]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_days_waiting(self, referral) -> int | None:
        if referral.status != ReferralStatus.ACCEPTED:
            return None
        return selectors.days_waiting(referral, today=clock.local_today(referral.program.time_zone))


REFERRALS = Referral.objects.select_related("program", "patient", "decided_by")


class ReferralFilter(django_filters.FilterSet):
    program = django_filters.UUIDFilter(field_name="program__public_id")
    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    status = django_filters.ChoiceFilter(choices=ReferralStatus.choices)

    class Meta:
        model = Referral
        fields = ["program", "patient", "status"]


class ReferralCreateSerializer(StrictInputMixin, serializers.Serializer):
    program = ScopedPublicIdField(queryset=Program.objects.all())
    source = serializers.ChoiceField(choices=ReferralSource.choices)
    referred_on = BoundedDateField()
    patient = ScopedPublicIdField(queryset=Patient.objects.all(), required=False, allow_null=True)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    date_of_birth = BoundedDateField(required=False, allow_null=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    referrer_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    priority = serializers.IntegerField(min_value=1, max_value=5, required=False)


def _valid(serializer_class, request, view) -> dict:
    serializer = serializer_class(data=request.data, context=view.get_serializer_context())
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class _ReferralView(StaffView):
    queryset = REFERRALS
    serializer_class = ReferralSerializer
    audit_category = AuditCategory.CLINICAL

    def _answer(self, referral: Referral, *, action: str, detail: str = "", code: int = 200) -> Response:
        referral = self.get_queryset().get(pk=referral.pk)
        self.audit(action, [referral], obj=referral, detail=detail)
        return Response(self.get_serializer(referral).data, status=code)


class ReferralList(_ReferralView, StaffListView):
    """Referrals to your sites' programs. POST records a new one (front desk and up)."""

    filterset_class = ReferralFilter
    required_permissions = {"GET": "admissions.view_referral", "POST": "admissions.add_referral"}

    @extend_schema(request=ReferralCreateSerializer, responses={201: ReferralSerializer})
    def post(self, request):
        data = _valid(ReferralCreateSerializer, request, self)
        referral = services.create_referral(created_by=request.user, **data)
        return self._answer(referral, action=AuditAction.CREATE, code=status.HTTP_201_CREATED)


class ReferralDetail(_ReferralView, StaffDetailView):
    """One referral (its notes and reasons only for clinical roles)."""

    required_permissions = {"GET": "admissions.view_referral"}


class ScreenReferral(_ReferralView):
    """First contact: new → screening."""

    required_permissions = {"POST": "admissions.change_referral"}

    @extend_schema(request=None, responses={200: ReferralSerializer})
    def post(self, request, id):
        referral = services.start_screening(referral=self.get_object(), by=request.user)
        return self._answer(referral, action=AuditAction.CHANGE, detail="status: screening")


class AcceptSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    patient = ScopedPublicIdField(
        queryset=Patient.objects.all(), required=False, help_text="The existing patient this person is."
    )
    mrn = serializers.CharField(max_length=32, required=False, allow_blank=True, help_text="To register the person.")
    confirm_new_person = serializers.BooleanField(required=False, default=False)
    priority = serializers.IntegerField(min_value=1, max_value=5, required=False)


class AcceptReferral(_ReferralView):
    """Accept a screened referral onto the waitlist; registers the person (possible duplicates are a 409)."""

    required_permissions = {"POST": "admissions.change_referral"}

    @extend_schema(request=AcceptSerializer, responses={200: ReferralSerializer})
    def post(self, request, id):
        referral = self.get_object()
        data = _valid(AcceptSerializer, request, self)
        patient = data.pop("patient", None)
        if patient is not None:
            referral = services.link_patient(referral=referral, patient=patient, by=request.user)
        referral = services.accept_referral(referral=referral, by=request.user, **data)
        return self._answer(referral, action=AuditAction.CHANGE, detail="status: accepted")


class CloseSerializer(StrictInputMixin, serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[
            (s.value, s.label) for s in (ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN, ReferralStatus.NO_RESPONSE)
        ]
    )
    reason = serializers.CharField(max_length=2000)


class CloseReferral(_ReferralView):
    """Decline, withdraw or mark no response, with the reason (a held reservation is released)."""

    required_permissions = {"POST": "admissions.change_referral"}

    @extend_schema(request=CloseSerializer, responses={200: ReferralSerializer})
    def post(self, request, id):
        data = _valid(CloseSerializer, request, self)
        referral = services.close_referral(referral=self.get_object(), by=request.user, **data)
        return self._answer(referral, action=AuditAction.CHANGE, detail=f"status: {referral.status}")


class PrioritySerializer(StrictInputMixin, serializers.Serializer):
    priority = serializers.IntegerField(min_value=1, max_value=5)
    reason = serializers.CharField(max_length=2000)


class ReprioritiseReferral(_ReferralView):
    """Move a waitlisted referral up or down (1 is the most urgent); the reason is kept."""

    required_permissions = {"POST": "admissions.change_referral"}

    @extend_schema(request=PrioritySerializer, responses={200: ReferralSerializer})
    def post(self, request, id):
        data = _valid(PrioritySerializer, request, self)
        referral = services.set_priority(referral=self.get_object(), by=request.user, **data)
        return self._answer(referral, action=AuditAction.CHANGE, detail="priority")


class WaitlistFilter(django_filters.FilterSet):
    program = django_filters.UUIDFilter(field_name="program__public_id")

    class Meta:
        model = Referral
        fields = ["program"]


class Waitlist(_ReferralView, StaffListView):
    """Accepted referrals waiting, per program in order: priority, then the day they were accepted."""

    filterset_class = WaitlistFilter
    required_permissions = {"GET": "admissions.view_referral"}

    def get_queryset(self):
        waiting = selectors.waitlist().select_related("decided_by")
        return access.scope_queryset(waiting, user=self.request.user)


# --- reservations ---------------------------------------------------------------------------------------


class ReservationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    referral = serializers.UUIDField(source="referral.public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    program = RefSerializer(read_only=True)
    bed = serializers.SerializerMethodField()
    stay = serializers.UUIDField(source="placement.public_id", read_only=True, allow_null=True)

    class Meta:
        model = Reservation
        fields = ["id", "referral", "patient", "program", "bed", "start_on", "planned_end_on", "expires_at"]
        fields += ["status", "stay", "closed_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="The bed's label (residential only)."))
    def get_bed(self, reservation) -> str | None:
        return reservation.bed.label if reservation.bed_id else None


RESERVATIONS = Reservation.objects.select_related("referral", "patient", "program", "bed", "placement")


class ReservationFilter(django_filters.FilterSet):
    program = django_filters.UUIDFilter(field_name="program__public_id")
    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    status = django_filters.ChoiceFilter(choices=Reservation._meta.get_field("status").choices)

    class Meta:
        model = Reservation
        fields = ["program", "patient", "status"]


class ReserveSerializer(StrictInputMixin, serializers.Serializer):
    referral = ScopedPublicIdField(queryset=Referral.objects.select_related("program"))
    bed = ScopedPublicIdField(queryset=Bed.objects.select_related("program"), required=False, allow_null=True)
    start_on = BoundedDateField()
    planned_end_on = BoundedDateField(required=False, allow_null=True)
    expires_at = BoundedDateTimeField()


class _ReservationView(StaffView):
    queryset = RESERVATIONS
    serializer_class = ReservationSerializer
    audit_category = AuditCategory.SCHEDULE


class ReservationList(_ReservationView, StaffListView):
    """Bed and seat reservations at your sites. POST holds a bed (or an IOP seat) for a waitlisted patient."""

    filterset_class = ReservationFilter
    required_permissions = {"GET": "admissions.view_reservation", "POST": "admissions.add_reservation"}

    @extend_schema(request=ReserveSerializer, responses={201: ReservationSerializer})
    def post(self, request):
        data = _valid(ReserveSerializer, request, self)
        reservation = services.reserve(reserved_by=request.user, **data)
        reservation = self.get_queryset().get(pk=reservation.pk)
        self.audit(AuditAction.CREATE, [reservation], obj=reservation)
        return Response(self.get_serializer(reservation).data, status=status.HTTP_201_CREATED)


class ReservationDetail(_ReservationView, StaffDetailView):
    """One reservation."""

    required_permissions = {"GET": "admissions.view_reservation"}


class AdmitReservationSerializer(StrictInputMixin, serializers.Serializer):
    admitted_on = BoundedDateField(required=False)


class AdmitReservation(_ReservationView):
    """Admit the reserved patient: the reservation becomes the stay (or the IOP enrollment) in one step."""

    required_permissions = {"POST": "programs.add_placement"}
    audit_category = AuditCategory.CLINICAL

    @extend_schema(request=AdmitReservationSerializer, responses={200: ReservationSerializer})
    def post(self, request, id):
        data = _valid(AdmitReservationSerializer, request, self)
        services.admit_reservation(reservation=self.get_object(), admitted_by=request.user, **data)
        reservation = self.get_object()
        self.audit(AuditAction.CREATE, [reservation], obj=reservation.placement, detail="admitted from reservation")
        return Response(self.get_serializer(reservation).data)


class ReasonSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class CancelReservation(_ReservationView):
    """Release a held bed or seat; the patient stays on the waitlist."""

    required_permissions = {"POST": "admissions.change_reservation"}

    @extend_schema(request=ReasonSerializer, responses={200: ReservationSerializer})
    def post(self, request, id):
        data = _valid(ReasonSerializer, request, self)
        services.cancel_reservation(reservation=self.get_object(), by=request.user, **data)
        reservation = self.get_object()
        self.audit(AuditAction.CHANGE, [reservation], obj=reservation, detail="status: cancelled")
        return Response(self.get_serializer(reservation).data)


# --- the census over time ---------------------------------------------------------------------------------

DEFAULT_FORECAST_DAYS = 14
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
RANGE_PARAMETERS = [
    OpenApiParameter("from", dt.date, description="First day (default: today)."),
    OpenApiParameter("to", dt.date, description="Last day, at most 366 days in all (default: 13 days after from)."),
]


class CensusDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    forecast = serializers.BooleanField(help_text="After today: planned discharges and reservations assumed.")
    patients = serializers.IntegerField()
    beds_occupied = serializers.IntegerField()
    reserved = serializers.IntegerField()
    waiting = serializers.IntegerField()
    beds_in_service = serializers.IntegerField()
    free = serializers.IntegerField(help_text="Free beds (residential) or seats (outpatient).")


class CensusTotalSerializer(serializers.Serializer):
    day = serializers.DateField()
    forecast = serializers.BooleanField()
    patients = serializers.IntegerField()
    beds_occupied = serializers.IntegerField()
    reserved = serializers.IntegerField()
    waiting = serializers.IntegerField()
    beds_in_service = serializers.IntegerField()
    free_beds = serializers.IntegerField()
    free_seats = serializers.IntegerField()


class _RangeAnswer(serializers.Serializer):
    to = serializers.DateField()
    today = serializers.DateField(help_text="Days after this one are forecast.")


class ProgramCensusAnswer(_RangeAnswer):
    program = serializers.UUIDField()
    days = CensusDaySerializer(many=True)


class SiteCensusAnswer(_RangeAnswer):
    site = serializers.UUIDField()
    days = CensusTotalSerializer(many=True)


class ProgramCensusRow(serializers.Serializer):
    program = RefSerializer()
    site = RefSerializer()
    days = CensusDaySerializer(many=True)


class AllCensusAnswer(_RangeAnswer):
    results = ProgramCensusRow(many=True)
    total = CensusTotalSerializer(many=True)


for _answer in (ProgramCensusAnswer, SiteCensusAnswer, AllCensusAnswer):
    _answer._declared_fields["from"] = serializers.DateField()


class RangeSerializer(serializers.Serializer):
    # Not BoundedDateField's window: a census reaches back as far as there are placements.
    to = serializers.DateField(required=False)


# "from" is a Python keyword, so the field is declared by name.
RangeSerializer._declared_fields["from"] = serializers.DateField(required=False)


class _CensusView(StaffView):
    patient_attr = ""  # counts, not patient data

    def _range(self, today: dt.date) -> tuple[dt.date, dt.date]:
        serializer = RangeSerializer(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        start = serializer.validated_data.get("from") or today
        end = serializer.validated_data.get("to")
        for day, name in ((start, "from"), (end, "to")):
            if day is not None and not EARLIEST <= day <= LATEST:
                raise InvalidInput(f"Give dates between {EARLIEST} and {LATEST}.", field=name)
        return start, end or start + dt.timedelta(days=DEFAULT_FORECAST_DAYS - 1)

    def _census(self, programs, *, today: dt.date):
        start, end = self._range(today)
        rows = selectors.census_over_time(programs=programs, start=start, end=end, today=today, now=clock.now())
        return start, end, rows


def _days(rows) -> list[dict]:
    return CensusDaySerializer(
        [
            {
                "day": r.day,
                "forecast": r.forecast,
                "patients": r.patients,
                "beds_occupied": r.beds_occupied,
                "reserved": r.reserved,
                "waiting": r.waiting,
                "beds_in_service": r.beds_in_service,
                "free": r.free,
            }
            for r in rows
        ],
        many=True,
    ).data


def _totals(rows) -> list[dict]:
    return CensusTotalSerializer(selectors.totals(rows), many=True).data


class ProgramCensusOverTime(_CensusView):
    """One program's census for each day of a range: the past as it was, the future as planned."""

    queryset = Program.objects.select_related("site")
    required_permissions = {"GET": "programs.view_program"}

    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: ProgramCensusAnswer})
    def get(self, request, id):
        program = self.get_object()
        today = clock.local_today(program.time_zone)
        start, end, rows = self._census([program], today=today)
        return Response(
            {"program": str(program.public_id), "from": start, "to": end, "today": today, "days": _days(rows)}
        )


class SiteCensusOverTime(_CensusView):
    """A site's census for each day of a range, summed over its active programs."""

    queryset = Site.objects.all()
    required_permissions = {"GET": "programs.view_site"}

    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: SiteCensusAnswer})
    def get(self, request, id):
        site = self.get_object()
        today = clock.local_today(site.time_zone)
        programs = list(site.programs.filter(is_active=True).order_by("name"))
        start, end, rows = self._census(programs, today=today)
        return Response({"site": str(site.public_id), "from": start, "to": end, "today": today, "days": _totals(rows)})


class CensusOverTime(_CensusView):
    """Every program at your sites, each day of a range, with the total over them (one query)."""

    queryset = Program.objects.select_related("site")
    required_permissions = {"GET": "programs.view_program"}

    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: AllCensusAnswer})
    def get(self, request):
        programs = list(self.get_queryset().filter(is_active=True).order_by("site__name", "name"))
        today = clock.today()
        start, end, rows = self._census(programs, today=today)
        by_program: dict[int, list] = {}
        for row in rows:
            by_program.setdefault(row.program_id, []).append(row)
        results = [
            {
                "program": {"id": str(p.public_id), "name": p.name},
                "site": {"id": str(p.site.public_id), "name": p.site.name},
                "days": _days(by_program.get(p.pk, [])),
            }
            for p in programs
        ]
        return Response({"from": start, "to": end, "today": today, "results": results, "total": _totals(rows)})
