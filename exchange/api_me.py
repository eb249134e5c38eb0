"""The patient's own record as FHIR (/api/v1/me/record/): the right of access (45 CFR 164.524)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from clinic import clock
from clinic.api.permissions import IsPatient
from exchange import resources, search, services
from exchange.readers import Reader

RECORD_TYPES = ("Patient", "EpisodeOfCare", "Encounter", "Appointment", "CarePlan", "Consent")


class MyRecord(GenericAPIView):
    """Everything we hold about you, as one FHIR R4 Bundle (for the app to offer as a download)."""

    permission_classes = [IsPatient]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="My whole record as a FHIR Bundle")
    def get(self, request):
        patient = request.user.patient
        reader, at = Reader(user=request.user), clock.now()
        base = request.build_absolute_uri("/fhir/R4/")
        entries = []
        for name in RECORD_TYPES:
            kind = search.TYPES[name]
            found = search.everything(kind, patient=patient, reader=reader, at=at)
            entries += [{"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r} for r in found]
            services.audit_read(request, reader, kind, [patient.pk] if found else [], at)
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": resources._instant(at),
            "meta": {"security": [resources.PART2_LABEL]},
            "entry": entries,
        }
        return Response(bundle, headers={"Content-Disposition": 'attachment; filename="my-record.json"'})
