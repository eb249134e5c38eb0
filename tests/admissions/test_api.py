"""The admissions pipeline through the staff API: refer, screen, accept, reserve, admit; and the census over time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from admissions.models import Referral, Reservation
from clinic.models import AuditEvent
from programs.models import Placement
from tests.factories import BedFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def _post(api, url, body=None):
    return api.post(url, body or {}, format="json")


def test_the_whole_pipeline_through_the_api(api, front_desk, site_clinician, residential, bed, day, instant):
    # The front desk takes the call and records the referral, with a clinical note it will not see again.
    api.force_authenticate(front_desk)
    created = _post(
        api,
        "/api/v1/referrals/",
        {
            "program": str(residential.public_id),
            "source": "court",
            "referred_on": str(day - dt.timedelta(days=1)),
            "first_name": "Nia",
            "last_name": "Okafor",
            "date_of_birth": "1990-02-03",
            "phone": "+1 415 555 0142",
            "notes": "Alcohol use disorder, severe; court-ordered treatment",
        },
    )
    assert created.status_code == 201, created.json()
    referral_id = created.json()["id"]
    assert created.json()["status"] == "new" and created.json()["clinical"] is None
    # Front desk cannot screen or accept.
    assert _post(api, f"/api/v1/referrals/{referral_id}/screen/").status_code == 403

    api.force_authenticate(site_clinician)
    detail = api.get(f"/api/v1/referrals/{referral_id}/").json()
    assert detail["clinical"]["notes"].startswith("Alcohol use disorder")
    assert _post(api, f"/api/v1/referrals/{referral_id}/screen/").json()["status"] == "screening"
    accepted = _post(api, f"/api/v1/referrals/{referral_id}/accept/", {"reason": "Meets 3.5 criteria", "mrn": "MRN-77"})
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["status"] == "accepted" and accepted.json()["patient"]["mrn"] == "MRN-77"
    assert accepted.json()["days_waiting"] == 0
    waitlist = api.get(f"/api/v1/waitlist/?program={residential.public_id}").json()
    assert [row["id"] for row in waitlist["results"]] == [referral_id]

    # Front desk reserves the bed from Friday.
    api.force_authenticate(front_desk)
    friday = day + dt.timedelta(days=2)
    reserved = _post(
        api,
        "/api/v1/reservations/",
        {
            "referral": referral_id,
            "bed": str(bed.public_id),
            "start_on": str(friday),
            "expires_at": f"{friday}T23:00:00Z",
        },
    )
    assert reserved.status_code == 201, reserved.json()
    reservation_id = reserved.json()["id"]
    assert reserved.json()["bed"] == bed.label and reserved.json()["status"] == "held"
    # The bed is not given to anyone else that week.
    other = PatientFactory(registered_site=residential.site)
    api.force_authenticate(site_clinician)
    refused = _post(
        api,
        "/api/v1/residential-stays/",
        {"patient": str(other.public_id), "bed": str(bed.public_id), "admitted_on": str(day + dt.timedelta(days=3))},
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "bed_unavailable"
    assert not Placement.objects.filter(patient=other).exists()

    # Friday: the clinician admits; the reservation becomes the stay.
    import time_machine

    with time_machine.travel(dt.datetime.combine(friday, dt.time(15), tzinfo=dt.UTC)):
        admitted = _post(api, f"/api/v1/reservations/{reservation_id}/admit/")
    assert admitted.status_code == 200, admitted.json()
    assert admitted.json()["status"] == "admitted" and admitted.json()["stay"]
    stay = Placement.objects.get(public_id=admitted.json()["stay"])
    assert stay.bed == bed and stay.start_on == friday
    assert Referral.objects.get(public_id=referral_id).status == "admitted"
    # Every step was recorded against the patient.
    patient = stay.patient
    kinds = set(AuditEvent.objects.filter(patient=patient).values_list("object_type", flat=True))
    assert {"admissions.referral", "admissions.reservation"} <= kinds


def test_bad_input_is_a_clear_error_and_writes_nothing(api, site_clinician, refer, bed, day):
    waiting = refer(upto="accepted")
    api.force_authenticate(site_clinician)
    bad = {"referral": str(waiting.public_id), "bed": str(bed.public_id), "start_on": str(day - dt.timedelta(days=1))}
    response = _post(api, "/api/v1/reservations/", {**bad, "expires_at": f"{day + dt.timedelta(days=1)}T12:00:00Z"})
    assert response.status_code == 400 and response.json()["error"]["fields"] == {
        "start_on": ["A reservation cannot start in the past."]
    }
    response = _post(api, "/api/v1/reservations/", {**bad, "start_on": str(day), "expires_at": "2020-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert not Reservation.objects.exists()


def test_staff_of_another_site_see_no_referral(api, colleague_elsewhere, refer):
    referral = refer(upto="accepted")
    api.force_authenticate(colleague_elsewhere)
    assert api.get(f"/api/v1/referrals/{referral.public_id}/").status_code == 404
    assert api.get("/api/v1/referrals/").json()["results"] == []
    assert api.get("/api/v1/waitlist/").json()["results"] == []


def test_the_census_endpoints(api, site_clinician, residential, site, day):
    for label in ("A", "B"):
        BedFactory(program=residential, label=label)
    api.force_authenticate(site_clinician)
    start, end = day - dt.timedelta(days=3), day + dt.timedelta(days=3)
    program = api.get(f"/api/v1/programs/{residential.public_id}/census/?from={start}&to={end}").json()
    assert [row["day"] for row in program["days"]] == [str(start + dt.timedelta(days=n)) for n in range(7)]
    assert [row["forecast"] for row in program["days"]] == [False] * 4 + [True] * 3
    assert program["days"][0]["free"] == 2
    by_site = api.get(f"/api/v1/sites/{site.public_id}/census/?from={start}&to={end}").json()
    assert by_site["days"][0]["free_beds"] == 2
    everywhere = api.get(f"/api/v1/census/?from={start}&to={end}").json()
    assert [r["program"]["name"] for r in everywhere["results"]] == [residential.name]
    assert len(everywhere["total"]) == 7
    default = api.get(f"/api/v1/programs/{residential.public_id}/census/").json()
    assert len(default["days"]) == 14 and default["from"] == str(day)


@pytest.mark.parametrize(
    "query",
    ["?from=2027-01-01&to=2028-01-02", "?from=2027-03-10&to=2027-03-09", "?from=yesterday"],
)
def test_a_bad_census_range_is_a_400(api, site_clinician, residential, query):
    api.force_authenticate(site_clinician)
    response = api.get(f"/api/v1/programs/{residential.public_id}/census/{query}")
    assert response.status_code == 400


def test_census_queries_do_not_grow_with_the_range(api, site_clinician, residential, site, day):
    api.force_authenticate(site_clinician)
    api.get(f"/api/v1/sites/{site.public_id}/census/")  # the role lookup is cached on the user after one call
    counts = []
    for days in (7, 366):
        end = day + dt.timedelta(days=days - 1)
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"/api/v1/sites/{site.public_id}/census/?from={day}&to={end}")
        assert response.status_code == 200 and len(response.json()["days"]) == days
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert sum("generate_series" in q["sql"] for q in queries.captured_queries) == 1
