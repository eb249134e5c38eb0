"""Writes of the FHIR layer: registering API clients, issuing their tokens, and bulk exports."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import shutil
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction

from clinic import audit, clock
from clinic.errors import Conflict, InvalidInput, NotFound
from clinic.models import AuditAction
from exchange import search
from exchange.models import ACTIVE_EXPORT_STATUSES, ApiClient, BulkExport, ClientToken, ExportStatus
from exchange.readers import Reader, consent_for_each, readable_patients

TOKEN_PREFIX = "fhc_"
# The resource types of the patient compartment that a bulk export writes, in this order.
EXPORT_TYPES = ("Patient", "EpisodeOfCare", "Encounter", "Appointment", "CarePlan", "Consent")
CHUNK = 500


class ExportInProgress(Conflict):
    """A requester already has an export running (answered 429 with Retry-After)."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- API clients ------------------------------------------------------------------------------------


def register_client(
    *, name: str, recipient: str, registered_by, client_id: str | None = None, secret: str | None = None
) -> tuple[ApiClient, str]:
    """Register another organisation; returns the client and its secret, which is shown this once.

    ``client_id`` and ``secret`` are generated; the demo data passes known ones so the README's curl works.
    """
    name, recipient = (name or "").strip(), (recipient or "").strip()
    if not name:
        raise InvalidInput("Give the client a name staff will recognise.", field="name")
    if not recipient:
        raise InvalidInput("Name the recipient exactly as patients' disclosure consents name it.", field="recipient")
    secret = secret or secrets.token_urlsafe(32)
    client = ApiClient.objects.create(
        name=name,
        recipient=recipient,
        client_id=client_id or f"client_{secrets.token_hex(12)}",
        secret_hash=make_password(secret),
        registered_by=registered_by,
    )
    return client, secret


def deactivate_client(*, client: ApiClient) -> ApiClient:
    """Takes effect at once: its tokens are deleted and new ones refused."""
    with transaction.atomic():
        client = ApiClient.objects.select_for_update().get(pk=client.pk)
        client.is_active = False
        client.save(update_fields=["is_active", "updated_at"])
        client.tokens.all().delete()
    return client


class InvalidClient(InvalidInput):
    pass


def issue_token(*, client_id: str, client_secret: str) -> tuple[str, int]:
    """OAuth2 client credentials: a short-lived bearer token (only its hash is stored) and its lifetime in seconds."""
    client = ApiClient.objects.filter(client_id=client_id, is_active=True).first()
    # The same answer for an unknown client and a wrong secret, so the endpoint does not confirm ids.
    if client is None or not check_password(client_secret or "", client.secret_hash):
        raise InvalidClient("Unknown client or wrong secret.", code="invalid_client")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    lifetime = settings.FHIR_CLIENT_TOKEN_SECONDS
    ClientToken.objects.filter(client=client, expires_at__lte=now).delete()
    ClientToken.objects.create(
        client=client, token_hash=_hash(token), issued_at=now, expires_at=now + dt.timedelta(seconds=lifetime)
    )
    return token, lifetime


def client_for_token(token: str) -> ApiClient | None:
    """The active client a token belongs to, or None if it is unknown, expired or its client deactivated."""
    row = (
        ClientToken.objects.select_related("client")
        .filter(token_hash=_hash(token), expires_at__gt=clock.now(), client__is_active=True)
        .first()
    )
    return row.client if row else None


# --- Bulk export ----------------------------------------------------------------------------------------


def start_export(
    *, reader: Reader, request_url: str, types: list[str], since: dt.datetime | None, program=None
) -> BulkExport:
    """Accept a `$export`; the Celery job runs after commit. One running export per requester."""
    unknown = [name for name in types if name not in EXPORT_TYPES]
    if unknown:
        raise InvalidInput(
            f"_type {unknown[0]!r} cannot be exported; choose from {', '.join(EXPORT_TYPES)}.", field="_type"
        )
    if since is not None and since > clock.now():
        raise InvalidInput("_since is in the future.", field="_since")
    requester = {"client": reader.client} if reader.is_client else {"requested_by": reader.user}
    try:
        with transaction.atomic():
            export = BulkExport.objects.create(
                requested_at=clock.now(),
                program=program,
                request_url=request_url[:500],
                types=list(types or EXPORT_TYPES),
                since=since,
                **requester,
            )
            from exchange.tasks import run_export

            run_export.delay_on_commit(export.pk)
    except IntegrityError as error:
        if "one_running" in str(error):
            raise ExportInProgress(
                "An export you asked for is still running; wait for it (or delete it) before asking for another.",
                code="export_in_progress",
            ) from None
        raise
    return export


def export_dir(export: BulkExport) -> Path:
    return Path(settings.FHIR_EXPORT_ROOT) / str(export.public_id)


def run_export(*, export_id: int) -> BulkExport | None:
    """Write one NDJSON file per resource type, streaming rows in chunks (memory does not grow with the data)."""
    claimed = BulkExport.objects.filter(pk=export_id, status=ExportStatus.ACCEPTED).update(status=ExportStatus.RUNNING)
    if not claimed:
        return None  # gone, cancelled or already taken by another worker
    export = BulkExport.objects.select_related("client", "requested_by", "program").get(pk=export_id)
    reader = Reader(client=export.client) if export.client_id else Reader(user=export.requested_by)
    at = clock.now()
    folder = export_dir(export)
    folder.mkdir(parents=True, exist_ok=True)
    output = []
    try:
        for type_name in export.types:
            kind = search.TYPES[type_name]
            count, patient_ids = _write_type(kind, export, reader, at, folder / f"{type_name}.ndjson")
            output.append({"type": type_name, "count": count})
            _audit_export(export, reader, kind, patient_ids, at)
    except Exception:
        BulkExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, error="The export failed; ask for it again.", finished_at=clock.now()
        )
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finished = clock.now()
    BulkExport.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.COMPLETED,
        transaction_time=at,
        finished_at=finished,
        expires_at=finished + dt.timedelta(hours=settings.FHIR_EXPORT_HOURS),
        output=output,
    )
    export.refresh_from_db()
    return export


def _write_type(kind, export: BulkExport, reader: Reader, at: dt.datetime, path: Path) -> tuple[int, set[int]]:
    count, patient_ids = 0, set()
    in_program = None
    if export.program_id:
        from programs.models import Placement

        in_program = Placement.objects.filter(program_id=export.program_id, cancelled_at__isnull=True).values(
            "patient_id"
        )
    with path.open("w", encoding="utf-8") as out:
        for source in kind.sources:
            queryset = source.queryset(reader, at)
            if in_program is not None and source.patient is not None:
                lookup = f"{source.patient}__in" if source.patient else "pk__in"
                queryset = queryset.filter(**{lookup: in_program})
            if export.since is not None:
                queryset = queryset.filter(source.changed_since(export.since))
            chunk: list = []
            for row in queryset.iterator(chunk_size=CHUNK):
                chunk.append(row)
                if len(chunk) == CHUNK:
                    count += _flush(chunk, source, at, out, patient_ids)
                    chunk = []
            if chunk:
                count += _flush(chunk, source, at, out, patient_ids)
    return count, patient_ids


def _flush(chunk: list, source, at: dt.datetime, out, patient_ids: set[int]) -> int:
    for resource in source.build(chunk, at):
        out.write(json.dumps(resource, separators=(",", ":")))
        out.write("\n")
    patient_ids.update(search.patient_ids_of(chunk))
    return len(chunk)


def _audit_export(export: BulkExport, reader: Reader, kind, patient_ids: set[int], at: dt.datetime) -> None:
    if not patient_ids or kind.information is None:
        return
    detail = f"bulk export {export.public_id}: {kind.name}"
    if not reader.is_client:
        audit.record(
            None,
            action=AuditAction.EXPORT,
            category=kind.audit_category,
            patients=patient_ids,
            user=reader.user,
            detail=detail,
        )
        return
    _audit_disclosure(None, reader, kind, sorted(patient_ids), at, detail=detail)


def _audit_disclosure(request, reader: Reader, kind, patient_ids: list[int], at: dt.datetime, *, detail: str) -> None:
    """One row per patient disclosed to a client, naming the consent it relied on."""
    consents = consent_for_each(reader.client, patient_ids, at=at, information=kind.information)
    by_consent: dict = {}
    for pid in patient_ids:
        by_consent.setdefault(consents.get(pid), []).append(pid)
    for consent_id, ids in by_consent.items():
        audit.record(
            request,
            action=AuditAction.DISCLOSE,
            category=kind.audit_category,
            patients=ids,
            username=f"{reader.client.name} (API client)",
            role_label="api_client",
            detail=f"{detail}; consent {consent_id}",
            anonymous=True,
        )


def audit_read(request, reader: Reader, kind, patient_ids: list[int], at: dt.datetime) -> None:
    """The audit rows of a FHIR read or search: a view for staff and patients, a disclosure for a client."""
    if not patient_ids or kind.information is None:
        return
    if reader.is_client:
        _audit_disclosure(request, reader, kind, patient_ids, at, detail=f"FHIR {kind.name}")
    else:
        audit.record(
            request,
            action=AuditAction.VIEW,
            category=kind.audit_category,
            patients=patient_ids,
            detail=f"FHIR {kind.name}",
        )


def visible_export(*, reader: Reader, public_id) -> BulkExport:
    """An export only its requester may poll, download or delete; anyone else is told it does not exist."""
    mine = {"client": reader.client} if reader.is_client else {"requested_by": reader.user}
    export = BulkExport.objects.filter(public_id=public_id, **mine).first()
    if export is None:
        raise NotFound("No such export.")
    return export


def delete_export(*, export: BulkExport) -> None:
    with transaction.atomic():
        BulkExport.objects.filter(pk=export.pk, status__in=ACTIVE_EXPORT_STATUSES).update(
            status=ExportStatus.CANCELLED, finished_at=clock.now()
        )
        BulkExport.objects.filter(pk=export.pk).exclude(status=ExportStatus.CANCELLED).update(expires_at=clock.now())
    shutil.rmtree(export_dir(export), ignore_errors=True)


def purge_expired_exports() -> int:
    """Delete the files of exports past their 24 hours (the rows stay, as the record of what was exported)."""
    now = clock.now()
    expired = list(BulkExport.objects.filter(expires_at__lte=now).exclude(output=[]))
    for export in expired:
        shutil.rmtree(export_dir(export), ignore_errors=True)
    BulkExport.objects.filter(pk__in=[e.pk for e in expired]).update(output=[])
    return len(expired)


__all__ = [
    "EXPORT_TYPES",
    "ExportInProgress",
    "audit_read",
    "client_for_token",
    "delete_export",
    "issue_token",
    "purge_expired_exports",
    "readable_patients",
    "register_client",
    "run_export",
    "start_export",
]
