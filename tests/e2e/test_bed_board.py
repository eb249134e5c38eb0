"""A shift from the bed board, the chart header and patient search, in a real browser (issue 12).

Each page is checked with axe-core (no violation of impact serious or critical) and for horizontal
overflow at a 390 px phone and a 1024 px tablet, with screenshots of both in var/screenshots/.
"""

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from admissions import services as referrals
from admissions.models import ReferralSource
from clinic import clock
from clinic.access import Role
from programs import services
from programs.models import Placement
from tests.factories import BedFactory, PatientFactory, ProgramFactory, SiteFactory, staff_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "tools" / "node" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct-horse-battery-staple"  # UserFactory's
SIZES = {"phone": (390, 844), "tablet": (1024, 768)}


@pytest.fixture
def ward(db):
    site = SiteFactory(name="Riverside Campus", code="riverside")
    residential = ProgramFactory(site=site, name="Riverside Residential")
    iop = ProgramFactory(site=site, iop=True, name="Riverside Evening IOP")
    today = clock.local_today(residential.time_zone)
    clinician = staff_member(role=Role.CLINICIAN, sites=[site], username="dana.clinician", first_name="Dana")
    front_desk = staff_member(role=Role.FRONT_DESK, sites=[site], username="lena.frontdesk")
    long_stay = PatientFactory(mrn="E2E-LONG", legal_first_name="Casey", legal_last_name="Longstay")
    newcomer = PatientFactory(mrn="E2E-NEW", legal_first_name="Robin", legal_last_name="Newcomer", registered_site=site)
    busy = BedFactory(program=residential, label="104-A")
    BedFactory(program=residential, label="104-B")
    services.admit_to_residential(
        patient=long_stay, bed=busy, admitted_on=today - dt.timedelta(days=33), admitted_by=clinician
    )
    # A free bed reserved for someone on the waitlist: the board says for whom, the picker skips it.
    reserved = BedFactory(program=residential, label="105-A")
    referral = referrals.create_referral(
        program=residential, source=ReferralSource.HOSPITAL, referred_on=today - dt.timedelta(days=3),
        created_by=clinician, first_name="Sam", last_name="Waiting", date_of_birth=dt.date(1991, 4, 5),
    )  # fmt: skip
    referral = referrals.start_screening(referral=referral, by=clinician)
    referral = referrals.accept_referral(
        referral=referral, by=clinician, reason="Meets criteria", mrn="E2E-WAIT", confirm_new_person=True
    )
    referrals.reserve(
        referral=referral, bed=reserved, start_on=today + dt.timedelta(days=2),
        planned_end_on=today + dt.timedelta(days=32), expires_at=clock.now() + dt.timedelta(days=3),
        reserved_by=clinician,
    )  # fmt: skip
    return {
        "site": site, "residential": residential, "iop": iop, "today": today, "clinician": clinician,
        "front_desk": front_desk, "long_stay": long_stay, "newcomer": newcomer,
    }  # fmt: skip


def _log_in(page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#census-title")).to_be_visible()


def _check_page(page, screenshot, name: str) -> None:
    """axe-core finds nothing serious or critical; no horizontal scrolling on a phone or a tablet."""
    assert AXE.exists(), "axe-core is missing: `make axe` installs it into tools/node/"
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
             .filter(v => v.impact === 'serious' || v.impact === 'critical')
             .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')}`)"""
    )
    assert violations == [], f"{name}: {violations}"
    _fits(page, screenshot, name)


# True once the page is laid out at the new width and is no wider than it. A resize reaches the
# renderer asynchronously, so this is polled once a frame (Playwright's default); a page that really
# overflows never turns true. (A predicate returning a promise would not do: the promise is truthy.)
_FITS = """width => document.documentElement.clientWidth === width
    && document.documentElement.scrollWidth <= document.documentElement.clientWidth"""


def _fits(page, screenshot, name: str) -> None:
    """No horizontal scrolling on a phone or a tablet; a screenshot of each."""
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        try:
            page.wait_for_function(_FITS, arg=width, timeout=3_000)
        except PlaywrightTimeout:
            overflow = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            screenshot(page, f"{name}-{size}-overflow")
            pytest.fail(f"{name} at {width} px scrolls sideways: {overflow}")
        screenshot(page, f"{name}-{size}")
    page.set_viewport_size({"width": 1180, "height": 820})


def test_a_shift_from_the_bed_board(page, screenshot, ward):
    residential, today = ward["residential"], ward["today"]
    _log_in(page, "dana.clinician")
    _check_page(page, screenshot, "panel-dashboard")

    # The census card opens the program's bed board.
    page.locator(f'[data-figure="census-{residential.pk}"]').click()
    expect(page.locator("h1")).to_contain_text("Bed board · Riverside Residential")
    expect(page.locator('[data-bed="104-A"]')).to_contain_text("Day 34 of 30")
    expect(page.locator('[data-bed="104-A"]')).to_contain_text("Step-down decision due")
    expect(page.locator('[data-bed="105-A"]')).to_contain_text("Reserved for Sam Waiting")
    expect(page.locator('[data-bed="105-A"] .bed-actions')).to_have_count(0)
    _check_page(page, screenshot, "bed-board")

    # Admit to the free bed from the board; the reserved one is not offered.
    page.locator('[data-bed="104-B"] >> text=Admit').click()
    expect(page.locator("#id_bed")).to_contain_text("104-B")
    assert "105-A" not in page.locator("#id_bed").inner_text()
    page.select_option("#id_patient", label="Robin Newcomer · MRN E2E-NEW")
    page.click("input[type=submit][value=Admit]")
    expect(page.locator(".messagelist")).to_contain_text("Admitted Robin Newcomer to Riverside Residential, bed 104-B")
    expect(page.locator('[data-bed="104-B"]')).to_contain_text("Robin Newcomer")
    expect(page.locator(".board-summary")).to_contain_text("2 occupied")

    # Step down the long stay from the board; back on the board, the bed is free.
    page.locator('[data-bed="104-A"] >> text=Step down').click()
    page.select_option("#id_to_program", label=str(ward["iop"]))
    page.fill("#id_on", today.isoformat())
    page.fill("#id_reason", "Stable and engaged; lives nearby")
    page.click("input[type=submit][value='Step down to IOP']")
    expect(page.locator(".messagelist")).to_contain_text("Stepped down to Riverside Evening IOP")
    expect(page.locator('[data-bed="104-A"] .bed-state')).to_have_text("Free")
    assert Placement.objects.filter(patient=ward["long_stay"], kind="iop", ended_on__isnull=True).exists()

    # The chart header of the patient just admitted, reached from the board.
    page.locator('[data-bed="104-B"] .bed-patient a').click()
    header = page.locator("#chart-header")
    expect(header).to_contain_text("Riverside Residential, bed 104-B · day 1 of 30")
    expect(header.locator("a.workflow-link")).to_contain_text(["Extend the stay", "Step down to IOP", "Discharge"])
    _check_page(page, screenshot, "chart")

    # Find a patient from the header's search box.
    page.fill("#patient-search", "E2E-LONG")
    page.keyboard.press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("Riverside Evening IOP")


def test_front_desk_sees_the_board_without_clinical_actions(page, ward):
    _log_in(page, "lena.frontdesk")

    page.locator(f'[data-figure="census-{ward["residential"].pk}"]').click()

    expect(page.locator('[data-bed="104-A"]')).to_contain_text("Casey Longstay")
    expect(page.locator('[data-bed="104-A"]')).to_contain_text("MRN E2E-LONG")
    expect(page.locator(".bed-actions")).to_have_count(0)
    expect(page.locator("text=Step-down decision due")).to_have_count(0)


def test_attendance_from_groups_to_record_with_everyone_present_and_one_exception(page, screenshot, ward):
    from programs import services as journey
    from scheduling import services as schedule
    from scheduling.models import Booking
    from tests.scheduling.conftest import make_series

    iop, clinician = ward["iop"], ward["clinician"]
    start = ward["today"] - dt.timedelta(days=14)
    # A group every evening: whatever the hour this runs, one has started within the last week.
    series = make_series(iop, clinician, rule="FREQ=DAILY", starts_on=start, duration_minutes=60)
    schedule.generate_sessions(series_ids=[series.pk], from_on=start)
    ada = PatientFactory(mrn="E2E-ADA", legal_first_name="Ada", legal_last_name="Present")
    ben = PatientFactory(mrn="E2E-BEN", legal_first_name="Ben", legal_last_name="Absent")
    for patient in (ada, ben):
        journey.enroll_in_iop(patient=patient, program=iop, start_on=start, enrolled_by=clinician)
    # Enrolments recorded after the fact book only groups to come; the two weeks since are a backfill.
    schedule.generate_sessions(series_ids=[series.pk], from_on=start)
    _log_in(page, "dana.clinician")

    first = page.locator("#groups-to-record li").first
    expect(first).to_contain_text("Evening process group")
    session_id = int(first.get_attribute("data-session"))
    first.locator("text=Take attendance").click()
    page.click("#mark-everyone-present")
    expect(page.locator('tr[data-patient="E2E-ADA"] .mark-present input')).to_be_checked()
    expect(page.locator('tr[data-patient="E2E-BEN"] .mark-present input')).to_be_checked()
    _check_page(page, screenshot, "attendance-sheet")
    page.locator('tr[data-patient="E2E-BEN"] label.mark-absent').click()
    page.click("input[type=submit][value='Save attendance']")

    expect(page.locator(".messagelist")).to_contain_text("Attendance saved: 2 mark(s)")
    marks = dict(Booking.objects.filter(session_id=session_id).values_list("patient__mrn", "attendance"))
    assert marks == {"E2E-ADA": "present", "E2E-BEN": "absent"}


def test_the_layout_check_fails_a_page_wider_than_a_phone(page, screenshot, ward):
    """The check above is only worth its passes if it fails a page that does scroll sideways."""
    _log_in(page, "dana.clinician")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<div style=\"width: 600px\">wide</div>')")
    with pytest.raises(pytest.fail.Exception, match="at 390 px scrolls sideways"):
        _fits(page, screenshot, "layout-check")
