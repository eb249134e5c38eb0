"""Find a patient from every page (issue 12), and a patient list that says where each one is."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from programs import services
from tests.factories import BedFactory, PatientFactory

pytestmark = pytest.mark.django_db

SHIFT = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 7)
LIST = reverse("admin:patients_patient_changelist")


@pytest.fixture(autouse=True)
def shift():
    with time_machine.travel(SHIFT, tick=True):
        yield


@pytest.fixture
def admitted(patient, bed, clinician):
    patient.preferred_name = "Lexi"
    patient.phone = "+14155550177"
    patient.save()
    return services.admit_to_residential(patient=patient, bed=bed, admitted_on=TODAY, admitted_by=clinician)


def _found(client, query: str) -> list:
    return list(client.get(LIST, {"q": query}).context["cl"].result_list)


@pytest.mark.parametrize("page", ["admin:index", "admin:programs_bed_board", "admin:patients_patient_changelist"])
def test_the_search_box_is_on_every_page(client, front_desk, page):
    client.force_login(front_desk)
    content = client.get(reverse(page)).content.decode()
    assert 'id="patient-search"' in content and f'action="{LIST}"' in content


@pytest.mark.parametrize("query", ["Rivera", "Lexi", "+14155550177"])
def test_find_by_name_preferred_name_or_phone(client, front_desk, admitted, patient, query):
    client.force_login(front_desk)
    assert _found(client, query) == [patient]


def test_find_by_mrn(client, front_desk, admitted, patient):
    client.force_login(front_desk)
    assert _found(client, patient.mrn) == [patient]


def test_a_colleague_at_another_site_finds_nobody(client, colleague_elsewhere, admitted, patient):
    client.force_login(colleague_elsewhere)
    response = client.get(LIST, {"q": patient.mrn})
    assert list(response.context["cl"].result_list) == []
    assert patient.legal_last_name not in response.content.decode()  # the query itself is echoed back


def test_the_list_shows_the_current_level_of_care(client, front_desk, admitted, patient):
    client.force_login(front_desk)
    page = client.get(LIST).content.decode()
    assert "Current level of care" in page and "Residential 3.5, bed 101-A" in page


def test_the_list_costs_the_same_queries_for_more_patients(client, superuser, residential, clinician):
    client.force_login(superuser)

    def admit(count: int) -> None:
        for _ in range(count):
            services.admit_to_residential(
                patient=PatientFactory(), bed=BedFactory(program=residential), admitted_on=TODAY, admitted_by=clinician
            )

    admit(2)
    client.get(LIST)
    with CaptureQueriesContext(connection) as small:
        client.get(LIST)
    admit(10)
    with CaptureQueriesContext(connection) as big:
        assert len(client.get(LIST).context["cl"].result_list) == 12
    assert len(big.captured_queries) == len(small.captured_queries)
