"""Schedule endpoints: the patient app's sessions and calendar feed; staff series, sessions, bookings,
attendance and the compliance lists."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView, RetrieveAPIView, get_object_or_404
from rest_framework.response import Response

from clinic import access, audit, clock
from clinic.api.fields import BlankChoicesAsNullMixin, LocalTimeField, OptionalChoiceField
from clinic.api.pagination import CursorPages
from clinic.api.permissions import IsPatient
from clinic.api.serializers import (
    BoundedDateField,
    BoundedDateTimeField,
    PatientRefSerializer,
    RefSerializer,
    ScopedPublicIdField,
    ScopedRelatedField,
    represent,
)
from clinic.api.staff import StaffDetailView, StaffListView, StaffView
from clinic.api.strict import BoundedIsoDateTimeFilter, StrictInputMixin
from clinic.models import AuditAction, AuditCategory, SiteMembership
from patients.models import Patient
from programs.models import Placement, Program
from scheduling import selectors, services
from scheduling.errors import InvalidAttendance
from scheduling.models import (
    Attendance,
    Booking,
    CalendarFeed,
    CancelReason,
    PatientResponse,
    Session,
    SessionKind,
    SessionSeries,
    SessionStatus,
)

# --- the patient app ---------------------------------------------------------------------------------------


class LocationSerializer(serializers.Serializer):
    name = serializers.CharField(source="session__series__program__site__name")
    address = serializers.CharField(source="session__series__program__site__address")
    phone = serializers.CharField(source="session__series__program__site__phone")
    room = serializers.CharField(source="session__room")


# What a session is, in the patient's language (issue 13); the /me/ views run with it active.
KIND_TITLES = {
    SessionKind.GROUP_THERAPY: _("Group therapy"),
    SessionKind.INDIVIDUAL_COUNSELLING: _("Individual counselling"),
    SessionKind.FAMILY_SESSION: _("Family session"),
    SessionKind.PSYCHOEDUCATION: _("Psychoeducation"),
    SessionKind.RELAPSE_PREVENTION: _("Relapse prevention"),
    SessionKind.OTHER: _("Other"),
}


class MySessionSerializer(serializers.Serializer):
    """One of your sessions. Worded plainly: the app may show it on a shared screen."""

    # Fed the dicts of ``scheduling.selectors.my_session_rows`` (no model instances: issue 17).
    id = serializers.UUIDField(source="public_id", read_only=True)
    title = serializers.SerializerMethodField()
    starts_at = serializers.DateTimeField(source="session__starts_at", read_only=True)
    ends_at = serializers.DateTimeField(source="session__ends_at", read_only=True)
    local_date = serializers.DateField(source="session__local_date", read_only=True)
    time_zone = serializers.CharField(source="session__series__program__time_zone", read_only=True)
    duration_minutes = serializers.IntegerField(source="session__duration_minutes", read_only=True)
    location = LocationSerializer(source="*", read_only=True)
    status = serializers.SerializerMethodField()
    attendance = OptionalChoiceField(choices=Attendance.choices, read_only=True)
    response = OptionalChoiceField(
        choices=PatientResponse.choices, source="patient_response", read_only=True, help_text="null until you answer."
    )
    responded_at = serializers.DateTimeField(source="patient_responded_at", read_only=True, allow_null=True)

    def get_title(self, row) -> str:
        kind = row["session__series__kind"]
        return str(KIND_TITLES.get(kind, SessionKind(kind).label))

    @extend_schema_field(serializers.ChoiceField(choices=["booked", "cancelled"]))
    def get_status(self, row) -> str:
        cancelled = row["cancelled_at"] is not None or row["session__status"] == SessionStatus.CANCELLED
        return "cancelled" if cancelled else "booked"


class MySessionFilter(django_filters.FilterSet):
    when = django_filters.ChoiceFilter(
        choices=[("upcoming", "Upcoming"), ("past", "Past"), ("all", "All")],
        method="by_time",
        help_text="upcoming (the default: not yet ended, nearest first), past (latest first) or all (oldest "
        "first). Without `when`, `updated_since` or a date filter, the list is the upcoming sessions.",
    )
    date_from = django_filters.DateFilter(field_name="session__local_date", lookup_expr="gte", label="From (date)")
    date_to = django_filters.DateFilter(field_name="session__local_date", lookup_expr="lte", label="To (date)")
    updated_since = BoundedIsoDateTimeFilter(
        method="changed_since",
        label="Changed since (an instant, ISO 8601)",
        help_text="Only sessions and bookings changed at or after this instant, cancelled ones included "
        "(with their status), past and upcoming, oldest first, so the app can keep its copy without "
        "refetching the whole schedule.",
    )

    class Meta:
        model = Booking
        fields = ["when", "date_from", "date_to", "updated_since"]

    # Asking for any of these says which sessions the app wants; without them, the upcoming ones.
    CHOOSERS = ("when", "date_from", "date_to", "updated_since")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not any(self.data.get(name) for name in self.CHOOSERS):
            queryset = self.upcoming(queryset)
        return queryset

    @staticmethod
    def upcoming(queryset):
        return queryset.filter(ends_at__gt=clock.now()).order_by("starts_at", "id")

    def changed_since(self, queryset, name, value):
        return queryset.filter(Q(updated_at__gte=value) | Q(session__updated_at__gte=value))

    def by_time(self, queryset, name, value):
        if value == "upcoming":
            return self.upcoming(queryset)
        if value == "past":
            return queryset.filter(ends_at__lte=clock.now()).order_by("-starts_at", "-id")
        return queryset


class _MySessionView(GenericAPIView):
    permission_classes = [IsPatient]
    serializer_class = MySessionSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Booking.objects.none()
        # Your bookings, and those ended because the clinic cancelled the session (so the app can say so).
        bookings = Booking.objects.filter(patient=self.request.user.patient)
        if "updated_since" not in self.request.query_params:
            bookings = bookings.filter(Q(cancelled_at__isnull=True) | Q(cancel_reason=CancelReason.SESSION_CANCELLED))
        # else: a sync sees every change, including bookings cancelled for any reason, so it can drop them.
        return bookings.order_by("starts_at", "id")

    def get_row(self) -> dict:
        """The booking in the URL as the serializer reads it (404 when it is not one of yours)."""
        return get_object_or_404(selectors.my_session_rows(self.get_queryset()), public_id=self.kwargs["id"])

    def _audit(self, action, row: dict | None = None) -> None:
        patient = self.request.user.patient
        # The audit names the booking by its type and public id; no need to load the row as a model for that.
        obj = Booking(pk=row["id"], public_id=row["public_id"]) if row is not None else None
        audit.record(self.request, action=action, category=AuditCategory.SCHEDULE, patients=[patient], obj=obj)


class MySessionList(_MySessionView, ListAPIView):
    """Your booked sessions: by default those not yet ended, nearest first (past ones with `when=past`).

    Pages follow the `next` and `previous` links; there is no total count, so a page costs the same
    however long your history is.
    """

    filterset_class = MySessionFilter
    pagination_class = CursorPages

    def filter_queryset(self, queryset):
        if not any(name in self.request.query_params for name in MySessionFilter.CHOOSERS):
            # The phone's usual request: nothing to validate, so no filter form to build (issue 17).
            return MySessionFilter.upcoming(queryset)
        return super().filter_queryset(queryset)

    def list(self, request, *args, **kwargs):
        page = None
        if not any(name in request.query_params for name in MySessionFilter.CHOOSERS):
            # The phone's usual request, the first page of upcoming sessions: one statement (issue 17).
            patient = request.user.patient
            page = self.paginator.first_page(
                request,
                ordering=selectors.UPCOMING_SESSIONS_ORDERING,
                fetch=lambda limit: selectors.upcoming_session_rows(patient=patient, limit=limit),
            )
        if page is None:
            page = self.paginate_queryset(selectors.my_session_rows(self.filter_queryset(self.get_queryset())))
        self._audit(AuditAction.VIEW)
        return self.get_paginated_response([represent(MySessionSerializer, row) for row in page])


class MySessionDetail(_MySessionView, RetrieveAPIView):
    """One of your sessions."""

    def retrieve(self, request, *args, **kwargs):
        row = self.get_row()
        self._audit(AuditAction.VIEW, row)
        return Response(self.get_serializer(row).data)


class ResponseSerializer(StrictInputMixin, serializers.Serializer):
    response = serializers.ChoiceField(choices=PatientResponse.choices, help_text="confirmed or declined.")


class MySessionResponse(_MySessionView):
    """Tell the clinic ahead of time whether you will come. You can change your answer until the session starts."""

    @extend_schema(request=ResponseSerializer, responses={200: MySessionSerializer})
    def post(self, request, id):
        booking = self.get_object()
        serializer = ResponseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.respond_to_booking(booking=booking, response=serializer.validated_data["response"])
        row = self.get_row()
        self._audit(AuditAction.CHANGE, row)
        return Response(self.get_serializer(row).data)


class CalendarFeedSerializer(serializers.Serializer):
    active = serializers.BooleanField()
    rotated_at = serializers.DateTimeField(allow_null=True)
    url = serializers.URLField(
        allow_null=True, help_text="The private address, shown only in the answer that creates it; keep it secret."
    )


class MyCalendarFeed(GenericAPIView):
    """Your private calendar address. POST makes a new one (the old one stops working); DELETE turns it off."""

    permission_classes = [IsPatient]
    serializer_class = CalendarFeedSerializer

    def _respond(self, *, url: str | None = None, code: int = 200) -> Response:
        patient = self.request.user.patient
        feed = CalendarFeed.objects.filter(patient=patient).first()
        data = {
            "active": bool(feed and feed.is_active),
            "rotated_at": feed.rotated_at if feed and feed.is_active else None,
            "url": url,
        }
        return Response(CalendarFeedSerializer(data).data, status=code)

    def _audit(self, action) -> None:
        patient = self.request.user.patient
        audit.record(self.request, action=action, category=AuditCategory.SCHEDULE, patients=[patient])

    def get(self, request):
        self._audit(AuditAction.VIEW)
        return self._respond()

    @extend_schema(request=None, responses={201: CalendarFeedSerializer})
    def post(self, request):
        token = services.issue_calendar_feed(patient=request.user.patient)
        self._audit(AuditAction.CHANGE)
        return self._respond(url=request.build_absolute_uri(reverse("calendar-feed", args=[token])), code=201)

    @extend_schema(responses={204: None})
    def delete(self, request):
        services.revoke_calendar_feed(patient=request.user.patient)
        self._audit(AuditAction.CHANGE)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- staff: series and sessions ------------------------------------------------------------------------------


class SeriesSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    program = RefSerializer(read_only=True)
    start_time = LocalTimeField(read_only=True)
    facilitator = serializers.CharField(source="facilitator.get_username", read_only=True)

    class Meta:
        model = SessionSeries
        fields = ["id", "program", "name", "kind", "rule", "start_time", "duration_minutes", "facilitator", "room"]
        fields += ["capacity", "starts_on", "ends_on", "books_enrolled", "generated_until"]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.STR)
class ColleagueField(ScopedRelatedField):
    """A staff member at one of the caller's sites, by username."""

    lookup_name = "username"
    record_name = "colleague"

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        kwargs.setdefault("queryset", get_user_model().objects.all())
        super().__init__(**kwargs)

    def scope(self, queryset, request):
        members = SiteMembership.objects.filter(site__in=access.visible_sites(request.user)).values("user")
        return queryset.filter(pk__in=members, is_active=True)


class SeriesCreateSerializer(StrictInputMixin, serializers.Serializer):
    program = ScopedPublicIdField(queryset=Program.objects.all())
    name = serializers.CharField(max_length=120, allow_blank=True, required=False, default="")
    kind = serializers.ChoiceField(choices=SessionKind.choices)
    rule = serializers.CharField(max_length=500, help_text="RFC 5545 RRULE, for example FREQ=WEEKLY;BYDAY=MO,WE,TH.")
    start_time = LocalTimeField()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=services.MAX_DURATION_MINUTES)
    facilitator = ColleagueField(required=False, help_text="Username; you by default.")
    capacity = serializers.IntegerField(min_value=1, max_value=1000)
    starts_on = BoundedDateField()
    ends_on = BoundedDateField(required=False, allow_null=True)
    room = serializers.CharField(max_length=60, allow_blank=True, required=False, default="")
    books_enrolled = serializers.BooleanField(required=False, default=True)


SERIES = SessionSeries.objects.select_related("program", "facilitator").order_by("program__name", "start_time", "id")


class SeriesFilter(django_filters.FilterSet):
    program = django_filters.UUIDFilter(field_name="program__public_id")

    class Meta:
        model = SessionSeries
        fields = ["program", "kind"]


class SeriesList(StaffListView):
    """Recurring sessions of your sites' programs. POST plans a new series (program admins)."""

    queryset = SERIES
    serializer_class = SeriesSerializer
    filterset_class = SeriesFilter
    required_permissions = {"POST": "scheduling.add_sessionseries"}
    patient_attr = ""

    @extend_schema(request=SeriesCreateSerializer, responses={201: SeriesSerializer})
    def post(self, request):
        serializer = SeriesCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.setdefault("facilitator", request.user)
        series = services.create_series(**data)
        return Response(self.get_serializer(SERIES.get(pk=series.pk)).data, status=status.HTTP_201_CREATED)


class SeriesDetail(StaffDetailView):
    """One recurring session."""

    queryset = SERIES
    serializer_class = SeriesSerializer
    patient_attr = ""


class SessionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    series = RefSerializer(read_only=True)
    kind = serializers.CharField(source="series.kind", read_only=True)
    program = RefSerializer(source="series.program", read_only=True)
    facilitator = serializers.CharField(source="facilitator.get_username", read_only=True)
    moved = serializers.BooleanField(source="is_moved", read_only=True)

    class Meta:
        model = Session
        fields = ["id", "series", "kind", "program", "starts_at", "ends_at", "local_date", "duration_minutes"]
        fields += ["status", "status_reason", "room", "facilitator", "capacity", "booked_count", "seats_left", "moved"]
        read_only_fields = fields


SESSIONS = Session.objects.select_related("series__program", "facilitator").order_by("starts_at", "id")


class SessionFilter(django_filters.FilterSet):
    series = django_filters.UUIDFilter(field_name="series__public_id")
    program = django_filters.UUIDFilter(field_name="series__program__public_id")
    site = django_filters.UUIDFilter(field_name="series__program__site__public_id")
    date_from = django_filters.DateFilter(field_name="local_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="local_date", lookup_expr="lte")

    class Meta:
        model = Session
        fields = ["series", "program", "site", "date_from", "date_to", "status"]


class SessionList(StaffListView):
    """Sessions of your sites' programs, by date."""

    queryset = SESSIONS
    serializer_class = SessionSerializer
    filterset_class = SessionFilter
    patient_attr = ""


class SessionDetail(StaffDetailView):
    """One session: when, where, seats taken."""

    queryset = SESSIONS
    serializer_class = SessionSerializer
    patient_attr = ""


class CancelSessionSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class MoveSessionSerializer(StrictInputMixin, serializers.Serializer):
    starts_at = BoundedDateTimeField(help_text="The new start, with its offset.")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class _SessionAction(StaffView):
    queryset = SESSIONS
    serializer_class = SessionSerializer
    required_permissions = {"POST": "scheduling.change_session"}
    audit_category = AuditCategory.SCHEDULE

    def _booked_patients(self, session: Session) -> list[int]:
        return list(Booking.objects.active().filter(session=session).values_list("patient_id", flat=True))

    def _respond(self, session: Session, patients: list[int], detail: str) -> Response:
        self.audit(AuditAction.CHANGE, patients=patients, obj=session, detail=detail)
        return Response(self.get_serializer(SESSIONS.get(pk=session.pk)).data)


class CancelSession(_SessionAction):
    """Cancel this one occurrence and its bookings; the series and its other sessions are untouched."""

    @extend_schema(request=CancelSessionSerializer, responses={200: SessionSerializer})
    def post(self, request, id):
        session = self.get_object()
        serializer = CancelSessionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patients = self._booked_patients(session)
        session = services.cancel_session(session=session, **serializer.validated_data)
        return self._respond(session, patients, "cancelled")


class MoveSession(_SessionAction):
    """Move this one occurrence to another time; its bookings move with it."""

    @extend_schema(request=MoveSessionSerializer, responses={200: SessionSerializer})
    def post(self, request, id):
        session = self.get_object()
        serializer = MoveSessionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session = services.move_session(session=session, **serializer.validated_data)
        return self._respond(session, self._booked_patients(session), "moved")


# --- staff: bookings and attendance ------------------------------------------------------------------------


class BookingSessionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    series = serializers.CharField(source="series.name", read_only=True)
    kind = serializers.CharField(source="series.kind", read_only=True)

    class Meta:
        model = Session
        fields = ["id", "series", "kind", "starts_at", "ends_at", "local_date", "status"]
        read_only_fields = fields


class BookingSerializer(BlankChoicesAsNullMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    session = BookingSessionSerializer(read_only=True)

    class Meta:
        model = Booking
        fields = ["id", "patient", "session", "source", "cancelled_at", "cancel_reason", "attendance"]
        fields += ["minutes_attended", "patient_response", "patient_responded_at"]
        read_only_fields = fields


BOOKINGS = Booking.objects.select_related("patient", "session__series").order_by("starts_at", "id")


class BookingFilter(django_filters.FilterSet):
    session = django_filters.UUIDFilter(field_name="session__public_id")
    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    date_from = django_filters.DateFilter(field_name="session__local_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="session__local_date", lookup_expr="lte")
    include_cancelled = django_filters.BooleanFilter(method="with_cancelled", help_text="Also cancelled bookings.")

    class Meta:
        model = Booking
        fields = ["session", "patient", "date_from", "date_to", "include_cancelled"]

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("include_cancelled"):
            queryset = queryset.filter(cancelled_at__isnull=True)
        return queryset

    def with_cancelled(self, queryset, name, value):
        return queryset  # applied in filter_queryset, so the default (active only) holds without the parameter


class BookingCreateSerializer(StrictInputMixin, serializers.Serializer):
    session = ScopedPublicIdField(queryset=Session.objects.all())
    patient = ScopedPublicIdField(queryset=Patient.objects.all())


class BookingList(StaffListView):
    """Bookings of your sites' patients (active ones unless asked). POST books one patient into one session."""

    queryset = BOOKINGS
    serializer_class = BookingSerializer
    filterset_class = BookingFilter
    required_permissions = {"POST": "scheduling.add_booking"}
    audit_category = AuditCategory.SCHEDULE

    @extend_schema(request=BookingCreateSerializer, responses={201: BookingSerializer})
    def post(self, request):
        serializer = BookingCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        booking = services.book_session(**serializer.validated_data)
        booking = BOOKINGS.get(pk=booking.pk)
        self.audit(AuditAction.CREATE, [booking], obj=booking)
        return Response(self.get_serializer(booking).data, status=status.HTTP_201_CREATED)


class CancelBooking(StaffView):
    """Take a patient out of one session (whoever may book may unbook); not booked into it again."""

    queryset = BOOKINGS
    serializer_class = BookingSerializer
    required_permissions = {"POST": "scheduling.add_booking"}
    audit_category = AuditCategory.SCHEDULE

    @extend_schema(request=None, responses={200: BookingSerializer})
    def post(self, request, id):
        booking = services.cancel_booking(booking=self.get_object())
        booking = self.get_object() if booking.cancelled_at is None else BOOKINGS.get(pk=booking.pk)
        self.audit(AuditAction.CHANGE, [booking], obj=booking, detail="cancelled")
        return Response(self.get_serializer(booking).data)


class MarkSerializer(StrictInputMixin, serializers.Serializer):
    patient = serializers.UUIDField()
    attendance = serializers.ChoiceField(choices=Attendance.choices)
    minutes_attended = serializers.IntegerField(min_value=0, max_value=24 * 60, required=False, allow_null=True)


class AttendanceSerializer(StrictInputMixin, serializers.Serializer):
    marks = MarkSerializer(many=True, allow_empty=False, max_length=500)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RecordAttendance(StaffView):
    """Take attendance for the whole session in one request. Changing a recorded mark needs a reason."""

    queryset = SESSIONS
    serializer_class = BookingSerializer
    required_permissions = {"POST": "scheduling.add_attendancerecord"}
    audit_category = AuditCategory.SCHEDULE

    @extend_schema(request=AttendanceSerializer, responses={200: BookingSerializer(many=True)})
    def post(self, request, id):
        session = self.get_object()
        serializer = AttendanceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marks = serializer.validated_data["marks"]
        booked = dict(
            Booking.objects.active()
            .filter(session=session, patient__public_id__in=[m["patient"] for m in marks])
            .values_list("patient__public_id", "patient_id")
        )
        unknown = [m["patient"] for m in marks if m["patient"] not in booked]
        if unknown:
            raise InvalidAttendance("A marked patient is not booked into this session.", field="marks")
        services.record_attendance(
            session=session,
            marks=[services.Mark(booked[m["patient"]], m["attendance"], m.get("minutes_attended")) for m in marks],
            recorded_by=request.user,
            reason=serializer.validated_data["reason"],
        )
        bookings = list(BOOKINGS.filter(session=session, cancelled_at__isnull=True))
        self.audit(AuditAction.CHANGE, patients=list(booked.values()), obj=session, detail="attendance")
        return Response(self.get_serializer(bookings, many=True).data)


# --- staff: compliance ----------------------------------------------------------------------------------------


class WeeklyHoursSerializer(serializers.Serializer):
    enrollment = serializers.UUIDField(source="enrollment.public_id")
    patient = PatientRefSerializer(source="enrollment.patient")
    program = RefSerializer(source="enrollment.program")
    week_start = serializers.DateField()
    scheduled_hours = serializers.DecimalField(max_digits=6, decimal_places=2)
    attended_hours = serializers.DecimalField(max_digits=6, decimal_places=2)
    minimum_hours = serializers.DecimalField(max_digits=4, decimal_places=1)
    maximum_hours = serializers.DecimalField(max_digits=4, decimal_places=1)
    adolescent = serializers.BooleanField()
    partial_week = serializers.BooleanField()


class BelowMinimumQuery(serializers.Serializer):
    basis = serializers.ChoiceField(choices=["scheduled", "attended"], default="scheduled", required=False)
    week_of = BoundedDateField(required=False, help_text="Any day of the week; this week by default.")
    program = ScopedPublicIdField(queryset=Program.objects.all(), required=False)
    include_partial_weeks = serializers.BooleanField(default=False, required=False)


class AbsenceRunSerializer(serializers.Serializer):
    enrollment = serializers.UUIDField(source="enrollment.public_id")
    patient = PatientRefSerializer(source="enrollment.patient")
    program = RefSerializer(source="enrollment.program")
    absences = serializers.IntegerField()
    last_absent_at = serializers.DateTimeField()


class AbsencesQuery(serializers.Serializer):
    n = serializers.IntegerField(min_value=1, max_value=20, default=2, required=False)
    program = ScopedPublicIdField(queryset=Program.objects.all(), required=False)


class _ComplianceView(StaffView, ListAPIView):
    queryset = Placement.objects.none()  # rows come from the selectors; this names the model for the schema
    audit_category = AuditCategory.SCHEDULE
    patient_attr = "enrollment.patient_id"
    query_serializer: type[serializers.Serializer]

    def list(self, request, *args, **kwargs):
        query = self.query_serializer(data=request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        options = dict(query.validated_data)
        program = options.pop("program", None)
        programs = access.visible_programs(request.user)
        if program is not None:
            programs = programs.filter(pk=program.pk)
        page = self.paginate_queryset(self.rows(programs=programs, **options))
        self.audit(AuditAction.VIEW, page, detail=self.filters_detail())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class BelowMinimum(_ComplianceView):
    """IOP patients under their weekly minimum hours (scheduled or attended), this week or a given one."""

    serializer_class = WeeklyHoursSerializer
    query_serializer = BelowMinimumQuery

    def rows(self, **options):
        return selectors.below_minimum(**options)

    @extend_schema(parameters=[BelowMinimumQuery])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ConsecutiveAbsences(_ComplianceView):
    """IOP patients whose last n recorded sessions were all absences (excused ones left out)."""

    serializer_class = AbsenceRunSerializer
    query_serializer = AbsencesQuery

    def rows(self, **options):
        return selectors.consecutive_absences(**options)

    @extend_schema(parameters=[AbsencesQuery])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
