"""Staff never save a patient they cannot see (issue 11, defect 2).

A clinician who registered a patient without picking a site got "Patient with ID
43 doesn't exist": the patient was saved and its author could not see it. The
registered site is required for anyone who is not a superuser, offered among the
user's own sites, and chosen for them when they work at one site only.
"""

import pytest
from django.urls import reverse

from clinic.access import Role
from patients.models import Patient
from tests.factories import SiteFactory, staff_member

pytestmark = pytest.mark.django_db
ADD = "admin:patients_patient_add"


def _form_data(response, **fields):
    """The add form as the browser would post it: the fields given, empty inlines."""
    data = {
        "mrn": "MRN-2001",
        "legal_first_name": "Robin",
        "legal_last_name": "Vega",
        "date_of_birth": "1990-05-04",
        "time_zone": "America/New_York",
        "preferred_language": "en",
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "08:00",
        "sms_allowed": "on",
        **fields,
    }
    for formset in response.context["inline_admin_formsets"]:
        prefix = formset.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


def _site_field(response):
    return response.context["adminform"].form.fields["registered_site"]


def test_a_clinician_of_one_site_has_it_chosen_and_cannot_leave_it_blank(client, site_clinician, site, other_site):
    client.force_login(site_clinician)
    page = client.get(reverse(ADD))
    field = _site_field(page)
    assert field.required
    assert list(field.queryset) == [site]
    assert page.context["adminform"].form.initial.get("registered_site") == site.pk or field.initial == site.pk
    html = page.content.decode()
    assert "Lakeview Center" not in html and "---------" not in html.split('name="registered_site"')[1][:400]

    blank = client.post(reverse(ADD), _form_data(page, registered_site=""))

    assert blank.status_code == 200
    assert "registered_site" in blank.context["adminform"].form.errors
    assert not Patient.objects.filter(mrn="MRN-2001").exists()


def test_the_patient_saved_is_one_its_author_can_open(client, site_clinician, site):
    client.force_login(site_clinician)
    page = client.get(reverse(ADD))

    saved = client.post(reverse(ADD), _form_data(page, registered_site=str(site.pk)), follow=True)

    patient = Patient.objects.get(mrn="MRN-2001")
    assert patient.registered_site == site
    assert b"doesn" not in saved.content  # no "... doesn't exist. Perhaps it was deleted?"
    assert client.get(reverse("admin:patients_patient_change", args=[patient.pk])).status_code == 200


def test_staff_of_several_sites_must_choose_among_theirs(client, site, other_site):
    third = SiteFactory(name="Hillside House", code="hillside")
    both = staff_member(role=Role.FRONT_DESK, sites=[site, other_site], username="kim.frontdesk")
    client.force_login(both)
    page = client.get(reverse(ADD))
    field = _site_field(page)
    assert field.required and field.initial is None
    assert set(field.queryset) == {site, other_site}

    blank = client.post(reverse(ADD), _form_data(page, registered_site=""))
    elsewhere = client.post(reverse(ADD), _form_data(page, registered_site=str(third.pk)))

    assert "registered_site" in blank.context["adminform"].form.errors
    assert "registered_site" in elsewhere.context["adminform"].form.errors
    assert not Patient.objects.filter(mrn="MRN-2001").exists()
    client.post(reverse(ADD), _form_data(page, registered_site=str(other_site.pk)))
    assert Patient.objects.get(mrn="MRN-2001").registered_site == other_site


def test_a_superuser_may_still_register_without_a_site(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse(ADD))
    assert not _site_field(page).required

    client.post(reverse(ADD), _form_data(page, registered_site=""))

    assert Patient.objects.get(mrn="MRN-2001").registered_site is None
