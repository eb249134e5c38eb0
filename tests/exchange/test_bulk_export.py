"""FHIR Bulk Data export end to end through a real Celery worker (Redis, not eager mode), files parsed line by line."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import time_machine
from fhir.resources import get_fhir_model_class

from exchange.models import BulkExport, ExportStatus
from exchange.resources import REDISCLOSURE_NOTICE
from patients import services as patient_services
from patients.models import ConsentMeans
from tests.exchange.conftest import INSTANT

PREFER = {"HTTP_PREFER": "respond-async"}


@pytest.fixture
def worker(transactional_db, settings, tmp_path):
    from celery.contrib.testing.worker import start_worker

    from clinic.celery import app

    settings.FHIR_EXPORT_ROOT = tmp_path
    app.loader.import_default_modules()
    app.control.purge()
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10) as running:
        yield running


def wait_for_manifest(api, status_url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(status_url)
        if response.status_code == 200:
            return response.json()
        assert response.status_code == 202, response.content
        assert response["X-Progress"] in ("accepted", "running")
        time.sleep(0.2)
    raise AssertionError("the export did not finish")


def lines(api, url: str) -> list[dict]:
    response = api.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+ndjson"
    body = b"".join(response.streaming_content)
    parsed = [json.loads(line) for line in body.splitlines()]
    for resource in parsed:
        get_fhir_model_class(resource["resourceType"]).parse_obj(resource)
    return parsed


def test_a_program_admin_exports_a_programs_patients(worker, as_admin, clinic):
    kick_off = as_admin.get(f"/fhir/R4/Group/{clinic.iop.public_id}/$export", **PREFER)
    assert kick_off.status_code == 202, kick_off.content
    manifest = wait_for_manifest(as_admin, kick_off["Content-Location"])
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    files = {item["type"]: item for item in manifest["output"]}
    assert set(files) == {"Patient", "EpisodeOfCare", "Encounter", "Appointment", "CarePlan", "Consent"}
    # The evening IOP's patients: Alex (stepped down into it) and Sam (discharged from it). Not Jo, not Kim.
    patients = lines(as_admin, files["Patient"]["url"])
    assert {p["id"] for p in patients} == {str(clinic.alex.public_id), str(clinic.sam.public_id)}
    encounters = lines(as_admin, files["Encounter"]["url"])
    assert len(encounters) == files["Encounter"]["count"] == 2 + 2 + 1  # Alex: stay, IOP, two groups; Sam: IOP
    export = BulkExport.objects.get()
    assert export.status == ExportStatus.COMPLETED and export.expires_at == export.finished_at + dt.timedelta(hours=24)


def test_a_hospital_exports_only_consenting_patients_and_what_the_consent_covers(worker, as_hospital, clinic):
    kick_off = as_hospital.get("/fhir/R4/Patient/$export", {"_type": "Patient,CarePlan"}, **PREFER)
    assert kick_off.status_code == 202
    manifest = wait_for_manifest(as_hospital, kick_off["Content-Location"])
    files = {item["type"]: item["url"] for item in manifest["output"]}
    assert set(files) == {"Patient", "CarePlan"}
    patients = lines(as_hospital, files["Patient"])
    assert {p["id"] for p in patients} == {str(p.public_id) for p in (clinic.alex, clinic.sam, clinic.kim)}
    assert lines(as_hospital, files["CarePlan"]) == []  # only Sam has a plan, and his consent leaves it out
    download = as_hospital.get(files["Patient"])
    assert download["X-Redisclosure-Notice"] == REDISCLOSURE_NOTICE
    # A consent revoked after the export ran: that patient's lines are gone from the next download.
    patient_services.revoke_disclosure_consent(
        consent=clinic.consents.alex, means=ConsentMeans.WRITTEN, revoked_by=None
    )
    assert {p["id"] for p in lines(as_hospital, files["Patient"])} == {
        str(clinic.sam.public_id),
        str(clinic.kim.public_id),
    }


def test_since_and_types_are_honoured(worker, as_admin, clinic):
    later = INSTANT + dt.timedelta(hours=1)
    with time_machine.travel(later, tick=True):
        patient_services.give_messaging_consent(patient=clinic.jo, means=ConsentMeans.VERBAL)  # touches Jo only
        kick_off = as_admin.get(
            "/fhir/R4/Patient/$export", {"_type": "Patient", "_since": "2026-11-18T20:30:00Z"}, **PREFER
        )
        manifest = wait_for_manifest(as_admin, kick_off["Content-Location"])
    (item,) = manifest["output"]
    assert {p["id"] for p in lines(as_admin, item["url"])} == {str(clinic.jo.public_id)}


def test_files_belong_to_their_requester_and_expire(worker, as_admin, api, clinic):
    from exchange import services

    kick_off = as_admin.get("/fhir/R4/Patient/$export", {"_type": "Patient"}, **PREFER)
    manifest = wait_for_manifest(as_admin, kick_off["Content-Location"])
    url = manifest["output"][0]["url"]
    api.force_authenticate(clinic.superuser)
    assert api.get(url).status_code == 404  # even a superuser: the files are the requester's
    assert api.get(kick_off["Content-Location"]).status_code == 404
    export = BulkExport.objects.get()
    folder = services.export_dir(export)
    assert folder.exists()
    with time_machine.travel(INSTANT + dt.timedelta(hours=25), tick=False):
        assert services.purge_expired_exports() == 1
        assert as_admin.get(url).status_code == 404
        assert as_admin.get(kick_off["Content-Location"]).status_code == 404
    assert not folder.exists()


def test_one_export_at_a_time_per_requester(as_admin, clinic, django_capture_on_commit_callbacks):
    first = as_admin.get("/fhir/R4/Patient/$export", **PREFER)
    assert first.status_code == 202
    second = as_admin.get("/fhir/R4/Patient/$export", **PREFER)
    assert second.status_code == 429 and second["Retry-After"]
    assert second.json()["issue"][0]["code"] == "throttled"
    assert as_admin.delete(first["Content-Location"]).status_code == 202
    assert as_admin.get("/fhir/R4/Patient/$export", **PREFER).status_code == 202


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "headers", "name"),
    [
        ({}, {}, None),  # no Prefer: respond-async
        ({"_type": "Observation"}, PREFER, "_type"),
        ({"_since": "yesterday"}, PREFER, "_since"),
        ({"_since": "2030-01-01T00:00:00Z"}, PREFER, "_since"),
        ({"_outputFormat": "text/csv"}, PREFER, "_outputFormat"),
        ({"_elements": "id"}, PREFER, "_elements"),
    ],
)
def test_bad_export_requests(as_admin, clinic, params, headers, name):
    response = as_admin.get("/fhir/R4/Patient/$export", params, **headers)
    assert response.status_code == 400, response.content
    issue = response.json()["issue"][0]
    assert issue.get("expression") == ([name] if name else None)
    assert not BulkExport.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "status"), [("clinician", 403), ("front_desk", 403), ("elsewhere", 404), ("admin", 202)]
)
def test_who_may_export_a_program(api, clinic, who, status):
    api.force_authenticate(getattr(clinic, who))
    assert api.get(f"/fhir/R4/Group/{clinic.iop.public_id}/$export", **PREFER).status_code == status
