"""Staff endpoints for patients: find, register, read and edit demographics; the access report."""

from __future__ import annotations

import functools

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from clinic import access, audit, clock
from clinic.api.fields import BlankChoicesAsNullMixin
from clinic.api.serializers import BoundedDateField, ScopedPublicIdField
from clinic.api.staff import StaffDetailView, StaffListView, StaffView
from clinic.api.strict import StrictInputMixin
from clinic.api.versioning import required_version
from clinic.models import AuditAction, AuditCategory, AuditEvent
from clinic.versioning import etag_for
from patients import selectors, services
from patients.api import IF_MATCH, PhoneInputField
from patients.models import Patient
from patients.validators import validate_time_zone
from programs.models import Placement, Site

PATIENT_FIELDS = [
    "id", "mrn", "legal_first_name", "legal_last_name", "preferred_name", "display_name", "date_of_birth",
    "phone", "email", "time_zone", "registered_site", "sms_allowed", "email_allowed", "push_allowed",
    "messaging_consent", "confidential_communication", "confidential_instructions", "created_at", "updated_at",
]  # fmt: skip
PATIENT_FIELDS += ["preferred_language"]  # issue 13


class PatientSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    registered_site = serializers.UUIDField(source="registered_site.public_id", read_only=True, allow_null=True)
    messaging_consent = serializers.BooleanField(source="has_messaging_consent", read_only=True)
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Patient
        fields = PATIENT_FIELDS
        read_only_fields = PATIENT_FIELDS


def _instant(value):
    # As DRF's DateTimeField writes it (in the current time zone, "Z" for UTC, microseconds kept).
    if value is None:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def patient_as_listed(row: dict) -> dict:
    """``PatientSerializer``'s answer, written straight from a ``patients.selectors.patient_rows`` row.

    The list's hot path (issue 17): DRF's per-field machinery took half of a 50-patient page's time.
    The schema still describes the list with ``PatientSerializer``, and a test holds every listed
    patient equal to their detail, which that serializer writes from the model.
    """
    site = row["registered_site__public_id"]
    return {
        "id": str(row["public_id"]),
        "mrn": row["mrn"],
        "legal_first_name": row["legal_first_name"],
        "legal_last_name": row["legal_last_name"],
        "preferred_name": row["preferred_name"],
        "display_name": row["display_name"],
        "date_of_birth": row["date_of_birth"].isoformat(),
        "phone": row["phone"],
        "email": row["email"],
        "time_zone": row["time_zone"],
        "registered_site": str(site) if site is not None else None,
        "sms_allowed": row["sms_allowed"],
        "email_allowed": row["email_allowed"],
        "push_allowed": row["push_allowed"],
        "messaging_consent": row["has_messaging_consent"],
        "confidential_communication": row["confidential_communication"],
        "confidential_instructions": row["confidential_instructions"],
        "created_at": _instant(row["created_at"]),
        "updated_at": _instant(row["updated_at"]),
        "preferred_language": row["preferred_language"],
    }


class PatientWriteSerializer(StrictInputMixin, serializers.ModelSerializer):
    """What staff may set. The service normalises the phone (E.164) and checks the rest."""

    phone = PhoneInputField()
    time_zone = serializers.CharField(validators=[validate_time_zone], required=False)
    date_of_birth = BoundedDateField()

    class Meta:
        model = Patient
        fields = [
            "legal_first_name", "legal_last_name", "preferred_name", "date_of_birth", "phone", "email", "time_zone",
            "sms_allowed", "email_allowed", "push_allowed", "confidential_communication", "confidential_instructions",
            "preferred_language",
        ]  # fmt: skip


class PatientCreateSerializer(PatientWriteSerializer):
    registered_site = ScopedPublicIdField(queryset=Site.objects.all(), help_text="One of the sites you work at.")

    class Meta(PatientWriteSerializer.Meta):
        fields = ["mrn", "registered_site", *PatientWriteSerializer.Meta.fields]
        # Uniqueness is the service's (and the database's) to decide: a taken MRN is a 409 conflict.
        extra_kwargs = {"mrn": {"validators": []}}


class PatientFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", help_text="Part of a name or the MRN.")
    site = django_filters.UUIDFilter(field_name="registered_site__public_id", help_text="Registered at this site.")
    program = django_filters.UUIDFilter(method="in_program", help_text="In this program today.")
    level = django_filters.ChoiceFilter(
        choices=[("residential", "Residential"), ("iop", "IOP")], method="at_level", help_text="Level of care today."
    )

    class Meta:
        model = Patient
        fields = ["q", "site", "program", "level"]

    def search(self, queryset, name, value):
        words = value.split()[:5]
        for word in words:
            queryset = queryset.filter(
                Q(legal_first_name__icontains=word)
                | Q(legal_last_name__icontains=word)
                | Q(preferred_name__icontains=word)
                | Q(mrn__iexact=word)
            )
        return queryset

    def _today(self, queryset, **lookups):
        in_force = Placement.objects.on(clock.today()).filter(**lookups).values("patient")
        return queryset.filter(pk__in=in_force)

    def in_program(self, queryset, name, value):
        return self._today(queryset, program__public_id=value)

    def at_level(self, queryset, name, value):
        return self._today(queryset, kind=value)


FILTERS = PatientFilter.Meta.fields


class PatientList(StaffListView):
    """Patients registered at or placed in your sites. POST registers a new patient."""

    queryset = Patient.objects.select_related("registered_site")
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    required_permissions = {"POST": "patients.add_patient"}
    audit_category = AuditCategory.DEMOGRAPHICS
    patient_attr = "pk"

    def list(self, request, *args, **kwargs):
        # Dicts from one values() query, not Patient and Site instances (issue 17); same serializer, same answer.
        rows = None
        user = request.user
        if access.role_of(user) in access.STAFF_ROLES and not any(f in request.query_params for f in FILTERS):
            # The usual request, a page of everyone at the caller's sites: one statement (issue 17).
            page = functools.partial(selectors.staff_patient_page, user_id=user.pk)
            rows = self.paginator.page_from_rows(request, fetch=lambda limit, offset: page(limit=limit, offset=offset))
        if rows is None:
            rows = self.paginate_queryset(selectors.patient_rows(self.filter_queryset(self.get_queryset())))
        self.audit(AuditAction.VIEW, patients=[row["id"] for row in rows], detail=self.filters_detail())
        return self.get_paginated_response([patient_as_listed(row) for row in rows])

    @extend_schema(request=PatientCreateSerializer, responses={201: PatientSerializer})
    def post(self, request):
        serializer = PatientCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        patient = services.register_patient(**serializer.validated_data)
        self.audit(AuditAction.CREATE, [patient], obj=patient, detail=", ".join(sorted(serializer.validated_data)))
        response = Response(PatientSerializer(patient).data, status=status.HTTP_201_CREATED)
        response["ETag"] = etag_for(patient)
        return response


class PatientDetail(StaffDetailView):
    """One patient's demographics and contact details. PATCH needs If-Match with the ETag you read."""

    queryset = Patient.objects.select_related("registered_site")
    serializer_class = PatientSerializer
    required_permissions = {"PATCH": "patients.change_patient"}
    audit_category = AuditCategory.DEMOGRAPHICS
    patient_attr = "pk"

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["ETag"] = etag_for(self.get_object())
        return response

    @extend_schema(request=PatientWriteSerializer, parameters=[IF_MATCH])
    def patch(self, request, id):
        patient = self.get_object()
        expected = required_version(request)
        serializer = PatientWriteSerializer(patient, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        patient = services.update_patient(patient=patient, expected_version=expected, **serializer.validated_data)
        self.audit(AuditAction.CHANGE, [patient], obj=patient, detail=", ".join(sorted(serializer.validated_data)))
        response = Response(PatientSerializer(patient).data)
        response["ETag"] = etag_for(patient)
        return response


class AccessEventSerializer(BlankChoicesAsNullMixin, serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["at", "username", "role", "action", "category", "object_type", "object_id", "path", "ip_address"]
        read_only_fields = fields


class AccessReport(StaffView):
    """Who looked at this patient's record: every recorded access, newest first (program admins)."""

    queryset = Patient.objects.all()
    serializer_class = AccessEventSerializer
    required_permissions = {"GET": "clinic.view_auditevent"}
    patient_attr = "pk"

    @extend_schema(responses={200: AccessEventSerializer(many=True)})
    def get(self, request, id):
        patient = self.get_object()
        # The patient is in the admin's scope (get_object) and the role holds clinic.view_auditevent.
        events = audit.access_report(patient=patient)
        page = self.paginate_queryset(events)
        audit.record(request, action=AuditAction.VIEW, category=AuditCategory.AUDIT, patients=[patient], obj=patient)
        return self.get_paginated_response(AccessEventSerializer(page, many=True).data)
