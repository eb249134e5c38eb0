"""The admin's list filters offer only the sites and programs the user may see (issue 11, defect 6).

Django's related-object filters list every row of the related table, so a
clinician of Riverside read "Lakeview Center" and its programs in the sidebar of
every list. ``ScopedAdminMixin`` makes each such filter ask ``clinic.access``.
One test per admin list: as a clinician of one site, the other site's names are
nowhere on the page; as a superuser they are in the filter (the test can see them).
"""

import pytest
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.urls import reverse

from tests.factories import BedFactory, ProgramFactory

pytestmark = pytest.mark.django_db
ELSEWHERE = ("Lakeview Center", "Lakeview Evening IOP")


def _has_related_filter(model_admin) -> bool:
    return any(
        isinstance(f, str) and get_fields_from_path(model_admin.model, f)[-1].is_relation
        for f in model_admin.list_filter
    )


ADMINS = sorted(
    (f"{model._meta.app_label}_{model._meta.model_name}", _has_related_filter(model_admin))
    for model, model_admin in admin.site._registry.items()
)
WITH_RELATED_FILTER = {name for name, related in ADMINS if related}
# The lists whose related filters name sites or programs (the users list filters on groups).
SITE_OR_PROGRAM_FILTER = {
    "programs_program", "programs_bed", "programs_treatmentepisode", "programs_residentialstay",
    "programs_iopenrollment", "programs_transition", "programs_discharge", "programs_aftercareplan",
    "scheduling_sessionseries", "scheduling_session", "scheduling_closure", "scheduling_booking",
    "reminders_followupitem", "clinic_sitemembership",
}  # fmt: skip


def test_every_list_with_a_site_or_program_filter_is_checked_below():
    # A new admin with a related filter joins the parametrised test by itself; this guards the list.
    assert SITE_OR_PROGRAM_FILTER <= WITH_RELATED_FILTER


@pytest.fixture
def two_sites(site, other_site, iop, residential):
    ProgramFactory(site=other_site, iop=True, name="Lakeview Evening IOP")
    BedFactory(program=residential, label="101-A")
    return site, other_site


@pytest.mark.parametrize("name, related_filter", ADMINS, ids=[name for name, _ in ADMINS])
def test_a_clinician_of_one_site_sees_no_other_sites_names_in_the_list(
    client, site_clinician, superuser, two_sites, name, related_filter
):
    url = reverse(f"admin:{name}_changelist")
    client.force_login(site_clinician)
    response = client.get(url)

    assert response.status_code in (200, 403)
    page = response.content.decode()
    for other in ELSEWHERE:
        assert other not in page, f"{other!r} is offered on {url}"

    if name in SITE_OR_PROGRAM_FILTER:
        client.force_login(superuser)
        everything = client.get(url).content.decode()
        assert any(other in everything for other in ELSEWHERE)  # the page does show them to someone who may see them
