"""The session list and the patient chart in a real browser (issue 12): local times, the chart's order.

Checked like the bed board's pages: axe-core (nothing serious or critical), no sideways scrolling at
390 px and 1024 px, screenshots of both sizes in var/screenshots/.
"""

import datetime as dt

import pytest
from playwright.sync_api import expect

from clinic import clock, localtime
from clinic.access import Role
from programs import services
from scheduling import services as schedule
from tests.e2e.test_bed_board import _check_page, _log_in
from tests.factories import BedFactory, PatientFactory, ProgramFactory, SiteFactory, staff_member
from tests.scheduling.conftest import make_series
from utilization import services as ur
from utilization.models import Payer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic(db):
    site = SiteFactory(name="Riverside Campus", code="riverside")
    residential = ProgramFactory(site=site, name="Riverside Residential")
    iop = ProgramFactory(site=site, iop=True, name="Riverside Evening IOP")
    today = clock.local_today(residential.time_zone)
    clinician = staff_member(
        role=Role.CLINICIAN, sites=[site], username="dana.clinician", first_name="Dana", last_name="Ortiz"
    )
    start = today - dt.timedelta(days=7)
    series = make_series(iop, clinician, rule="FREQ=DAILY", starts_on=start, duration_minutes=90)
    schedule.generate_sessions(series_ids=[series.pk], from_on=start)
    resident = PatientFactory(mrn="E2E-RES", legal_first_name="Casey", legal_last_name="Resident",
                              preferred_name="Case")  # fmt: skip
    stay = services.admit_to_residential(
        patient=resident, bed=BedFactory(program=residential, label="104-A"),
        admitted_on=today - dt.timedelta(days=12), admitted_by=clinician,
    )  # fmt: skip
    payer = Payer.objects.create(name="Blue Harbor Health", kind=Payer.Kind.COMMERCIAL)
    coverage = ur.add_coverage(
        patient=resident, payer=payer, effective_on=stay.start_on, member_id="B-1", created_by=clinician
    )
    auth = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=residential.asam_level, requested_units=14,
        start_on=stay.start_on, end_on=stay.start_on + dt.timedelta(days=13), requested_by=clinician,
        requested_on=stay.start_on,
    )  # fmt: skip
    ur.record_decision(
        authorization=auth, status="approved", number="R-14", approved_units=14, start_on=stay.start_on,
        end_on=stay.start_on + dt.timedelta(days=13), decided_on=stay.start_on, decided_by=clinician,
    )  # fmt: skip
    return {"iop": iop, "today": today, "resident": resident, "series": series}


def test_the_session_list_opens_on_today_in_the_programs_local_time(page, screenshot, clinic):
    _log_in(page, "dana.clinician")

    page.goto("/admin/scheduling/session/")

    first = page.locator("#result_list tbody tr").first
    today = clinic["today"]
    expect(first).to_contain_text(localtime.day(today))  # the program's today, whatever UTC's date
    expect(first).to_contain_text("6 p.m.")  # 18:00 local, not the UTC hour
    expect(first).to_contain_text("Dana Ortiz")
    _check_page(page, screenshot, "session-list")

    page.locator("#changelist-filter >> text=Past").click()
    expect(page.locator("#result_list tbody tr").first).to_contain_text(localtime.day(today - dt.timedelta(days=1)))


def test_the_chart_opens_on_the_header_and_the_journey(page, screenshot, clinic):
    _log_in(page, "dana.clinician")

    page.goto(f"/admin/patients/patient/{clinic['resident'].pk}/change/")

    header = page.locator("#chart-header")
    expect(header).to_contain_text("Riverside Residential, bed 104-A · day 13 of 30")
    expect(header).to_contain_text("Auth 13 of 14 days")
    expect(header.locator("a.edit-demographics")).to_be_visible()
    # Read-only first: the journey is on the first screen, the demographics form further down.
    journey = page.locator("#journey").bounding_box()
    form = page.locator("#patient_form").bounding_box()
    assert journey["y"] < 820 < form["y"]
    _check_page(page, screenshot, "patient-chart")
