"""The UR journey through the staff API, as the front desk, the UR coordinator and the clinician live it.
Today is Tuesday 16 March 2027."""

import pytest
from rest_framework.test import APIClient

from clinic.models import AuditEvent
from tests.utilization.conftest import TODAY

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _ok(response, status=200):
    assert response.status_code == status, response.json()
    return response.json()


def test_the_ur_journey(patient, bed, iop, blue, front_desk, ur_user, site_clinician):
    desk, ur, clinician = _client(front_desk), _client(ur_user), _client(site_clinician)
    patient.registered_site = bed.program.site
    patient.save()

    # The front desk records the card at admission.
    coverage = _ok(desk.post("/api/v1/coverages/", {
        "patient": str(patient.public_id), "payer": str(blue.public_id), "member_id": "BH-42",
        "group_number": "G-7", "effective_on": "2027-03-01",
    }, format="json"), 201)  # fmt: skip
    stay = _ok(clinician.post("/api/v1/residential-stays/", {
        "patient": str(patient.public_id), "bed": str(bed.public_id), "admitted_on": "2027-03-09",
    }, format="json"), 201)  # fmt: skip

    # The UR coordinator asks for 7 days and records the payer's answer.
    auth = _ok(ur.post("/api/v1/authorizations/", {
        "episode": stay["episode"], "coverage": coverage["id"], "asam_level": "3.5", "requested_units": 7,
        "start_on": "2027-03-09", "end_on": "2027-03-15", "requested_on": "2027-03-09",
        "notes": "Withdrawal, relapse risk high",
    }, format="json"), 201)  # fmt: skip
    assert auth["status"] == "requested" and auth["units_used"] == 0
    auth = _ok(ur.post(f"/api/v1/authorizations/{auth['id']}/decision/", {
        "status": "approved", "decided_on": "2027-03-10", "number": "BH-A-1", "approved_units": 7,
        "start_on": "2027-03-09", "end_on": "2027-03-15", "next_review_on": "2027-03-15",
    }, format="json"))  # fmt: skip
    assert (auth["units_used"], auth["units_approved"], auth["covered_through"]) == (7, 7, "2027-03-15")
    episode = _ok(ur.get(f"/api/v1/utilization/episodes/{stay['episode']}/"))
    assert episode["headline"] == "No authorization in force"  # it ended yesterday: today is not covered
    assert (episode["days_in_care"], episode["days_covered"], episode["days_at_risk"]) == (8, 7, 1)
    worklist = _ok(ur.get("/api/v1/utilization/worklist/"))["results"]
    assert {(i["kind"], i["days"]) for i in worklist} == {("reviews_due", None), ("days_not_covered", 1)}

    # The concurrent review approves a week more; the stay is extended beyond it.
    auth = _ok(ur.post(f"/api/v1/authorizations/{auth['id']}/reviews/", {
        "reviewed_on": "2027-03-15", "outcome": "approved_more", "units_added": 7, "new_end_on": "2027-03-22",
        "next_review_on": "2027-03-19",
    }, format="json"), 201)  # fmt: skip
    assert (auth["approved_units"], auth["units_approved"], auth["end_on"]) == (7, 14, "2027-03-15")
    assert [r["outcome"] for r in auth["reviews"]] == ["approved_more"]
    episode = _ok(ur.get(f"/api/v1/utilization/episodes/{stay['episode']}/"))
    assert episode["headline"] == "Auth 8 of 14 days, review due March 19, 2027" and episode["days_at_risk"] == 0
    # Planned to Apr 8 (30 days): Mar 23 .. Apr 7 are not covered yet.
    assert (episode["planned_days_not_covered"], episode["first_planned_day_not_covered"]) == (16, "2027-03-23")
    _ok(clinician.post(f"/api/v1/residential-stays/{stay['id']}/extend/", {
        "new_planned_discharge_on": "2027-04-15", "reason": "Needs longer",
    }, format="json"))  # fmt: skip
    episode = _ok(ur.get(f"/api/v1/utilization/episodes/{stay['episode']}/"))
    assert episode["planned_days_not_covered"] == 23

    # A step-down today: the IOP needs its own authorization.
    _ok(clinician.post(f"/api/v1/residential-stays/{stay['id']}/step-down/", {
        "to_program": str(iop.public_id), "on": TODAY.isoformat(), "reason": "Stable",
    }, format="json"), 201)  # fmt: skip
    needs = _ok(ur.get("/api/v1/utilization/worklist/?kind=needs_authorization"))["results"]
    assert [(i["patient"]["id"], i["asam_level"]) for i in needs] == [(str(patient.public_id), "2.1")]
    iop_auth = _ok(ur.post("/api/v1/authorizations/", {
        "episode": stay["episode"], "coverage": coverage["id"], "asam_level": "2.1", "unit_kind": "sessions",
        "requested_units": 12, "start_on": TODAY.isoformat(), "end_on": "2027-04-15",
    }, format="json"), 201)  # fmt: skip
    assert _ok(ur.get("/api/v1/utilization/worklist/?kind=needs_authorization"))["results"] == []
    _ok(ur.post(f"/api/v1/authorizations/{iop_auth['id']}/decision/", {
        "status": "approved", "decided_on": TODAY.isoformat(), "number": "BH-I-1", "approved_units": 12,
        "start_on": TODAY.isoformat(), "end_on": "2027-04-15",
    }, format="json"))  # fmt: skip
    residential_auth = _ok(ur.get(f"/api/v1/authorizations/{auth['id']}/"))
    assert residential_auth["units_used"] == 7  # Mar 9-15: the step-down day is IOP's

    # Front desk sees whether care is authorized, never the notes.
    assert _ok(desk.get(f"/api/v1/authorizations/{auth['id']}/"))["notes"] is None
    assert residential_auth["notes"] == "Withdrawal, relapse risk high"
    # Every read of coverage and authorizations is in the trail as "payer".
    reads = AuditEvent.objects.filter(category="payer", action="view", patient=patient)
    assert {e.username for e in reads} == {"uma.ur", "lena.frontdesk"}
    assert reads.filter(path__startswith="/api/v1/authorizations/").exists()


def test_bad_input_is_a_clear_error_and_writes_nothing(alex_journey, ur_user):
    ur = _client(ur_user)
    iop_auth = alex_journey["iop_auth"]
    response = ur.post(f"/api/v1/authorizations/{iop_auth.public_id}/reviews/", {
        "reviewed_on": "2027-03-01", "outcome": "pending",
    }, format="json")  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_review" and "reviewed_on" in response.json()["error"]["fields"]
    response = ur.get("/api/v1/billable-units/?date_from=2026-01-01&date_to=2027-03-16")
    assert response.status_code == 400 and response.json()["error"]["code"] == "export_range_too_long"
    response = ur.post("/api/v1/authorizations/", {
        "episode": str(alex_journey["stay"].episode.public_id), "coverage": str(alex_journey["coverage"].public_id),
        "asam_level": "3.7", "requested_units": 3, "start_on": "2027-03-16", "end_on": "2027-03-18",
    }, format="json")  # fmt: skip
    assert response.status_code == 400 and "asam_level" in response.json()["error"]["fields"]
    assert iop_auth.reviews.count() == 0
    response = ur.get("/api/v1/billable-units/?payer=not-a-uuid")
    assert response.status_code == 400 and "payer" in response.json()["error"]["fields"]


def test_the_billable_units_through_the_api(alex_journey, ur_user, blue, patient):
    rows = _ok(_client(ur_user).get(f"/api/v1/billable-units/?payer={blue.public_id}&date_from=2027-03-08"))
    assert [(r["day"], r["hcpcs_code"], r["authorization"]) for r in rows["results"]] == [
        ("2027-03-08", "H0019", "AUTH-R1"), ("2027-03-09", "H0019", "AUTH-R1"), ("2027-03-10", "H0019", "AUTH-R1"),
        ("2027-03-11", "H0019", "not covered"), ("2027-03-12", "S9480", "AUTH-I1"), ("2027-03-16", "S9480", "AUTH-I1"),
    ]  # fmt: skip
    assert AuditEvent.objects.filter(category="payer", action="export", patient=patient).count() == 1


def test_a_colleague_at_another_site_gets_nothing(alex_journey, colleague_elsewhere):
    other = _client(colleague_elsewhere)
    assert other.get(f"/api/v1/authorizations/{alex_journey['iop_auth'].public_id}/").status_code == 404
    assert other.get(f"/api/v1/utilization/episodes/{alex_journey['stay'].episode.public_id}/").status_code == 404
    assert other.get("/api/v1/billable-units/?date_from=2027-03-01").json()["results"] == []
    assert other.get("/api/v1/utilization/worklist/").json()["results"] == []
