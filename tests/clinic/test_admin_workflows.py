"""The care-journey workflows in the admin call the services and show refusals as form errors."""

import datetime as dt

import pytest
from django.urls import reverse

from programs import services
from programs.models import Bed, Discharge, Placement, Reversal, Transition
from tests.factories import BedFactory, UserFactory

pytestmark = pytest.mark.django_db

D = dt.timedelta


@pytest.fixture
def staff(client):
    user = UserFactory(username="root", is_superuser=True)
    client.force_login(user)
    return user


def _url(patient, slug):
    return reverse("admin:patients_patient_workflow", args=[patient.pk, slug])


def test_the_bed_picker_offers_only_free_beds(
    client, staff, patient, other_patient, bed, other_bed, residential, today
):
    broken = BedFactory(program=residential, label="102-A", status=Bed.Status.OUT_OF_SERVICE)
    services.admit_to_residential(patient=other_patient, bed=bed, admitted_on=today, admitted_by=staff)

    choices = [value for value, _ in client.get(_url(patient, "admit")).context["form"].fields["bed"].choices if value]

    assert [int(str(v)) for v in choices] == [other_bed.pk]
    assert broken.pk not in choices


def test_admission_through_the_admin(client, staff, patient, bed, today):
    response = client.post(_url(patient, "admit"), {"bed": bed.pk, "admitted_on": today.isoformat()})

    assert response.status_code == 302
    stay = Placement.objects.get(patient=patient)
    assert stay.bed == bed and stay.created_by == staff
    page = client.get(response.url)
    assert "Admitted to Residential 3.5, bed 101-A" in page.content.decode()


def test_a_refusal_is_a_form_error_and_nothing_is_written(client, staff, patient, bed, today):
    response = client.post(
        _url(patient, "admit"),
        {"bed": bed.pk, "admitted_on": today.isoformat(), "planned_discharge_on": (today + D(200)).isoformat()},
    )

    assert response.status_code == 200
    assert "longer than Residential 3.5" in str(response.context["form"].errors["planned_discharge_on"])
    assert not Placement.objects.exists()


def test_step_down_discharge_and_reversal_through_the_admin(client, staff, patient, bed, iop, today):
    services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(30), admitted_by=staff)

    assert (
        client.post(
            _url(patient, "step-down"), {"to_program": iop.pk, "on": today.isoformat(), "reason": "Stable, engaged"}
        ).status_code
        == 302
    )
    transition = Transition.objects.get()
    assert transition.to_placement.program == iop

    assert (
        client.post(
            _url(patient, "discharge"), {"on": (today + D(1)).isoformat(), "disposition": "completed", "notes": ""}
        ).status_code
        == 302
    )
    discharge = Discharge.objects.get()

    reverse_url = reverse("admin:patients_patient_reverse", args=[patient.pk, "discharge", discharge.pk])
    assert client.post(reverse_url, {"reason": "Wrong chart"}).status_code == 302
    assert Reversal.objects.get().discharge == discharge


def test_a_workflow_that_does_not_fit_the_current_level_of_care_is_turned_away(client, staff, patient):
    response = client.get(_url(patient, "step-down"), follow=True)
    assert "needs a current residential stay" in response.content.decode()


def test_front_desk_may_not_make_clinical_decisions(client, front_desk, patient, site):
    patient.registered_site = site
    patient.save(update_fields=["registered_site"])
    client.force_login(front_desk)
    assert client.get(_url(patient, "admit")).status_code == 403


def test_a_clinician_at_the_site_admits_and_sees_only_their_sites_beds(
    client, site_clinician, patient, site, bed, today
):
    elsewhere = BedFactory(label="900-A")  # a residential program at another site
    patient.registered_site = site
    patient.save(update_fields=["registered_site"])
    client.force_login(site_clinician)

    offered = [str(v) for v, _ in client.get(_url(patient, "admit")).context["form"].fields["bed"].choices if v]
    assert offered == [str(bed.pk)] and str(elsewhere.pk) not in offered
    assert client.post(_url(patient, "admit"), {"bed": bed.pk, "admitted_on": today.isoformat()}).status_code == 302


def test_a_colleague_at_another_site_cannot_reach_the_patient(client, colleague_elsewhere, patient, site):
    patient.registered_site = site
    patient.save(update_fields=["registered_site"])
    client.force_login(colleague_elsewhere)
    assert client.get(_url(patient, "admit")).status_code == 404
