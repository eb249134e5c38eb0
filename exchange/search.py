"""FHIR search over the clinic's tables: parameters to querysets, querysets to pages of resources.

Each resource type is a ``ResourceType`` with one or more ``Source``s (Location is
sites and beds; Encounter is levels of care and attended sessions; Consent is
Part 2 consents and messaging consent). A page costs a fixed number of queries:
one COUNT and one SELECT per source, and at most one more per source to load the
rows a resource needs (placements of an episode, check-ins of a plan).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import F, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils.dateparse import parse_date, parse_datetime

from clinic import access
from clinic.errors import InvalidInput
from exchange import resources
from exchange.readers import Reader, readable_patients
from patients.models import DisclosedInformation, DisclosureConsent, MessagingConsentEvent, Patient
from programs.models import AftercarePlan, Bed, Placement, Program, Site, TreatmentEpisode
from scheduling.models import Booking, Session, SessionSeries

ATTENDED = list(resources.ATTENDED)
_PREFIXES = ("eq", "ne", "ge", "le", "gt", "lt", "sa", "eb")
_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
COMMON_PARAMETERS = ("_id", "_lastUpdated", "_count", "_page", "_format", "_include")


class UnsupportedParameter(InvalidInput):
    pass


@dataclass
class Source:
    """One table behind a resource type."""

    queryset: Callable[[Reader, dt.datetime], QuerySet]
    build: Callable[[list, dt.datetime], list[dict]]
    # ORM paths used by the search parameters; None where the parameter does not apply.
    patient: str | None = None
    date: str | None = None
    last_updated: str | None = "updated_at"
    status: Callable[[list[str], dt.datetime], Q] | None = None
    # Returns a Q for a FHIR id, or None when the id cannot belong to this source.
    by_id: Callable[[str], Q | None] = field(default=lambda value: _uuid_q("public_id", value))
    # Rows changed since an instant (bulk export's _since), where ``last_updated`` cannot say it.
    since: Callable[[dt.datetime], Q] | None = None

    def changed_since(self, instant: dt.datetime) -> Q:
        if self.since is not None:
            return self.since(instant)
        return Q(**{f"{self.last_updated}__gte": instant}) if self.last_updated else Q()


@dataclass
class ResourceType:
    name: str
    sources: list[Source]
    # What a Part 2 consent must cover for an API client to receive it; None: not patient data.
    information: str | None
    audit_category: str
    parameters: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    documentation: dict[str, str] = field(default_factory=dict)


def is_uuid(value: str) -> bool:
    return _uuid_q("pk", value) is not None


def _uuid_q(path: str, value: str) -> Q | None:
    try:
        return Q(**{path: uuid.UUID(value)})
    except ValueError:
        return None


# --- Status filters (FHIR status code -> rows) ----------------------------------------------------


def _placement_status(codes: list[str], at: dt.datetime) -> Q:
    today = at.date()
    live = Q(cancelled_at__isnull=True)
    by_code = {
        "planned": live & Q(start_on__gt=today),
        "in-progress": live & Q(start_on__lte=today) & (Q(ended_on__isnull=True) | Q(ended_on__gt=today)),
        "finished": live & Q(ended_on__lte=today),
        "cancelled": Q(cancelled_at__isnull=False),
    }
    return _any_of(codes, by_code)


def _attended_session_status(codes: list[str], at: dt.datetime) -> Q:
    return Q() if "finished" in codes else Q(pk__in=[])


def _appointment_status(codes: list[str], at: dt.datetime) -> Q:
    cancelled = Q(cancelled_at__isnull=False) | Q(session__status="cancelled") | Q(attendance="excused")
    live = Q(cancelled_at__isnull=True) & ~Q(session__status="cancelled")
    by_code = {
        "cancelled": cancelled,
        "fulfilled": live & Q(attendance__in=ATTENDED),
        "noshow": live & Q(attendance="absent"),
        "booked": live & Q(attendance=""),
    }
    return _any_of(codes, by_code)


def _field_status(path: str, allowed: Iterable[str]) -> Callable[[list[str], dt.datetime], Q]:
    allowed = tuple(allowed)

    def status(codes: list[str], at: dt.datetime) -> Q:
        return _any_of(codes, {code: Q(**{path: code}) for code in allowed})

    return status


def _disclosure_status(codes: list[str], at: dt.datetime) -> Q:
    active = Q(given_at__lte=at, expires_at__gt=at) & (Q(revoked_at__isnull=True) | Q(revoked_at__gt=at))
    return _any_of(codes, {"active": active, "inactive": ~active})


def _messaging_status(codes: list[str], at: dt.datetime) -> Q:
    # The giving in force is the patient's current one (services keep the two equal) when not withdrawn since.
    current = Q(at=F("patient__messaging_consent_given_at"), patient__messaging_consent_revoked_at__isnull=True)
    return _any_of(codes, {"active": current, "inactive": ~current})


def _slot_status(codes: list[str], at: dt.datetime) -> Q:
    scheduled = Q(status="scheduled")
    return _any_of(
        codes,
        {
            "busy-unavailable": Q(status="cancelled"),
            "busy": scheduled & Q(booked_count__gte=F("capacity")),
            "free": scheduled & Q(booked_count__lt=F("capacity")),
        },
    )


def _any_of(codes: list[str], by_code: dict[str, Q]) -> Q:
    unknown = [code for code in codes if code not in by_code]
    if unknown:
        raise InvalidInput(
            f"Unknown status {unknown[0]!r}; use one of: {', '.join(by_code)}.", code="invalid_status", field="status"
        )
    condition = Q(pk__in=[])
    for code in codes:
        condition |= by_code[code]
    return condition


# --- Querysets (every one scoped to the reader) -------------------------------------------------------


def _site_scoped(queryset: QuerySet, reader: Reader) -> QuerySet:
    # Sites, programs, beds and schedules are not patient data; an API client may read the provider's directory.
    return queryset if reader.is_client else access.scope_queryset(queryset, user=reader.user)


def _patient_scoped(information: str) -> Callable[[QuerySet, Reader, dt.datetime, str], QuerySet]:
    def scope(queryset: QuerySet, reader: Reader, at: dt.datetime, path: str) -> QuerySet:
        patients = readable_patients(reader, at=at, information=information).values("pk")
        return queryset.filter(**{f"{path}__in" if path else "pk__in": patients})

    return scope


def _patients(reader: Reader, at: dt.datetime) -> QuerySet:
    return readable_patients(reader, at=at, information=DisclosedInformation.DEMOGRAPHICS).order_by("pk")


def _sites(reader: Reader, at: dt.datetime) -> QuerySet:
    return _site_scoped(Site.objects.order_by("pk"), reader)


def _beds(reader: Reader, at: dt.datetime) -> QuerySet:
    return _site_scoped(Bed.objects.select_related("program__site").order_by("pk"), reader)


def _programs(reader: Reader, at: dt.datetime) -> QuerySet:
    return _site_scoped(Program.objects.select_related("site").order_by("pk"), reader)


def _series(reader: Reader, at: dt.datetime) -> QuerySet:
    return _site_scoped(SessionSeries.objects.select_related("program__site").order_by("pk"), reader)


def _sessions(reader: Reader, at: dt.datetime) -> QuerySet:
    return _site_scoped(Session.objects.select_related("series").order_by("starts_at", "pk"), reader)


_treatment = _patient_scoped(DisclosedInformation.TREATMENT)
_appointments = _patient_scoped(DisclosedInformation.APPOINTMENTS)
_care_plans = _patient_scoped(DisclosedInformation.CARE_PLAN)
_consents = _patient_scoped(DisclosedInformation.CONSENTS)


def _episodes(reader: Reader, at: dt.datetime) -> QuerySet:
    placements = Prefetch("placements", queryset=Placement.objects.order_by("start_on"))
    queryset = TreatmentEpisode.objects.select_related("patient").prefetch_related(placements).order_by("pk")
    return _treatment(queryset, reader, at, "patient")


def _placements(reader: Reader, at: dt.datetime) -> QuerySet:
    queryset = Placement.objects.select_related("patient", "episode", "program", "bed").order_by("start_on", "pk")
    return _treatment(queryset, reader, at, "patient")


def _attended(reader: Reader, at: dt.datetime) -> QuerySet:
    queryset = (
        Booking.objects.filter(attendance__in=ATTENDED, cancelled_at__isnull=True)
        .select_related("patient", "session__series", "placement__episode")
        .order_by("starts_at", "pk")
    )
    return _treatment(queryset, reader, at, "patient")


def _bookings(reader: Reader, at: dt.datetime) -> QuerySet:
    queryset = Booking.objects.select_related("patient", "session__series__program__site").order_by("starts_at", "pk")
    return _appointments(queryset, reader, at, "patient")


def _plans(reader: Reader, at: dt.datetime) -> QuerySet:
    queryset = AftercarePlan.objects.select_related("patient").prefetch_related("checkins").order_by("pk")
    return _care_plans(queryset, reader, at, "patient")


def _disclosures(reader: Reader, at: dt.datetime) -> QuerySet:
    return _consents(
        DisclosureConsent.objects.select_related("patient").order_by("given_at", "pk"), reader, at, "patient"
    )


def _messaging_givings(reader: Reader, at: dt.datetime) -> QuerySet:
    queryset = MessagingConsentEvent.objects.filter(kind=MessagingConsentEvent.Kind.GIVEN).select_related("patient")
    return _consents(queryset.order_by("patient_id", "at", "pk"), reader, at, "patient")


# --- Builders (a page of rows -> resources) --------------------------------------------------------


def _each(function) -> Callable[[list, dt.datetime], list[dict]]:
    return lambda rows, at: [function(row) for row in rows]


def _build_episodes(rows: list, at: dt.datetime) -> list[dict]:
    return [resources.episode_of_care(row, list(row.placements.all())) for row in rows]


def _build_plans(rows: list, at: dt.datetime) -> list[dict]:
    return [resources.care_plan(row, list(row.checkins.all())) for row in rows]


def _build_disclosures(rows: list, at: dt.datetime) -> list[dict]:
    return [resources.disclosure_consent(row, at=at) for row in rows]


def _build_messaging(rows: list, at: dt.datetime) -> list[dict]:
    """Each giving with its ordinal among the patient's givings and the withdrawal that ended it. One query."""
    patient_ids = {row.patient_id for row in rows}
    history: dict[int, list] = {}
    for event in MessagingConsentEvent.objects.filter(patient_id__in=patient_ids).order_by("at", "pk"):
        history.setdefault(event.patient_id, []).append(event)
    built = []
    for row in rows:
        events = history.get(row.patient_id, [])
        givings = [e for e in events if e.kind == MessagingConsentEvent.Kind.GIVEN]
        ordinal = next(i for i, e in enumerate(givings, start=1) if e.pk == row.pk)
        revoked = next(
            (e for e in events if e.kind == MessagingConsentEvent.Kind.REVOKED and (e.at, e.pk) > (row.at, row.pk)),
            None,
        )
        built.append(resources.messaging_consent(row.patient, row, revoked, ordinal))
    return built


def _messaging_by_id(value: str) -> Q | None:
    match = re.fullmatch(r"msg-([0-9a-f]{32})-([1-9][0-9]{0,5})", value)
    if not match:
        return None
    return Q(patient__public_id=uuid.UUID(match.group(1)), _ordinal=int(match.group(2)))


def _organization_source() -> Source:
    # The provider itself: one resource, not a table.
    return Source(
        queryset=lambda reader, at: None, build=lambda rows, at: [resources.organization()], last_updated=None
    )


TYPES: dict[str, ResourceType] = {
    "Patient": ResourceType(
        "Patient",
        [Source(_patients, _each(resources.patient), patient="")],
        DisclosedInformation.DEMOGRAPHICS,
        "demographics",
        parameters=("identifier",),
    ),
    "Organization": ResourceType("Organization", [_organization_source()], None, ""),
    "Location": ResourceType(
        "Location",
        [Source(_sites, _each(resources.site_location)), Source(_beds, _each(resources.bed_location))],
        None,
        "",
    ),
    "HealthcareService": ResourceType(
        "HealthcareService", [Source(_programs, _each(resources.healthcare_service))], None, ""
    ),
    "EpisodeOfCare": ResourceType(
        "EpisodeOfCare",
        [
            Source(
                _episodes,
                _build_episodes,
                patient="patient",
                date="started_on",
                status=_field_status("status", ["planned", "waitlist", "active", "onhold", "finished", "cancelled"]),
            )
        ],
        DisclosedInformation.TREATMENT,
        "clinical",
        parameters=("patient", "status", "date"),
    ),
    "Encounter": ResourceType(
        "Encounter",
        [
            Source(_placements, _each(resources.placement_encounter), "patient", "start_on", status=_placement_status),
            Source(
                _attended,
                _each(resources.session_encounter),
                "patient",
                "starts_at",
                status=_attended_session_status,
            ),
        ],
        DisclosedInformation.TREATMENT,
        "clinical",
        parameters=("patient", "status", "date"),
        includes=("Encounter:patient",),
    ),
    "Schedule": ResourceType("Schedule", [Source(_series, _each(resources.schedule))], None, ""),
    "Slot": ResourceType(
        "Slot",
        [Source(_sessions, _each(resources.slot), date="starts_at", status=_slot_status)],
        None,
        "",
        parameters=("status", "date"),
    ),
    "Appointment": ResourceType(
        "Appointment",
        [Source(_bookings, _each(resources.appointment), "patient", "starts_at", status=_appointment_status)],
        DisclosedInformation.APPOINTMENTS,
        "schedule",
        parameters=("patient", "status", "date"),
        includes=("Appointment:patient",),
    ),
    "CarePlan": ResourceType(
        "CarePlan",
        [
            Source(
                _plans,
                _build_plans,
                "patient",
                "starts_on",
                status=_field_status("status", ["active", "completed", "revoked"]),
            )
        ],
        DisclosedInformation.CARE_PLAN,
        "clinical",
        parameters=("patient", "status", "date"),
    ),
    "Consent": ResourceType(
        "Consent",
        [
            Source(
                _disclosures,
                _build_disclosures,
                "patient",
                "given_at",
                last_updated=None,
                status=_disclosure_status,
                since=lambda instant: Q(given_at__gte=instant) | Q(revoked_at__gte=instant),
            ),
            Source(
                _messaging_givings,
                _build_messaging,
                "patient",
                "at",
                last_updated=None,
                status=_messaging_status,
                by_id=_messaging_by_id,
                since=lambda instant: Q(at__gte=instant) | Q(patient__messaging_consent_revoked_at__gte=instant),
            ),
        ],
        DisclosedInformation.CONSENTS,
        "clinical",
        parameters=("patient", "status", "date"),
    ),
}


def resource_type(name: str) -> ResourceType:
    try:
        return TYPES[name]
    except KeyError:
        raise InvalidInput(
            f"Unknown or unsupported resource type {name!r}; see /fhir/R4/metadata for what this server offers.",
            code="not-supported",
        ) from None


# --- Parameters ---------------------------------------------------------------------------------------


@dataclass
class Query:
    """A parsed search: filters per source plus paging and includes."""

    filters: list[tuple[str, str]]
    count: int
    page: int
    include_patients: bool


def parse(kind: ResourceType, params: list[tuple[str, str]]) -> Query:
    allowed = set(COMMON_PARAMETERS) | set(kind.parameters)
    count, page, include_patients = settings.FHIR_DEFAULT_COUNT, 1, False
    filters: list[tuple[str, str]] = []
    for name, value in params:
        if any(ord(char) < 32 for char in name + value):
            raise InvalidInput(f"The parameter {name!r} holds a control character.", code="invalid", field=name)
        base = name.split(":")[0]
        if base not in allowed or (":" in name and base != "_include"):
            raise UnsupportedParameter(
                f"The search parameter {name!r} is not supported for {kind.name}; "
                f"supported: {', '.join(sorted(allowed))}.",
                code="not-supported",
                field=name,
            )
        if name == "_count":
            count = _positive_int(name, value)
            if count > settings.FHIR_MAX_COUNT:
                raise InvalidInput(
                    f"_count may be at most {settings.FHIR_MAX_COUNT}; follow the next links for more.",
                    code="too-costly",
                    field=name,
                )
        elif name == "_page":
            page = _positive_int(name, value)
        elif name == "_format":
            if value not in ("json", "application/json", "application/fhir+json"):
                raise InvalidInput("Only JSON is offered (_format=json).", code="not-supported", field=name)
        elif name == "_include":
            if value not in kind.includes:
                offered = ", ".join(kind.includes) or "none"
                raise UnsupportedParameter(
                    f"_include={value} is not supported for {kind.name}; offered: {offered}.",
                    code="not-supported",
                    field=name,
                )
            include_patients = True
        else:
            filters.append((name, value))
    return Query(filters=filters, count=count, page=page, include_patients=include_patients)


def _positive_int(name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise InvalidInput(f"{name} must be a whole number of at least 1.", code="invalid", field=name)
    return int(value)


def _date_condition(name: str, path: str, value: str) -> Q:
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    raw = value[2:] if value[:2] in _PREFIXES else value
    try:
        instant = parse_datetime(raw) if "T" in raw else None
    except ValueError:
        instant = None
    day = None if instant else _parse_day(raw)
    if instant is None and day is None:
        raise InvalidInput(
            f"{name}={value!r} is not a FHIR date (YYYY-MM-DD or an instant with its offset, after an optional "
            "prefix such as ge or lt).",
            code="invalid",
            field=name,
        )
    if instant is not None:
        instant = checked_instant(name, instant)
    lookups = {"eq": "", "ge": "__gte", "gt": "__gt", "le": "__lte", "lt": "__lt", "sa": "__gt", "eb": "__lt"}
    if prefix == "ne":
        return ~_date_condition(name, path, f"eq{raw}")
    if instant is not None:
        return Q(**{f"{path}{lookups[prefix]}": instant})
    # A day compares with a date column directly and with a timestamp column by the UTC day.
    column = path if path.endswith("_on") else f"{path}__date"
    return Q(**{f"{column}{lookups[prefix]}": day})


def checked_instant(name: str, instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None:
        raise InvalidInput(f"{name}: an instant needs its UTC offset (for example Z).", code="invalid", field=name)
    if abs(instant.utcoffset()) > dt.timedelta(hours=14):
        raise InvalidInput(f"{name}: no time zone is more than 14 hours from UTC.", code="invalid", field=name)
    try:
        return instant.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput(f"{name}: that instant is out of range.", code="invalid", field=name) from None


def _parse_day(raw: str) -> dt.date | None:
    try:
        return parse_date(raw)
    except ValueError:
        return None


def _reference_id(name: str, value: str, kind: str) -> uuid.UUID:
    raw = value.split("/", 1)[1] if value.startswith(f"{kind}/") else value
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be {kind}/<id> or an id.", code="invalid", field=name) from None


def filtered(source: Source, query: Query, at: dt.datetime, queryset: QuerySet) -> QuerySet:
    for name, value in query.filters:
        if name == "_id":
            conditions = [source.by_id(part) for part in value.split(",")]
            conditions = [c for c in conditions if c is not None]
            if not conditions:
                return queryset.none()
            q = Q(pk__in=[])
            for c in conditions:
                q |= c
            queryset = _with_ordinal(queryset, q) if source.by_id is _messaging_by_id else queryset.filter(q)
        elif name == "_lastUpdated":
            if source.last_updated is None:
                continue
            queryset = queryset.filter(_date_condition(name, source.last_updated, value))
        elif name == "patient":
            if source.patient is None:
                return queryset.none()
            pid = _reference_id(name, value, "Patient")
            queryset = queryset.filter(**{f"{source.patient}__public_id" if source.patient else "public_id": pid})
        elif name == "identifier":
            mrn = value.split("|", 1)[1] if "|" in value else value
            queryset = queryset.filter(mrn=mrn)
        elif name == "status":
            if source.status is None:
                return queryset.none()
            queryset = queryset.filter(source.status([code.strip() for code in value.split(",")], at))
        elif name == "date":
            if source.date is None:
                return queryset.none()
            queryset = queryset.filter(_date_condition(name, source.date, value))
    return queryset


def _with_ordinal(queryset: QuerySet, condition: Q) -> QuerySet:
    numbered = queryset.annotate(
        _ordinal=Window(RowNumber(), partition_by=[F("patient_id")], order_by=[F("at").asc(), F("pk").asc()])
    )
    return numbered.filter(condition)


# --- Running a search ----------------------------------------------------------------------------------


@dataclass
class Page:
    resources: list[dict]
    rows: list  # (source, row) pairs on this page, for the audit trail
    total: int
    included_rows: list  # patients brought in by _include


def run(kind: ResourceType, query: Query, *, reader: Reader, at: dt.datetime) -> Page:
    if kind.name == "Organization":
        matches = all(value == resources.organization_id() for name, value in query.filters if name == "_id")
        return Page([resources.organization()] if matches else [], [], int(matches), [])
    offset = (query.page - 1) * query.count
    remaining = query.count
    found: list[dict] = []
    rows_seen: list = []
    total = 0
    for source in kind.sources:
        queryset = filtered(source, query, at, source.queryset(reader, at))
        size = queryset.count()
        if remaining and offset < total + size:
            start = max(0, offset - total)
            rows = list(queryset[start : start + remaining])
            found.extend(source.build(rows, at))
            rows_seen.extend(rows)
            remaining -= len(rows)
        total += size
    included = _included_patients(rows_seen, reader, at) if query.include_patients else []
    return Page(found, rows_seen, total, included)


def _included_patients(rows: list, reader: Reader, at: dt.datetime) -> list:
    ids = {row.patient_id for row in rows}
    patients = readable_patients(reader, at=at, information=DisclosedInformation.DEMOGRAPHICS).filter(pk__in=ids)
    return list(patients.order_by("pk"))


def read(kind: ResourceType, resource_id: str, *, reader: Reader, at: dt.datetime) -> tuple[dict, object] | None:
    """One resource by id, or None when it does not exist or the reader may not see it (the same answer)."""
    if not _ID_RE.match(resource_id):
        return None
    page = run(
        kind, Query(filters=[("_id", resource_id)], count=1, page=1, include_patients=False), reader=reader, at=at
    )
    if not page.resources:
        return None
    return page.resources[0], (page.rows[0] if page.rows else None)


def patient_ids_of(rows: list) -> list[int]:
    ids = set()
    for row in rows:
        if isinstance(row, Patient):
            ids.add(row.pk)
        elif hasattr(row, "patient_id"):
            ids.add(row.patient_id)
    return sorted(ids)


def everything(kind: ResourceType, *, patient: Patient, reader: Reader, at: dt.datetime) -> list[dict]:
    """Every resource of a type about one patient (the patient's own record); a few queries per source."""
    found: list[dict] = []
    for source in kind.sources:
        if source.patient is None:
            continue
        lookup = f"{source.patient}__pk" if source.patient else "pk"
        rows = list(source.queryset(reader, at).filter(**{lookup: patient.pk}))
        found.extend(source.build(rows, at))
    return found
