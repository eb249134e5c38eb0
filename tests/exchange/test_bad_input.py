"""Bad input gets an OperationOutcome that names the problem, never a 5xx; who may not read gets nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange import search

pytestmark = pytest.mark.django_db


def outcome(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def test_an_unknown_resource_type(as_admin, clinic):
    issue = outcome(as_admin.get("/fhir/R4/Observation"), 400)
    assert issue["code"] == "not-supported" and "Observation" in issue["diagnostics"]


def test_an_unsupported_search_parameter_is_named(as_admin, clinic):
    issue = outcome(as_admin.get("/fhir/R4/Encounter", {"subject:Patient.name": "x"}), 400)
    assert issue["expression"] == ["subject:Patient.name"]
    issue = outcome(as_admin.get("/fhir/R4/Location", {"patient": str(clinic.alex.public_id)}), 400)
    assert issue["expression"] == ["patient"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"_count": "101"}, "_count"),
        ({"_count": "0"}, "_count"),
        ({"_page": "-1"}, "_page"),
        ({"date": "2026-13-45"}, "date"),
        ({"date": "ge2026-11-01T10:00"}, "date"),
        ({"status": "dancing"}, "status"),
        ({"patient": "Patient/not-a-uuid"}, "patient"),
        ({"_include": "Encounter:subject"}, "_include"),
        ({"_format": "xml"}, "_format"),
        ({"_lastUpdated": "ge2026-01-01T10:00:00+17:23"}, "_lastUpdated"),
        ({"_lastUpdated": "ge0001-01-01T00:00:00+01:00"}, "_lastUpdated"),
        ({"patient": "a\x00b"}, "patient"),
    ],
)
def test_bad_values_are_refused_with_the_parameter_named(as_admin, clinic, params, name):
    issue = outcome(as_admin.get("/fhir/R4/Encounter", params), 400)
    assert issue["expression"] == [name]


def test_an_unknown_or_foreign_id_is_the_same_404(as_admin, api, clinic):
    assert outcome(as_admin.get("/fhir/R4/Patient/00000000-0000-0000-0000-000000000000"), 404)["code"] == "not-found"
    assert outcome(as_admin.get(f"/fhir/R4/Patient/{clinic.kim.public_id}"), 404)["code"] == "not-found"
    assert outcome(as_admin.get("/fhir/R4/Patient/%20drop"), 404)


def test_only_reads_are_offered(as_admin, clinic):
    assert outcome(as_admin.post("/fhir/R4/Patient", {}), 405)["code"] == "not-supported"


@pytest.mark.parametrize(
    "who", [None, "front_desk", "clinician", "admin", "elsewhere", "superuser", "patient", "norole"]
)
def test_who_may_search(api, clinic, who):
    from tests.factories import UserFactory

    if who == "patient":
        clinic.alex.user = UserFactory(username="alex.patient", is_staff=False)
        clinic.alex.save(update_fields=["user"])
        api.force_authenticate(clinic.alex.user)
    elif who == "norole":
        api.force_authenticate(UserFactory(username="no.role"))
    elif who is not None:
        api.force_authenticate(getattr(clinic, who))
    response = api.get("/fhir/R4/Patient")
    expected = {None: 401, "patient": 403, "norole": 403}.get(who, 200)
    assert response.status_code == expected
    if expected == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
    if expected != 200:
        assert response.json()["resourceType"] == "OperationOutcome"


def test_a_garbage_or_expired_staff_jwt_is_a_401_outcome(api, clinic):
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    issue = outcome(api.get("/fhir/R4/Patient"), 401)
    assert issue["code"] == "login" and "token" in issue["diagnostics"].lower()


_NAMES = st.sampled_from(
    ["_id", "_lastUpdated", "_count", "_page", "patient", "status", "date", "_include", "identifier"]
)
_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "ge2026-01-01",
            "lt2026-11-18T10:00:00Z",
            "eq2026-02-30",
            "finished",
            "1",
            "0",
            "Patient/x",
            "a\x00b",
            "ge2026-01-01T10:00:00+17:23",
            "le9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+01:00",
        ]
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(search.TYPES)), params=st.lists(st.tuples(_NAMES, _VALUES), max_size=3))
def test_no_search_is_a_server_error(as_admin, clinic, kind, params):
    response = as_admin.get(f"/fhir/R4/{kind}", params)
    assert response.status_code in (200, 400), (kind, params, response.content[:300])
    assert response.json()["resourceType"] in ("Bundle", "OperationOutcome")
