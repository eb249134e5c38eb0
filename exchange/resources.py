"""Rows of the clinic as FHIR R4 (4.0.1) resources: one function per resource type, plain dicts out.

Every function takes rows already loaded (with their related rows selected) and
issues no query, so a page or an export costs the queries of its querysets only.
Codes come from the standard value sets where R4 has one (encounter class from
v3 ActCode, statuses from their resources' required bindings).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings

from patients.models import Patient

FHIR_VERSION = "4.0.1"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# The security labels of substance-use treatment records (42 CFR Part 2) and of their
# prohibition on redisclosure, from HL7's v3 ActCode system.
PART2_LABEL = {"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"}
NO_REDISCLOSURE_LABEL = {
    "system": ACT_CODE,
    "code": "NORDSCLCD",
    "display": "no redisclosure without consent directive",
}
# 42 CFR 2.32(a)(1), the notice that accompanies every disclosure made with the patient's consent.
REDISCLOSURE_NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality rules "
    "(42 CFR part 2). These rules prohibit you from using or disclosing this record, or testimony that "
    "describes the information contained in this record, in any civil, criminal, administrative, or "
    "legislative proceedings by any Federal, State, or local authority, against the patient, unless "
    "authorized by the consent of the patient, except as provided at 42 CFR 2.12(c)(5) or as authorized "
    "by a court in accordance with 42 CFR 2.64 or 2.65. In addition, the Federal rules prohibit you from "
    "making any further disclosure of this record unless authorized by the written consent of the person "
    "to whom it pertains, or as otherwise permitted by 42 CFR part 2. A general authorization for the "
    "release of medical or other information is not sufficient for this purpose (see 42 CFR 2.31)."
)

ENCOUNTER_CLASS = {
    # Residential treatment is inpatient care that is not acute; IOP and groups are ambulatory.
    "residential": {"system": ACT_CODE, "code": "NONAC", "display": "inpatient non-acute"},
    "iop": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
}
PLACEMENT_ENCOUNTER_STATUS = {
    "planned": "planned",
    "active": "in-progress",
    "completed": "finished",
    "cancelled": "cancelled",
}
ATTENDED = ("present", "late", "left_early")


def code_system(name: str) -> str:
    """The URI of one of this installation's own code systems (ASAM level, MRN)."""
    return f"{settings.FHIR_CODE_SYSTEM_BASE}{name}"


def _meta(row, *, part2: bool = True) -> dict:
    meta: dict = {"versionId": _version(row), "lastUpdated": _instant(row.updated_at)}
    if part2:
        meta["security"] = [PART2_LABEL]
    return meta


def _version(row) -> str:
    return str(int(row.updated_at.timestamp() * 1000))


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _ref(kind: str, public_id: uuid.UUID, display: str | None = None) -> dict:
    ref = {"reference": f"{kind}/{public_id}"}
    if display:
        ref["display"] = display
    return ref


def _period(start: dt.date | dt.datetime | None, end: dt.date | dt.datetime | None) -> dict:
    fmt = _instant if isinstance(start, dt.datetime) else _date
    period = {"start": fmt(start)} if start else {}
    if end:
        period["end"] = fmt(end) if isinstance(end, dt.datetime) else _date(end)
    return period


def organization_id() -> str:
    return settings.FHIR_ORGANIZATION_ID


def organization() -> dict:
    return {
        "resourceType": "Organization",
        "id": organization_id(),
        "active": True,
        "name": settings.FHIR_ORGANIZATION_NAME,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": "prov",
                        "display": "Healthcare Provider",
                    }
                ]
            }
        ],
    }


def _organization_ref() -> dict:
    return {"reference": f"Organization/{organization_id()}"}


def patient(row: Patient) -> dict:
    names = [{"use": "official", "family": row.legal_last_name, "given": [row.legal_first_name]}]
    if row.preferred_name:
        names.append({"use": "usual", "family": row.legal_last_name, "given": [row.preferred_name]})
    telecom = []
    if row.phone:
        telecom.append({"system": "phone", "value": row.phone, "use": "mobile"})
    if row.email:
        telecom.append({"system": "email", "value": row.email})
    language = getattr(row, "preferred_language", "") or "en"
    resource = {
        "resourceType": "Patient",
        "id": str(row.public_id),
        "meta": _meta(row),
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "MR",
                            "display": "Medical record number",
                        }
                    ]
                },
                "system": code_system("mrn"),
                "value": row.mrn,
            }
        ],
        "active": True,
        "name": names,
        "birthDate": _date(row.date_of_birth),
        "communication": [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": language}]},
                "preferred": True,
            }
        ],
        "managingOrganization": _organization_ref(),
    }
    if telecom:
        resource["telecom"] = telecom
    return resource


def site_location(site) -> dict:
    resource = {
        "resourceType": "Location",
        "id": str(site.public_id),
        "meta": _meta(site, part2=False),
        "status": "active",
        "name": site.name,
        "mode": "instance",
        "physicalType": _location_type("si", "Site"),
        "managingOrganization": _organization_ref(),
    }
    if site.address:
        resource["address"] = {"text": site.address}
    if site.phone:
        resource["telecom"] = [{"system": "phone", "value": site.phone}]
    return resource


def bed_location(bed) -> dict:
    # FHIR's Location.operationalStatus (v2 table 0116) says whether a bed is free; out of service is "closed".
    in_service = bed.status != "out_of_service"
    return {
        "resourceType": "Location",
        "id": str(bed.public_id),
        "meta": _meta(bed, part2=False),
        "status": "active" if in_service else "inactive",
        "name": f"Bed {bed.label}",
        "mode": "instance",
        "physicalType": _location_type("bd", "Bed"),
        "partOf": _ref("Location", bed.program.site.public_id, bed.program.site.name),
        "managingOrganization": _organization_ref(),
    }


def _location_type(code: str, display: str) -> dict:
    return {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": code, "display": display}
        ]
    }


def healthcare_service(program) -> dict:
    return {
        "resourceType": "HealthcareService",
        "id": str(program.public_id),
        "meta": _meta(program, part2=False),
        "active": program.is_active,
        "providedBy": _organization_ref(),
        "location": [_ref("Location", program.site.public_id, program.site.name)],
        "name": program.name,
        "characteristic": [
            {
                "coding": [
                    {
                        "system": code_system("asam-level"),
                        "code": program.asam_level,
                        "display": program.get_asam_level_display(),
                    }
                ],
                "text": f"ASAM level {program.asam_level}",
            }
        ],
    }


def episode_of_care(episode, placements: list) -> dict:
    """A treatment episode; its status history is one entry per level of care it held, then its own end."""
    history = [
        {"status": "active", "period": _period(p.start_on, p.ended_on)}
        for p in sorted(placements, key=lambda p: p.start_on)
        if p.cancelled_at is None
    ]
    resource = {
        "resourceType": "EpisodeOfCare",
        "id": str(episode.public_id),
        "meta": _meta(episode),
        "status": episode.status,
        "patient": _ref("Patient", episode.patient.public_id),
        "managingOrganization": _organization_ref(),
        "period": _period(episode.started_on, episode.ended_on),
        "type": [{"text": "Substance use and mental health treatment"}],
    }
    if history:
        resource["statusHistory"] = history
    return resource


def placement_encounter(placement) -> dict:
    resource = {
        "resourceType": "Encounter",
        "id": str(placement.public_id),
        "meta": _meta(placement),
        "status": PLACEMENT_ENCOUNTER_STATUS[placement.status],
        "class": ENCOUNTER_CLASS[placement.kind],
        "serviceType": {
            "coding": [
                {
                    "system": code_system("asam-level"),
                    "code": placement.program.asam_level,
                    "display": placement.program.get_asam_level_display(),
                }
            ],
            "text": placement.program.name,
        },
        "subject": _ref("Patient", placement.patient.public_id),
        "episodeOfCare": [_ref("EpisodeOfCare", placement.episode.public_id)],
        "period": _period(placement.start_on, placement.ended_on),
        "serviceProvider": _organization_ref(),
    }
    if placement.bed_id:
        resource["location"] = [{"location": _ref("Location", placement.bed.public_id, f"Bed {placement.bed.label}")}]
    return resource


def session_encounter(booking) -> dict:
    """An attended session (present, late, left early) as an ambulatory encounter inside the IOP enrollment."""
    session = booking.session
    resource = {
        "resourceType": "Encounter",
        "id": str(booking.public_id),
        "meta": _meta(booking),
        "status": "finished",
        "class": ENCOUNTER_CLASS["iop"],
        "type": [{"text": session.series.get_kind_display()}],
        "subject": _ref("Patient", booking.patient.public_id),
        "episodeOfCare": [_ref("EpisodeOfCare", booking.placement.episode.public_id)],
        "partOf": _ref("Encounter", booking.placement.public_id),
        "appointment": [_ref("Appointment", booking.public_id)],
        "period": _period(session.starts_at, session.ends_at),
        "serviceProvider": _organization_ref(),
    }
    if booking.minutes_attended is not None:
        resource["length"] = {
            "value": booking.minutes_attended,
            "unit": "min",
            "system": "http://unitsofmeasure.org",
            "code": "min",
        }
    return resource


def schedule(series) -> dict:
    resource = {
        "resourceType": "Schedule",
        "id": str(series.public_id),
        "meta": _meta(series, part2=False),
        "active": series.ends_on is None or series.ends_on >= series.starts_on,
        "serviceType": [{"text": series.get_kind_display()}],
        "actor": [
            _ref("HealthcareService", series.program.public_id, series.program.name),
            _ref("Location", series.program.site.public_id, series.program.site.name),
        ],
        "planningHorizon": _period(series.starts_on, series.ends_on),
        "comment": series.rule,
    }
    return resource


def slot(session) -> dict:
    if session.status == "cancelled":
        status = "busy-unavailable"
    else:
        status = "busy" if session.booked_count >= session.capacity else "free"
    return {
        "resourceType": "Slot",
        "id": str(session.public_id),
        "meta": _meta(session, part2=False),
        "serviceType": [{"text": session.series.get_kind_display()}],
        "schedule": _ref("Schedule", session.series.public_id),
        "status": status,
        "start": _instant(session.starts_at),
        "end": _instant(session.ends_at),
        "comment": f"{session.booked_count} of {session.capacity} places booked",
    }


def appointment_status(booking) -> str:
    if booking.cancelled_at is not None or booking.session.status == "cancelled":
        return "cancelled"
    if booking.attendance in ATTENDED:
        return "fulfilled"
    if booking.attendance == "absent":
        return "noshow"
    if booking.attendance == "excused":
        return "cancelled"
    return "booked"


_PARTICIPATION = {"confirmed": "accepted", "declined": "declined", "": "needs-action"}


def appointment(booking) -> dict:
    session = booking.session
    return {
        "resourceType": "Appointment",
        "id": str(booking.public_id),
        "meta": _meta(booking),
        "status": appointment_status(booking),
        "serviceType": [{"text": session.series.get_kind_display()}],
        "start": _instant(booking.starts_at),
        "end": _instant(booking.ends_at),
        "minutesDuration": session.duration_minutes,
        "slot": [_ref("Slot", session.public_id)],
        "created": _instant(booking.created_at),
        "participant": [
            {
                "actor": _ref("Patient", booking.patient.public_id),
                "required": "required",
                "status": _PARTICIPATION.get(booking.patient_response, "needs-action"),
            },
            {
                "actor": _ref("Location", session.series.program.site.public_id, session.series.program.site.name),
                "required": "required",
                "status": "accepted",
            },
        ],
    }


_PLAN_STATUS = {"active": "active", "completed": "completed", "revoked": "revoked"}
_ACTIVITY_STATUS = {"scheduled": "scheduled", "completed": "completed", "missed": "stopped", "cancelled": "cancelled"}


def care_plan(plan, checkins: list) -> dict:
    return {
        "resourceType": "CarePlan",
        "id": str(plan.public_id),
        "meta": _meta(plan),
        "status": _PLAN_STATUS.get(plan.status, "unknown"),
        "intent": "plan",
        "category": [{"text": "Aftercare (continuing care)"}],
        "title": "Aftercare",
        "subject": _ref("Patient", plan.patient.public_id),
        "period": _period(plan.starts_on, None),
        "created": _instant(plan.created_at),
        "activity": [
            {
                "detail": {
                    "kind": "Task",
                    "code": {"text": f"Follow-up check-in, day {c.offset_days} after discharge"},
                    "status": _ACTIVITY_STATUS.get(c.status, "unknown"),
                    "scheduledPeriod": {"start": _date(c.due_on)},
                }
            }
            for c in sorted(checkins, key=lambda c: c.due_on)
        ],
    }


CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
PART2_POLICY = "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2"


def disclosure_consent(consent, *, at: dt.datetime) -> dict:
    """A Part 2 consent to disclose to a named recipient (Consent, scope patient-privacy)."""
    if (consent.revoked_at is not None and consent.revoked_at <= at) or consent.expires_at <= at:
        status = "inactive"
    else:
        status = "active"
    end = min(filter(None, [consent.expires_at, consent.revoked_at]))
    return {
        "resourceType": "Consent",
        "id": str(consent.public_id),
        "meta": {"lastUpdated": _instant(consent.revoked_at or consent.given_at), "security": [PART2_LABEL]},
        "status": status,
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy", "display": "Privacy Consent"}]},
        "category": [
            {"coding": [{"system": "http://loinc.org", "code": "64292-6", "display": "Release of information consent"}]}
        ],
        "patient": _ref("Patient", consent.patient.public_id),
        "dateTime": _instant(consent.given_at),
        "organization": [_organization_ref()],
        "policy": [{"uri": PART2_POLICY}],
        "provision": {
            "type": "permit",
            "period": _period(consent.given_at, end),
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "IRCP",
                                "display": "information recipient",
                            }
                        ]
                    },
                    "reference": {"display": consent.recipient},
                }
            ],
            "purpose": [{"system": ACT_CODE, "code": "HPRGRP", "display": consent.purpose[:200]}],
            "class": [{"system": code_system("disclosed-information"), "code": t} for t in consent.information_types],
        },
    }


def messaging_consent(patient_row: Patient, given, revoked, ordinal: int) -> dict:
    """One giving of consent to reminders, until its withdrawal (the history is one Consent per giving)."""
    return {
        "resourceType": "Consent",
        "id": messaging_consent_id(patient_row, ordinal),
        "meta": {"lastUpdated": _instant((revoked or given).at), "security": [PART2_LABEL]},
        "status": "inactive" if revoked is not None else "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "treatment", "display": "Treatment"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": _ref("Patient", patient_row.public_id),
        "dateTime": _instant(given.at),
        "organization": [_organization_ref()],
        "policyRule": {"text": "Appointment and aftercare reminders by text, e-mail and push"},
        "provision": {"type": "permit", "period": _period(given.at, revoked.at if revoked else None)},
    }


def messaging_consent_id(patient_row: Patient, ordinal: int) -> str:
    return f"msg-{patient_row.public_id.hex}-{ordinal}"
