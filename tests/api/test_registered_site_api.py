"""The staff API's registration has no "saved but not yours to see" hole (issue 11, defect 2).

POST /api/v1/patients/ requires one of the caller's own sites: missing, null or
another site's id is a field error and nothing is written.
"""

import pytest

from patients.models import Patient

pytestmark = pytest.mark.django_db


def _api_body(**fields):
    return {"mrn": "MRN-3001", "legal_first_name": "Robin", "legal_last_name": "Vega", "date_of_birth": "1990-05-04",
            **fields}  # fmt: skip


@pytest.mark.parametrize("site_value", ["missing", None, "other"])
def test_the_api_refuses_a_registration_without_one_of_the_callers_sites(api, site_clinician, other_site, site_value):
    body = _api_body()
    if site_value == "other":
        body["registered_site"] = str(other_site.public_id)
    elif site_value is None:
        body["registered_site"] = None

    api.force_authenticate(site_clinician)
    response = api.post("/api/v1/patients/", body, format="json")

    assert response.status_code == 400
    assert "registered_site" in response.json()["error"]["fields"]
    assert not Patient.objects.filter(mrn="MRN-3001").exists()
