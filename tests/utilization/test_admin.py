"""The UR journey in the admin: front desk enters coverage, the UR coordinator requests, records the payer's
decision and a concurrent review; lists, filters and search work; front desk never sees the notes.
Today is Tuesday 16 March 2027."""

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from tests.utilization.conftest import admit, day
from utilization.models import Authorization, Coverage

pytestmark = pytest.mark.django_db


def test_the_ur_journey_in_the_admin(client, patient, bed, residential, blue, front_desk, ur_user, clinician):
    patient.registered_site = bed.program.site
    patient.save()
    stay = admit(patient, bed, day(9), clinician)

    client.force_login(front_desk)
    response = client.post(reverse("admin:utilization_coverage_add"), {
        "patient": patient.pk, "payer": blue.pk, "rank": 1, "member_id": "BH-5", "group_number": "",
        "subscriber_relation": "self", "effective_on": "2027-03-01", "ends_on": "",
    })  # fmt: skip
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    coverage = Coverage.objects.get(patient=patient)
    assert coverage.created_by == front_desk

    client.force_login(ur_user)
    response = client.post(reverse("admin:utilization_authorization_add"), {
        "episode": stay.episode.pk, "coverage": coverage.pk, "asam_level": residential.asam_level,
        "unit_kind": "days", "requested_units": 40, "start_on": "2027-03-09", "end_on": "2027-03-15",
        "notes": "Detox history",
    })  # fmt: skip
    assert response.status_code == 200 and "do not fit" in response.content.decode()  # a clear error, on the form
    assert not Authorization.objects.exists()
    response = client.post(reverse("admin:utilization_authorization_add"), {
        "episode": stay.episode.pk, "coverage": coverage.pk, "asam_level": residential.asam_level,
        "unit_kind": "days", "requested_units": 7, "start_on": "2027-03-09", "end_on": "2027-03-15",
        "notes": "Detox history",
    })  # fmt: skip
    auth = Authorization.objects.get()
    assert response.status_code == 302 and auth.status == "requested"

    response = client.post(reverse("admin:utilization_authorization_decision", args=[auth.pk]), {
        "status": "approved", "decided_on": "2027-03-16", "number": "BH-77", "approved_units": 7,
        "start_on": "2027-03-09", "end_on": "2027-03-15", "next_review_on": "2027-03-16",
    })  # fmt: skip
    assert response.status_code == 302
    response = client.post(reverse("admin:utilization_authorization_review", args=[auth.pk]), {
        "reviewed_on": "2027-03-16", "outcome": "approved_more", "units_added": 5, "new_end_on": "2027-03-20",
        "next_review_on": "2027-03-19",
    })  # fmt: skip
    assert response.status_code == 302
    auth.refresh_from_db()
    assert (auth.number, auth.approved_units, auth.total_units, auth.approved_through) == ("BH-77", 7, 12, day(20))

    listing = client.get(reverse("admin:utilization_authorization_changelist"), {"q": "BH-77"})
    assert listing.context["cl"].result_count == 1
    assert "8 of 12 days" in listing.content.decode()
    page = client.get(reverse("admin:utilization_authorization_change", args=[auth.pk]))
    assert "Detox history" in page.content.decode()
    assert AuditEvent.objects.filter(category="payer", username="uma.ur", action="view", patient=patient).exists()

    client.force_login(front_desk)
    page = client.get(reverse("admin:utilization_authorization_change", args=[auth.pk]))
    assert page.status_code == 200 and "Detox history" not in page.content.decode()
    assert client.get(reverse("admin:utilization_authorization_decision", args=[auth.pk])).status_code == 403
    assert client.get(reverse("admin:utilization_authorization_add")).status_code == 403


def test_the_lists_filter_and_search(client, ur_user, alex_journey, sam_self_pay):
    client.force_login(ur_user)
    for model, params, count in [
        ("authorization", {"status__exact": "partial"}, 1),
        ("authorization", {"worklist": "reviews_due"}, 1),
        ("coverage", {"q": "BH-1001"}, 1),
        ("placementunderreview", {"worklist": "days_not_covered"}, 1),
        ("programbilling", {}, 2),
        ("payer", {"kind__exact": "self_pay"}, 1),
    ]:
        response = client.get(reverse(f"admin:utilization_{model}_changelist"), params)
        assert response.status_code == 200, model
        assert response.context["cl"].result_count == count, (model, params)
        if model == "placementunderreview":
            assert "1 (from March 11, 2027)" in response.content.decode()
