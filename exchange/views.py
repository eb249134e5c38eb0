"""The FHIR R4 endpoints under /fhir/R4/: capability statement, read, search, bulk export, client tokens.

Thin views: parameters are parsed by ``exchange.search``, writes go through
``exchange.services``, and every answer is FHIR JSON (errors as OperationOutcome).
"""

from __future__ import annotations

import base64
import json

from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication

from clinic import access, clock
from clinic.errors import InvalidInput, NotFound
from exchange import resources, search, services
from exchange.auth import ClientTokenAuthentication
from exchange.models import ExportStatus
from exchange.outcome import classify, operation_outcome
from exchange.readers import Reader, readable_patients, reader_of

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir"


class IsFhirReader(BasePermission):
    """Staff (scoped to their sites) and registered API clients (gated by consent); patients use /me/record/."""

    message = (
        "The FHIR API is for clinic staff and registered organisations; patients download their record in the app."
    )

    def has_permission(self, request, view) -> bool:
        return getattr(request.user, "is_api_client", False) or access.is_staff_member(request.user)


class CanBulkExport(BasePermission):
    message = "Bulk export is for program admins and registered organisations."

    def has_permission(self, request, view) -> bool:
        if getattr(request.user, "is_api_client", False):
            return True
        return access.role_of(request.user) in (access.Role.PROGRAM_ADMIN, access.Role.SUPERUSER)


@extend_schema(exclude=True)  # FHIR's contract is its CapabilityStatement, not the REST API's OpenAPI schema
class FhirView(APIView):
    authentication_classes = [ClientTokenAuthentication, JWTAuthentication]
    permission_classes = [IsFhirReader]
    renderer_classes = [FhirJSONRenderer, JSONRenderer]

    def handle_exception(self, exc):
        answer = classify(exc)
        if answer is None:
            return super().handle_exception(exc)
        status, code, message, expression, headers = answer
        return Response(operation_outcome(code, message, expression=expression), status=status, headers=headers)

    @property
    def reader(self) -> Reader:
        return reader_of(self.request.user)

    def base_url(self) -> str:
        return self.request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("metadata")

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(request.user, "is_api_client", False):
            # 42 CFR 2.32: every disclosure carries the notice that prohibits redisclosure.
            response["X-Redisclosure-Notice"] = resources.REDISCLOSURE_NOTICE
        return response

    def labelled(self, resource: dict) -> dict:
        if self.reader.is_client and resource.get("resourceType") != "OperationOutcome":
            meta = resource.setdefault("meta", {})
            labels = meta.setdefault("security", [])
            for label in (resources.PART2_LABEL, resources.NO_REDISCLOSURE_LABEL):
                if label not in labels:
                    labels.append(label)
        return resource


class MetadataView(FhirView):
    """The CapabilityStatement: exactly what this server supports. Public, as FHIR expects."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(capability_statement(self.base_url()))


def capability_statement(base: str) -> dict:
    kinds = []
    for kind in search.TYPES.values():
        params = [
            {"name": name, "type": _param_type(name)} for name in (*search.COMMON_PARAMETERS[:2], *kind.parameters)
        ]
        entry = {
            "type": kind.name,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": params,
        }
        if kind.includes:
            entry["searchInclude"] = list(kind.includes)
        if kind.name == "Patient":
            entry["operation"] = [
                {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"}
            ]
        kinds.append(entry)
    kinds.append(
        {
            "type": "Group",
            "operation": [
                {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"}
            ],
        }
    )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": clock.now().date().isoformat(),
        "publisher": resources.organization()["name"],
        "kind": "instance",
        "implementation": {"description": "Clinic programs FHIR R4 API (read-only)", "url": base},
        "fhirVersion": resources.FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ],
                    "description": (
                        "Staff: a JWT from /api/v1/auth/token/. Other organisations: OAuth2 client credentials at "
                        f"{base}auth/token; they receive only patients whose 42 CFR Part 2 consent in force names them."
                    ),
                },
                "resource": kinds,
            }
        ],
    }


def _param_type(name: str) -> str:
    return {"_id": "token", "_lastUpdated": "date", "date": "date", "patient": "reference"}.get(name, "token")


def _check_type(type_name: str) -> search.ResourceType:
    return search.resource_type(type_name)


class SearchView(FhirView):
    def get(self, request, type_name: str):
        kind = _check_type(type_name)
        query = search.parse(kind, _pairs(request))
        at = clock.now()
        page = search.run(kind, query, reader=self.reader, at=at)
        services.audit_read(request, self.reader, kind, search.patient_ids_of(page.rows), at)
        services.audit_read(request, self.reader, search.TYPES["Patient"], [p.pk for p in page.included_rows], at)
        return Response(self.labelled(self.bundle(kind, query, page)))

    def bundle(self, kind, query, page) -> dict:
        base = self.base_url()
        entries = [
            {
                "fullUrl": f"{base}{r['resourceType']}/{r['id']}",
                "resource": self.labelled(r),
                "search": {"mode": "match"},
            }
            for r in page.resources
        ]
        entries += [
            {"fullUrl": f"{base}Patient/{r['id']}", "resource": self.labelled(r), "search": {"mode": "include"}}
            for r in map(resources.patient, page.included_rows)
        ]
        links = [{"relation": "self", "url": self._page_url(kind, query.page)}]
        if query.page > 1:
            links.append({"relation": "previous", "url": self._page_url(kind, query.page - 1)})
        if query.page * query.count < page.total:
            links.append({"relation": "next", "url": self._page_url(kind, query.page + 1)})
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "meta": {"lastUpdated": resources._instant(clock.now())},
            "total": page.total,
            "link": links,
            "entry": entries,
        }

    def _page_url(self, kind, number: int) -> str:
        params = [(k, v) for k, v in _pairs(self.request) if k != "_page"] + [("_page", str(number))]
        from urllib.parse import urlencode

        return f"{self.base_url()}{kind.name}?{urlencode(params)}"


def _pairs(request) -> list[tuple[str, str]]:
    return [(key, value) for key, values in request.query_params.lists() for value in values]


class ReadView(FhirView):
    def get(self, request, type_name: str, resource_id: str):
        kind = _check_type(type_name)
        at = clock.now()
        found = search.read(kind, resource_id, reader=self.reader, at=at)
        if found is None:
            # The same answer for "does not exist" and "not yours to see": no hint that a patient exists.
            raise NotFound(f"No {kind.name} with id {resource_id} that you may read.")
        resource, row = found
        services.audit_read(request, self.reader, kind, search.patient_ids_of([row] if row is not None else []), at)
        return Response(
            self.labelled(resource), headers={"ETag": f'W/"{resource.get("meta", {}).get("versionId", "")}"'}
        )


# --- Bulk export -----------------------------------------------------------------------------------------


class ExportView(FhirView):
    permission_classes = [CanBulkExport]

    def get(self, request, group_id: str | None = None):
        if "respond-async" not in request.headers.get("Prefer", ""):
            raise InvalidInput("Bulk export runs in the background: send the header Prefer: respond-async.")
        params = dict(_pairs(request))
        allowed = {"_type", "_since", "_outputFormat"}
        for name in params:
            if name not in allowed:
                raise search.UnsupportedParameter(
                    f"The export parameter {name!r} is not supported; supported: {', '.join(sorted(allowed))}.",
                    code="not-supported",
                    field=name,
                )
        output_format = params.get("_outputFormat", NDJSON)
        if output_format not in (NDJSON, "application/ndjson", "ndjson"):
            raise InvalidInput("Only NDJSON is offered (_outputFormat=application/fhir+ndjson).", field="_outputFormat")
        since = None
        if "_since" in params:
            try:
                since = parse_datetime(params["_since"])
            except ValueError:
                since = None
            if since is None or since.tzinfo is None:
                raise InvalidInput(
                    "_since must be an instant with its offset, e.g. 2026-12-01T00:00:00Z.", field="_since"
                )
            since = search.checked_instant("_since", since)
        types = [t.strip() for t in params["_type"].split(",") if t.strip()] if "_type" in params else []
        program = self._program(group_id) if group_id is not None else None
        export = services.start_export(
            reader=self.reader,
            request_url=request.build_absolute_uri(),
            types=types or list(services.EXPORT_TYPES),
            since=since,
            program=program,
        )
        status_url = request.build_absolute_uri(reverse("fhir:export-status", args=[export.public_id]))
        return Response(status=202, headers={"Content-Location": status_url})

    def _program(self, group_id: str):
        from programs.models import Program

        programs = Program.objects.all()
        if not self.reader.is_client:
            programs = access.scope_queryset(programs, user=self.request.user)
        program = programs.filter(public_id=group_id).first() if search.is_uuid(group_id) else None
        if program is None:
            raise NotFound(f"No Group with id {group_id} (a program's patients) that you may export.")
        return program


class ExportStatusView(FhirView):
    permission_classes = [CanBulkExport]

    def get(self, request, export_id):
        export = services.visible_export(reader=self.reader, public_id=export_id)
        if export.status in (ExportStatus.ACCEPTED, ExportStatus.RUNNING):
            return Response(status=202, headers={"X-Progress": export.status, "Retry-After": "5"})
        if export.status == ExportStatus.CANCELLED or (export.expires_at and export.expires_at <= clock.now()):
            raise NotFound("This export was deleted or has expired; ask for a new one.")
        if export.status == ExportStatus.FAILED:
            return Response(operation_outcome("exception", export.error), status=500)
        return Response(
            {
                "transactionTime": resources._instant(export.transaction_time),
                "request": export.request_url,
                "requiresAccessToken": True,
                "output": [
                    {
                        "type": item["type"],
                        "url": request.build_absolute_uri(
                            reverse("fhir:export-file", args=[export.public_id, item["type"]])
                        ),
                        "count": item["count"],
                    }
                    for item in export.output
                ],
                "error": [],
            },
            headers={"Expires": export.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")},
        )

    def delete(self, request, export_id):
        export = services.visible_export(reader=self.reader, public_id=export_id)
        services.delete_export(export=export)
        return Response(status=202)


class ExportFileView(FhirView):
    permission_classes = [CanBulkExport]

    def get(self, request, export_id, type_name: str):
        export = services.visible_export(reader=self.reader, public_id=export_id)
        if export.status != ExportStatus.COMPLETED or not export.expires_at or export.expires_at <= clock.now():
            raise NotFound("This export is not ready, was deleted or has expired.")
        if type_name not in [item["type"] for item in export.output]:
            raise NotFound(f"This export has no {type_name} file.")
        path = services.export_dir(export) / f"{type_name}.ndjson"
        if not path.exists():
            raise NotFound("This export's files have been deleted.")
        if not self.reader.is_client:
            return FileResponse(path.open("rb"), content_type=NDJSON)
        # A consent revoked since the export ran takes effect at once: its patient's lines are left out.
        kind = search.TYPES[type_name]
        allowed = {
            str(public_id)
            for public_id in readable_patients(self.reader, at=clock.now(), information=kind.information).values_list(
                "public_id", flat=True
            )
        }
        return StreamingHttpResponse(_lines_for(path, allowed), content_type=NDJSON)


def _lines_for(path, allowed: set[str]):
    with path.open("rb") as lines:
        for line in lines:
            if patient_of(json.loads(line)) in allowed:
                yield line


def patient_of(resource: dict) -> str | None:
    """The patient id a compartment resource is about."""
    if resource["resourceType"] == "Patient":
        return resource["id"]
    for key in ("patient", "subject"):
        if key in resource:
            return resource[key]["reference"].split("/", 1)[1]
    for participant in resource.get("participant", []):
        reference = participant.get("actor", {}).get("reference", "")
        if reference.startswith("Patient/"):
            return reference.split("/", 1)[1]
    return None


# --- OAuth2 client credentials ---------------------------------------------------------------------------


class TokenView(APIView):
    """POST grant_type=client_credentials with client_id and client_secret (form body or HTTP Basic)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(exclude=True)
    def post(self, request):
        data = request.data
        if data.get("grant_type") != "client_credentials":
            return Response(
                {"error": "unsupported_grant_type", "error_description": "Use grant_type=client_credentials."},
                status=400,
            )
        client_id, secret = data.get("client_id", ""), data.get("client_secret", "")
        basic = request.headers.get("Authorization", "")
        if basic.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id, secret = "", ""
        try:
            token, lifetime = services.issue_token(client_id=str(client_id), client_secret=str(secret))
        except services.InvalidClient:
            return Response(
                {"error": "invalid_client", "error_description": "Unknown client or wrong secret."},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="fhir"'},
            )
        return Response(
            {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": "system/*.read"},
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def handle_exception(self, exc):
        answer = classify(exc)
        if answer is None:
            return super().handle_exception(exc)
        status, _, message, _, headers = answer
        return Response({"error": "invalid_request", "error_description": message}, status=status, headers=headers)
