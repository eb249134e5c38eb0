"""Every resource the FHIR API returns is valid FHIR R4 (4.0.1), and searches find what a person counts by hand."""

from __future__ import annotations

import pytest
from fhir.resources import __fhir_version__, get_fhir_model_class

from exchange import search
from tests.exchange.conftest import ids

pytestmark = pytest.mark.django_db


def valid(resource: dict) -> dict:
    """Parse with the R4 models of fhir.resources; raises on anything R4 does not allow."""
    get_fhir_model_class(resource["resourceType"]).parse_obj(resource)
    return resource


def test_the_validating_models_are_r4():
    assert __fhir_version__ == "4.0.1"


@pytest.mark.parametrize("kind", sorted(search.TYPES))
def test_every_resource_type_and_its_bundle_validate(as_admin, clinic, kind):
    bundle = as_admin.get(f"/fhir/R4/{kind}", {"_count": 100}).json()
    valid(bundle)
    assert bundle["type"] == "searchset"
    assert bundle["entry"], f"the clinic has no {kind}: the test would check nothing"
    for entry in bundle["entry"]:
        resource = valid(entry["resource"])
        assert resource["resourceType"] == kind
        one = as_admin.get(f"/fhir/R4/{kind}/{resource['id']}")
        assert one.status_code == 200, one.content
        assert one["Content-Type"].startswith("application/fhir+json")
        assert valid(one.json()) == resource


def test_the_capability_statement_lists_exactly_what_is_served(api, clinic):
    response = api.get("/fhir/R4/metadata")
    statement = valid(response.json())
    assert statement["fhirVersion"] == "4.0.1"
    served = {r["type"] for r in statement["rest"][0]["resource"]}
    assert served == set(search.TYPES) | {"Group"}
    encounter = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Encounter")
    assert {p["name"] for p in encounter["searchParam"]} == {"_id", "_lastUpdated", "patient", "status", "date"}
    assert encounter["searchInclude"] == ["Encounter:patient"]


def test_the_journey_as_encounters_counted_by_hand(as_admin, clinic):
    bundle = as_admin.get("/fhir/R4/Encounter", {"patient": f"Patient/{clinic.alex.public_id}"}).json()
    by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    # The residential stay, the IOP enrollment, and the two groups attended (present, late); the absence is not one.
    assert set(by_id) == {str(clinic.stay.public_id), str(clinic.enrollment.public_id)} | {
        str(b.public_id) for b in clinic.attended
    }
    stay = by_id[str(clinic.stay.public_id)]
    assert stay["class"]["code"] == "NONAC" and stay["status"] == "finished"
    assert stay["period"] == {
        "start": clinic.stay.start_on.isoformat(),
        "end": clinic.step_down.effective_on.isoformat(),
    }
    assert stay["location"][0]["location"]["reference"] == f"Location/{clinic.bed.public_id}"
    enrollment = by_id[str(clinic.enrollment.public_id)]
    assert enrollment["class"]["code"] == "AMB" and enrollment["status"] == "in-progress"
    assert enrollment["episodeOfCare"] == [{"reference": f"EpisodeOfCare/{clinic.stay.episode.public_id}"}]
    late = by_id[str(clinic.attended[1].public_id)]
    assert late["partOf"] == {"reference": f"Encounter/{clinic.enrollment.public_id}"}
    assert late["length"]["value"] == 150


def test_appointments_carry_the_participation_and_status(as_admin, clinic):
    bundle = as_admin.get("/fhir/R4/Appointment", {"patient": str(clinic.alex.public_id), "_count": 100}).json()
    by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    assert by_id[str(clinic.attended[0].public_id)]["status"] == "fulfilled"
    assert by_id[str(clinic.missed[0].public_id)]["status"] == "noshow"
    upcoming = [r for r in by_id.values() if r["status"] == "booked"]
    assert upcoming and all(r["start"] > "2026-11-18T20" for r in upcoming)
    statuses = as_admin.get("/fhir/R4/Appointment", {"patient": str(clinic.alex.public_id), "status": "noshow"}).json()
    assert ids(statuses) == {str(clinic.missed[0].public_id)}


def test_search_by_status_date_and_last_updated(as_admin, clinic):
    finished = as_admin.get("/fhir/R4/EpisodeOfCare", {"status": "finished"}).json()
    assert ids(finished) == {str(clinic.discharge.episode.public_id)}
    active = as_admin.get("/fhir/R4/EpisodeOfCare", {"status": "active,onhold"}).json()
    assert ids(active) == {str(clinic.stay.episode.public_id), str(clinic.jo_stay.episode.public_id)}
    # Placements that started in the last 20 days: Alex's IOP (day -8) and Jo's stay (day -10).
    recent = as_admin.get("/fhir/R4/Encounter", {"date": "ge2026-10-29", "status": "in-progress"}).json()
    assert ids(recent) == {str(clinic.enrollment.public_id), str(clinic.jo_stay.public_id)}
    # Finished and started before 20 Oct: Alex's stay (day -40) and Sam's IOP (day -30, discharged day -7).
    before = as_admin.get("/fhir/R4/Encounter", {"date": "lt2026-10-20", "status": "finished"}).json()
    assert ids(before) == {str(clinic.stay.public_id), str(clinic.discharge.ended_placement.public_id)}
    nothing_new = as_admin.get("/fhir/R4/Patient", {"_lastUpdated": "gt2027-01-01"}).json()
    assert nothing_new["total"] == 0


def test_care_plan_and_consent_history(as_admin, clinic):
    plans = as_admin.get("/fhir/R4/CarePlan", {"patient": str(clinic.sam.public_id)}).json()
    (plan,) = [e["resource"] for e in plans["entry"]]
    assert plan["status"] == "active"
    assert [a["detail"]["scheduledPeriod"]["start"] for a in plan["activity"]] == [
        c.due_on.isoformat() for c in clinic.plan.checkins.order_by("due_on")
    ]
    consents = as_admin.get("/fhir/R4/Consent", {"patient": str(clinic.alex.public_id)}).json()
    resources = [e["resource"] for e in consents["entry"]]
    part2 = [r for r in resources if r["scope"]["coding"][0]["code"] == "patient-privacy"]
    messaging = sorted((r for r in resources if r["scope"]["coding"][0]["code"] == "treatment"), key=lambda r: r["id"])
    assert [r["status"] for r in part2] == ["active"]
    # Given at registration, withdrawn by text reply, given again in the app: two givings, the first ended.
    assert [r["status"] for r in messaging] == ["inactive", "active"]
    assert "end" in messaging[0]["provision"]["period"] and "end" not in messaging[1]["provision"]["period"]
    one = as_admin.get(f"/fhir/R4/Consent/{messaging[0]['id']}")
    assert one.status_code == 200 and one.json() == messaging[0]
    revoked = as_admin.get("/fhir/R4/Consent", {"patient": str(clinic.nia.public_id), "status": "inactive"}).json()
    assert ids(revoked) == {str(clinic.consents.nia.public_id)}


def test_paging_links_walk_every_result_once(as_admin, clinic):
    seen, url, pages = [], "/fhir/R4/Appointment?_count=4", 0
    while url:
        bundle = as_admin.get(url).json()
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        pages += 1
    assert len(seen) == len(set(seen)) == bundle["total"]
    assert pages == -(-bundle["total"] // 4) > 2


def test_paging_across_two_tables_keeps_the_order(as_admin, clinic):
    """Location is sites then beds; a page boundary inside the list loses and repeats nothing."""
    every = [e["resource"]["id"] for e in as_admin.get("/fhir/R4/Location", {"_count": 100}).json()["entry"]]
    paged = []
    for number in (1, 2, 3):
        paged += [
            e["resource"]["id"]
            for e in as_admin.get("/fhir/R4/Location", {"_count": 2, "_page": number}).json()["entry"]
        ]
    assert paged == every and len(every) == 3  # the admin's one site and its two beds


def test_include_brings_the_patients(as_admin, clinic):
    bundle = as_admin.get("/fhir/R4/Encounter", {"_include": "Encounter:patient", "status": "in-progress"}).json()
    assert ids(bundle, "Patient", mode="include") == {str(clinic.alex.public_id), str(clinic.jo.public_id)}
    assert all(e["resource"]["resourceType"] == "Encounter" for e in bundle["entry"] if e["search"]["mode"] == "match")


def test_a_search_costs_the_same_queries_for_a_short_and_a_long_page(as_admin, clinic):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    as_admin.get("/fhir/R4/Appointment")  # the caller's role is looked up once and kept
    counts = []
    for size in (1, 50):
        with CaptureQueriesContext(connection) as captured:
            assert as_admin.get("/fhir/R4/Appointment", {"_count": size}).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_staff_see_only_their_sites(api, clinic):
    api.force_authenticate(clinic.clinician)
    patients = ids(api.get("/fhir/R4/Patient", {"_count": 100}).json())
    assert str(clinic.kim.public_id) not in patients and str(clinic.alex.public_id) in patients
    assert api.get(f"/fhir/R4/Patient/{clinic.kim.public_id}").status_code == 404
    api.force_authenticate(clinic.elsewhere)
    assert ids(api.get("/fhir/R4/Patient").json()) == {str(clinic.kim.public_id)}
    locations = api.get("/fhir/R4/Location").json()
    assert ids(locations) == {str(clinic.lakeview.public_id)}


def test_reads_are_audited_per_patient(as_admin, clinic):
    from clinic.models import AuditEvent

    as_admin.get("/fhir/R4/Encounter", {"patient": str(clinic.alex.public_id)})
    rows = AuditEvent.objects.filter(user=clinic.admin, detail="FHIR Encounter")
    assert [(r.patient_id, r.action, r.category) for r in rows] == [(clinic.alex.pk, "view", "clinical")]
