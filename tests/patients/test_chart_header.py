"""The patient chart (issue 12): a read-only header says where the patient is now, actions as buttons."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AuditEvent
from programs import services

pytestmark = pytest.mark.django_db

D = dt.timedelta
SHIFT = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)  # Dec 7 in UTC and in New York
TODAY = dt.date(2026, 12, 7)


@pytest.fixture(autouse=True)
def shift():
    with time_machine.travel(SHIFT, tick=True):
        yield


@pytest.fixture
def admitted(patient, bed, clinician):
    patient.preferred_name = "Lexi"
    patient.confidential_communication = True
    patient.save()
    return services.admit_to_residential(
        patient=patient, bed=bed, admitted_on=TODAY - D(days=22), planned_discharge_on=TODAY + D(days=8),
        admitted_by=clinician,
    )  # fmt: skip


def _chart(client, user, patient):
    client.force_login(user)
    return client.get(reverse("admin:patients_patient_change", args=[patient.pk]))


def _header(response) -> str:
    page = response.content.decode()
    return page[page.index('id="chart-header"') : page.index('id="demographics"')]


def test_the_header_says_where_the_patient_is_now(client, site_clinician, patient, admitted):
    response = _chart(client, site_clinician, patient)

    header = _header(response)
    assert "Alex Rivera" in header and "goes by Lexi" in header and "MRN " + patient.mrn in header
    assert f"Age {patient.age_on(TODAY)}" in header
    assert "Residential 3.5, bed 101-A · day 23 of 30 · planned discharge Dec. 15, 2026" in " ".join(header.split())
    assert "Confidential communication" in header
    chart = response.context["chart"]
    assert chart.day_number == 23 and chart.days_left == 8
    # The journey comes right after the header, before the demographics form.
    page = response.content.decode()
    assert page.index('id="chart-header"') < page.index('id="journey"') < page.index('id="patient_form"')


def test_a_clinicians_actions_are_buttons_in_the_header(client, site_clinician, patient, admitted):
    header = _header(_chart(client, site_clinician, patient))

    for title in ("Extend the stay", "Step down to IOP", "Discharge"):
        assert title in header
    assert "Admit to residential" not in header


def test_front_desk_sees_the_header_without_clinical_actions(client, front_desk, patient, admitted):
    header = _header(_chart(client, front_desk, patient))

    assert "bed 101-A" in header
    assert "workflow-link" not in header and "Step down" not in header


def test_a_patient_without_a_level_of_care(client, site_clinician, site, other_patient):
    other_patient.registered_site = site
    other_patient.save()

    header = _header(_chart(client, site_clinician, other_patient))

    assert "No current level of care." in header and "Admit to residential" in header


def test_a_colleague_at_another_site_gets_nothing(client, colleague_elsewhere, patient, admitted):
    response = _chart(client, colleague_elsewhere, patient)

    assert response.status_code == 302
    assert patient.mrn.encode() not in response.content


def test_the_chart_is_recorded_in_the_audit_trail(client, site_clinician, patient, admitted):
    _chart(client, site_clinician, patient)

    assert AuditEvent.objects.filter(user=site_clinician, patient=patient, action="view").exists()


# --- The chart's order, aftercare and authorization (issue 12, the remaining parts) ---------------------


def test_the_chart_reads_top_down_and_the_demographics_come_last(client, site_clinician, patient, admitted):
    response = _chart(client, site_clinician, patient)

    page = response.content.decode()
    order = ['id="chart-header"', 'id="journey"', 'id="schedule"', 'id="attendance-history"', 'id="demographics"',
             'id="patient_form"']  # fmt: skip
    positions = [page.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert 'href="#demographics"' in _header(response)  # "Edit demographics" is a button in the header


def test_aftercare_check_ins_show_their_due_dates_and_how_late(client, site_clinician, patient, admitted, clinician):
    services.discharge(episode=admitted.episode, on=TODAY - D(days=10), disposition="completed", decided_by=clinician)

    response = _chart(client, site_clinician, patient)

    rows = response.context["aftercare"]
    first = rows[0]
    assert first.checkin.due_on < TODAY and first.days_late == (TODAY - first.checkin.due_on).days
    section = response.content.decode().split('id="aftercare"')[1].split("</section>")[0]
    assert f"{first.days_late} days late" in section


def test_front_desk_does_not_see_aftercare(client, front_desk, patient, admitted, clinician):
    services.discharge(episode=admitted.episode, on=TODAY - D(days=10), disposition="completed", decided_by=clinician)

    response = _chart(client, front_desk, patient)

    assert "aftercare" not in response.context and 'id="aftercare"' not in response.content.decode()


def test_the_header_shows_the_authorization_in_force(client, site_clinician, patient, admitted, clinician):
    from utilization import services as ur
    from utilization.models import Payer

    payer = Payer.objects.create(name="Blue Harbor Health", kind=Payer.Kind.COMMERCIAL)
    coverage = ur.add_coverage(
        patient=patient, payer=payer, effective_on=admitted.start_on, member_id="B-1", created_by=clinician
    )
    auth = ur.request_authorization(
        episode=admitted.episode, coverage=coverage, asam_level=admitted.program.asam_level, requested_units=14,
        start_on=admitted.start_on, end_on=admitted.start_on + D(days=29), requested_by=clinician,
        requested_on=admitted.start_on,
    )  # fmt: skip
    ur.record_decision(
        authorization=auth, status="approved", number="R-30", approved_units=30, start_on=admitted.start_on,
        end_on=admitted.start_on + D(days=29), decided_on=admitted.start_on, decided_by=clinician,
        next_review_on=TODAY + D(days=2),
    )  # fmt: skip

    header = _header(_chart(client, site_clinician, patient))

    # Days 1 to 22 used before today (day 23), counted through today: 23 of 30.
    assert "Auth 23 of 30 days, review due Dec. 9, 2026" in header
