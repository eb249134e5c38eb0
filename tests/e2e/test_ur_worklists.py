"""The UR worklists in a real browser (issue 12): each UR figure opens its list, the row's step is taken and
the list comes back without the row. axe-core and the 390/1024 px layout check on each list, screenshots in
var/screenshots/. Dates are built from the program's local today, so the tests hold at any instant.
"""

import datetime as dt

import pytest
from playwright.sync_api import expect

from clinic import clock
from clinic.access import Role
from programs import services as journey
from tests.e2e.test_bed_board import _check_page, _log_in
from tests.factories import BedFactory, PatientFactory, ProgramFactory, SiteFactory, staff_member
from utilization import services as ur
from utilization.models import Authorization, ConcurrentReview, Payer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = dt.timedelta


@pytest.fixture
def ur_desk(db):
    site = SiteFactory(name="Riverside Campus", code="riverside")
    residential = ProgramFactory(site=site, name="Riverside Residential")
    iop = ProgramFactory(site=site, iop=True, name="Riverside Evening IOP")
    today = clock.local_today(residential.time_zone)
    clinician = staff_member(role=Role.CLINICIAN, sites=[site], username="dana.clinician", first_name="Dana")
    staff_member(role=Role.UR_COORDINATOR, sites=[site], username="uma.ur", first_name="Uma", last_name="Reyes")
    payer = Payer.objects.create(name="Blue Harbor Health", kind=Payer.Kind.COMMERCIAL)

    def admitted(mrn: str, first: str, last: str, days_ago: int):
        patient = PatientFactory(mrn=mrn, legal_first_name=first, legal_last_name=last, registered_site=site)
        coverage = ur.add_coverage(patient=patient, payer=payer, effective_on=today - D(days=60), member_id=mrn,
                                   created_by=clinician)  # fmt: skip
        stay = journey.admit_to_residential(
            patient=patient, bed=BedFactory(program=residential), admitted_on=today - D(days=days_ago),
            admitted_by=clinician,
        )  # fmt: skip
        return coverage, stay

    def requested(coverage, stay, *, units: int, end: dt.date, program=residential):
        return ur.request_authorization(
            episode=stay.episode, coverage=coverage, asam_level=program.asam_level, requested_units=units,
            start_on=stay.start_on, end_on=end, requested_by=clinician, requested_on=stay.start_on,
        )  # fmt: skip

    # Jo: 13 days authorized from her admission ten days ago through the day after tomorrow; review due today.
    coverage, stay = admitted("E2E-JO", "Jo", "Review", 10)
    jo = ur.record_decision(
        authorization=requested(coverage, stay, units=13, end=today + D(days=2)), status="approved",
        number="BH-1300", approved_units=13, start_on=stay.start_on, end_on=today + D(days=2),
        decided_on=stay.start_on, decided_by=clinician, next_review_on=today,
    )  # fmt: skip
    # Kim: the payer denied her stay three days ago; nobody has appealed.
    coverage, stay = admitted("E2E-KIM", "Kim", "Denied", 12)
    kim = ur.record_decision(
        authorization=requested(coverage, stay, units=10, end=today), status="denied",
        decided_on=today - D(days=3), decided_by=clinician, notes="Not medically necessary at 3.5",
    )  # fmt: skip
    # Lou: stepped down to the IOP two days ago, no IOP authorization asked for.
    coverage, stay = admitted("E2E-LOU", "Lou", "Stepdown", 20)
    lou = journey.step_down(stay=stay, to_program=iop, on=today - D(days=2), reason="Stable", decided_by=clinician)
    return {"today": today, "jo": jo, "kim": kim, "lou": lou, "iop": iop}


def _open_figure(page, slug: str) -> None:
    page.goto("/admin/")
    page.locator(f'[data-figure="{slug}"]').click()
    expect(page.locator("#worklist")).to_be_visible()


def test_record_a_review_from_the_reviews_due_list(page, screenshot, ur_desk):
    today = ur_desk["today"]
    _log_in(page, "uma.ur")
    _open_figure(page, "ur-reviews-due")

    expect(page.locator("h1")).to_have_text("UR reviews due")
    row = page.locator('tr[data-patient="E2E-JO"]')
    expect(row).to_contain_text("BH-1300")
    expect(row).to_contain_text("11 of 13 days, 2 left")
    expect(row).to_contain_text("(today)")
    _check_page(page, screenshot, "worklist-ur-reviews-due")  # axe-core, and no sideways scrolling

    row.locator("text=Record review").click()
    expect(page.locator(".breadcrumbs")).to_contain_text("UR reviews due")
    page.select_option("#id_outcome", value="approved_more")
    page.fill("#id_units_added", "7")
    page.fill("#id_new_end_on", (today + D(days=9)).isoformat())
    page.fill("#id_next_review_on", (today + D(days=7)).isoformat())
    page.click("input[type=submit][value='Record a concurrent review']")

    expect(page.locator(".messagelist")).to_contain_text("Review recorded")
    expect(page.locator("h1")).to_have_text("UR reviews due")
    expect(page.locator('tr[data-patient="E2E-JO"]')).to_have_count(0)
    assert Authorization.objects.get(pk=ur_desk["jo"].pk).extended_to == today + D(days=9)


def test_appeal_a_denial_from_its_list(page, screenshot, ur_desk):
    _log_in(page, "uma.ur")
    _open_figure(page, "denials-awaiting-follow-up")

    row = page.locator('tr[data-patient="E2E-KIM"]')
    expect(row).to_contain_text("(3 days ago)")
    expect(row).to_contain_text("Not medically necessary at 3.5")
    _check_page(page, screenshot, "worklist-ur-denials")

    row.locator("text=Appeal or follow up").click()
    expect(page.locator("#id_outcome")).to_have_value("appealed")
    page.fill("#id_notes", "Appeal sent with the physician's letter")
    page.click("input[type=submit][value='Record a concurrent review']")

    expect(page.locator(".messagelist")).to_contain_text("Review recorded")
    expect(page.locator("h1")).to_have_text("Denials awaiting follow-up")
    expect(page.locator('tr[data-patient="E2E-KIM"]')).to_have_count(0)
    assert ConcurrentReview.objects.get(authorization=ur_desk["kim"]).outcome == "appealed"


def test_request_the_iop_authorization_after_a_step_down(page, screenshot, ur_desk):
    today, iop = ur_desk["today"], ur_desk["iop"]
    _log_in(page, "uma.ur")
    _open_figure(page, "stepped-down-needs-authorization")

    row = page.locator('tr[data-patient="E2E-LOU"]')
    expect(row).to_contain_text("Riverside Evening IOP")
    expect(row).to_contain_text("Day 3")
    _check_page(page, screenshot, "worklist-ur-needs-authorization")

    row.locator("text=Request authorization").click()
    expect(page.locator("#id_asam_level")).to_have_value(iop.asam_level)  # filled in from the row
    page.select_option("#id_unit_kind", value="sessions")
    page.fill("#id_requested_units", "12")
    page.fill("#id_end_on", (today + D(days=25)).isoformat())
    page.click("input[type=submit][value='Request an authorization']")

    expect(page.locator(".messagelist")).to_contain_text("Authorization requested")
    expect(page.locator("h1")).to_have_text("Stepped down, needs authorization")
    expect(page.locator('tr[data-patient="E2E-LOU"]')).to_have_count(0)
    assert Authorization.objects.get(episode=ur_desk["lou"].episode, asam_level=iop.asam_level).status == "requested"


def test_front_desk_reads_a_ur_list_without_steps(page, ur_desk):
    staff_member(role=Role.FRONT_DESK, sites=[ur_desk["iop"].site], username="lena.frontdesk")
    _log_in(page, "lena.frontdesk")
    page.goto("/admin/utilization/authorization/worklist/denials/")

    expect(page.locator('tr[data-patient="E2E-KIM"]')).to_be_visible()
    expect(page.locator("#worklist a.button")).to_have_count(0)
    expect(page.locator("#worklist")).not_to_contain_text("medically necessary")
