"""The shift's worklists in a real browser (issue 12): each dashboard figure opens its list, each row's action
works and comes back to the list. axe-core checks one list; every list is checked for sideways scrolling at
390 px and 1024 px, with screenshots of both sizes in var/screenshots/.
"""

import datetime as dt

import pytest
from playwright.sync_api import expect

from clinic import clock
from clinic.access import Role
from programs import services as journey
from programs.models import AftercareCheckIn, Placement
from reminders.models import FollowUpItem
from scheduling import services as schedule
from scheduling.models import Booking, Session, SessionKind
from tests.e2e.test_bed_board import _check_page, _fits, _log_in
from tests.factories import BedFactory, PatientFactory, ProgramFactory, SiteFactory, staff_member
from tests.scheduling.conftest import make_series

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = dt.timedelta


@pytest.fixture
def shift(db):
    site = SiteFactory(name="Riverside Campus", code="riverside")
    residential = ProgramFactory(site=site, name="Riverside Residential")
    iop = ProgramFactory(site=site, iop=True, name="Riverside Evening IOP")
    today = clock.local_today(residential.time_zone)
    clinician = staff_member(role=Role.CLINICIAN, sites=[site], username="dana.clinician", first_name="Dana")
    staff_member(role=Role.FRONT_DESK, sites=[site], username="lena.frontdesk")

    def admit(mrn: str, first: str, last: str, days_ago: int) -> Placement:
        patient = PatientFactory(mrn=mrn, legal_first_name=first, legal_last_name=last, registered_site=site)
        return journey.admit_to_residential(
            patient=patient, bed=BedFactory(program=residential), admitted_on=today - D(days=days_ago),
            admitted_by=clinician,
        )  # fmt: skip

    # Past the 30-day minimum and past the planned discharge; two days before the planned discharge.
    long_stay = admit("E2E-LONG", "Casey", "Longstay", 33)
    leaving = admit("E2E-SOON", "Pat", "Leaving", 28)
    # Discharged twelve days ago: the day-7 aftercare check-in is five days late.
    former = admit("E2E-AFTER", "Jo", "Former", 45)
    journey.discharge(episode=former.episode, on=today - D(days=12), disposition="completed", decided_by=clinician)

    # An evening group every day (7 h a week, under the 9 h minimum) and individual sessions nobody is booked into.
    start = today - D(days=14)
    group = make_series(iop, clinician, rule="FREQ=DAILY", starts_on=start, duration_minutes=60)
    make_series(
        iop, clinician, name="Individual counselling", kind=SessionKind.INDIVIDUAL_COUNSELLING, rule="FREQ=DAILY",
        start_time=dt.time(12, 0), duration_minutes=60, capacity=1, starts_on=start, books_enrolled=False,
    )  # fmt: skip
    ada = PatientFactory(mrn="E2E-ADA", legal_first_name="Ada", legal_last_name="Absent", registered_site=site)
    enrollment = journey.enroll_in_iop(patient=ada, program=iop, start_on=start, enrolled_by=clinician)
    schedule.generate_sessions(from_on=start)  # the two weeks since, as a backfill
    # Ada missed the last two groups that have started (a follow-up opens on the second).
    started = Session.objects.filter(series=group, starts_at__lte=clock.now()).order_by("-starts_at")[:2]
    for session in reversed(list(started)):
        schedule.record_attendance(
            session=session, marks=[schedule.Mark(patient_id=ada.pk, attendance="absent")], recorded_by=clinician
        )
    return {
        "today": today, "iop": iop, "long_stay": long_stay, "leaving": leaving, "former": former,
        "enrollment": enrollment, "ada": ada,
    }  # fmt: skip


def _open_figure(page, slug: str) -> None:
    page.goto("/admin/")
    page.locator(f'[data-figure="{slug}"]').click()
    expect(page.locator("#worklist")).to_be_visible()


def test_step_down_from_its_worklist(page, screenshot, shift):
    _log_in(page, "dana.clinician")
    _open_figure(page, "due-a-step-down-decision")

    row = page.locator('tr[data-patient="E2E-LONG"]')
    expect(row).to_contain_text("Day 34")
    expect(row).to_contain_text("3 days")
    expect(row).to_contain_text("Past planned discharge by 3 days")
    _check_page(page, screenshot, "worklist-step-down")  # axe-core, and no sideways scrolling

    row.locator("text=Step down").click()
    page.select_option("#id_to_program", label=str(shift["iop"]))
    page.fill("#id_on", shift["today"].isoformat())
    page.fill("#id_reason", "Stable; ready for the evening track")
    page.click("input[type=submit][value='Step down to IOP']")

    expect(page.locator(".messagelist")).to_contain_text("Stepped down to Riverside Evening IOP")
    expect(page.locator("h1")).to_have_text("Due a step-down decision")
    expect(page.locator('tr[data-patient="E2E-LONG"]')).to_have_count(0)
    assert Placement.objects.get(pk=shift["long_stay"].pk).ended_on == shift["today"]


def test_extend_from_the_nearing_discharge_worklist(page, screenshot, shift):
    _log_in(page, "dana.clinician")
    _open_figure(page, "stays-nearing-planned-discharge-or-program-maximum")

    row = page.locator('tr[data-patient="E2E-SOON"]')
    expect(row).to_contain_text("2 days")
    expect(row.locator("a.button")).to_have_text(["Extend", "Discharge"])
    _fits(page, screenshot, "worklist-nearing-discharge")

    row.locator("text=Extend").click()
    new_end = shift["leaving"].start_on + D(days=45)
    page.fill("#id_new_planned_discharge_on", new_end.isoformat())
    page.fill("#id_reason", "Housing not ready")
    page.click("input[type=submit][value='Extend the stay']")

    expect(page.locator(".messagelist")).to_contain_text("Stay extended")
    expect(page.locator('tr[data-patient="E2E-SOON"]')).to_have_count(0)
    assert Placement.objects.get(pk=shift["leaving"].pk).planned_end_on == new_end


def test_book_a_session_from_the_below_minimum_worklist(page, screenshot, shift):
    _log_in(page, "dana.clinician")
    _open_figure(page, "iop-below-weekly-minimum-scheduled-this-week")

    row = page.locator('tr[data-patient="E2E-ADA"]')
    expect(row).to_contain_text("9 h to 19 h")
    _fits(page, screenshot, "worklist-below-minimum")

    row.locator("text=Book a session").click()
    page.select_option("#id_session", index=0)
    page.click("input[type=submit][value=Book]")

    expect(page.locator(".messagelist")).to_contain_text("Booked Ada Absent into Individual counselling")
    expect(page.locator("h1")).to_have_text("IOP below weekly minimum, scheduled this week")
    booked = Booking.objects.active().filter(patient=shift["ada"], session__series__name="Individual counselling")
    assert booked.count() == 1


def test_resolve_from_the_missed_sessions_worklist(page, screenshot, shift):
    _log_in(page, "dana.clinician")
    _open_figure(page, "consecutive-absences")

    row = page.locator('tr[data-patient="E2E-ADA"]')
    expect(row).to_contain_text("2 in a row")
    _fits(page, screenshot, "worklist-missed-sessions")

    row.locator("text=Resolve").click()
    page.fill("#id_note", "Called; back tomorrow")
    page.click("input[type=submit][value=Resolve]")

    expect(page.locator(".messagelist")).to_contain_text("Resolved the follow-up for Ada Absent")
    expect(page.locator('tr[data-patient="E2E-ADA"] a.button')).to_have_count(0)
    assert FollowUpItem.objects.get(patient=shift["ada"]).status == "resolved"


def test_record_contact_from_the_aftercare_worklist(page, screenshot, shift):
    _log_in(page, "dana.clinician")
    _open_figure(page, "aftercare-check-ins-missed")

    row = page.locator('tr[data-patient="E2E-AFTER"]')
    expect(row).to_contain_text("5 days")
    _fits(page, screenshot, "worklist-aftercare")

    row.locator("text=Record contact").click()
    page.fill("#id_note", "Reached by phone; attending meetings")
    page.click("input[type=submit][value='Record contact']")

    expect(page.locator(".messagelist")).to_contain_text("Contact recorded")
    expect(page.locator('tr[data-patient="E2E-AFTER"]')).to_have_count(0)
    assert AftercareCheckIn.objects.get(plan__patient=shift["former"].patient, offset_days=7).status == "completed"


def test_front_desk_sees_the_lists_without_clinical_actions(page, shift):
    _log_in(page, "lena.frontdesk")

    _open_figure(page, "due-a-step-down-decision")
    expect(page.locator('tr[data-patient="E2E-LONG"]')).to_be_visible()
    expect(page.locator("#worklist a.button")).to_have_count(0)
    _open_figure(page, "consecutive-absences")
    expect(page.locator('tr[data-patient="E2E-ADA"]')).to_be_visible()
    expect(page.locator("#worklist a.button")).to_have_count(0)


def test_resolve_from_the_follow_ups_worklist(page, screenshot, shift):
    FollowUpItem.objects.create(
        program=shift["iop"], patient=shift["former"].patient, kind="help_requested", urgency="urgent",
        details="Asked for a call back about a sponsor; a long reason that must wrap on a phone screen",
    )  # fmt: skip
    _log_in(page, "dana.clinician")
    _open_figure(page, "open-follow-up-items")

    row = page.locator('tr[data-patient="E2E-AFTER"]')
    expect(row).to_contain_text("Patient asked for help")
    expect(row).to_contain_text("Urgent")
    expect(page.locator('tr[data-patient="E2E-ADA"]')).to_contain_text("Missed sessions")
    _fits(page, screenshot, "worklist-follow-ups")

    row.locator("text=Resolve").click()
    page.fill("#id_note", "Called back; sponsor found")
    page.click("input[type=submit][value=Resolve]")

    expect(page.locator(".messagelist")).to_contain_text("Resolved the follow-up for Jo Former")
    expect(page.locator("h1")).to_have_text("Open follow-up items")
    expect(page.locator('tr[data-patient="E2E-AFTER"]')).to_have_count(0)
    assert FollowUpItem.objects.get(patient=shift["former"].patient).status == "resolved"


def test_take_attendance_from_the_sessions_worklist(page, screenshot, shift):
    _log_in(page, "dana.clinician")
    _open_figure(page, "sessions-awaiting-attendance")

    rows = page.locator("#worklist tbody tr")
    expect(rows.first).to_contain_text("Evening process group")
    expect(rows.first).to_contain_text("Dana")  # the facilitator by name, not the username
    _fits(page, screenshot, "worklist-sessions")

    session_id = rows.first.get_attribute("data-row")
    rows.first.locator("text=Take attendance").click()
    page.wait_for_url(f"**/scheduling/session/{session_id}/attendance/")
    expect(page.locator(f'tr[data-patient="{shift["ada"].mrn}"]')).to_be_visible()


def test_admissions_and_discharges_of_the_week_open_the_chart(page, screenshot, shift):
    site = shift["iop"].site
    newcomer = PatientFactory(mrn="E2E-NEW", legal_first_name="Nia", legal_last_name="Newcomer", registered_site=site)
    clinician = staff_member(role=Role.CLINICIAN, sites=[site], username="ravi.clinician")
    journey.admit_to_residential(
        patient=newcomer, bed=BedFactory(program=shift["long_stay"].program), admitted_on=shift["today"],
        admitted_by=clinician,
    )  # fmt: skip
    journey.discharge(
        episode=shift["leaving"].episode, on=shift["today"], disposition="completed", decided_by=clinician
    )
    _log_in(page, "dana.clinician")

    _open_figure(page, "discharges-this-week")
    expect(page.locator('tr[data-patient="E2E-SOON"]')).to_contain_text("Completed treatment")
    _fits(page, screenshot, "worklist-discharges")
    _open_figure(page, "admissions-this-week")
    row = page.locator('tr[data-patient="E2E-NEW"]')
    expect(row).to_contain_text("Day 1")
    _fits(page, screenshot, "worklist-admissions")

    row.locator("text=Open chart").click()
    page.wait_for_url(f"**/patients/patient/{newcomer.pk}/change/")
