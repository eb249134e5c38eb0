"""The shift's worklists in a real browser (issue 12): each dashboard figure opens its list, each row's action
works and comes back to the list. axe-core checks one list; every list is checked for sideways scrolling at
390 px and 1024 px, with screenshots of both sizes in var/screenshots/.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from admissions import services as admissions
from admissions.models import Referral
from clinic import clock
from clinic.access import Role
from programs import services as journey
from programs.models import AftercareCheckIn, Placement
from reminders import services as reminders
from reminders.models import FollowUpItem, Reminder
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


# --- The IOP roster and the admissions worklists -----------------------------------------------------


def _waitlisted(program, clinician, mrn: str, last: str):
    """A referral screened and accepted onto ``program``'s waitlist (the person registered as ``mrn``)."""
    referral = admissions.create_referral(
        program=program, source="hospital", referred_on=clock.local_today(program.time_zone), created_by=clinician,
        first_name="Nia", last_name=last, date_of_birth=dt.date(1990, 2, 3), referrer_name="Mercy Hospital",
    )  # fmt: skip
    admissions.start_screening(referral=referral, by=clinician)
    return admissions.accept_referral(
        referral=referral, by=clinician, reason="Meets criteria", mrn=mrn, confirm_new_person=True
    )


def _local_input(moment: dt.datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def test_book_a_session_from_the_iop_roster_its_census_card_opens(page, screenshot, shift):
    _log_in(page, "dana.clinician")
    page.goto("/admin/")
    page.locator(f'[data-figure="census-{shift["iop"].pk}"]').click()

    expect(page.locator("h1")).to_have_text("IOP roster · Riverside Evening IOP")
    row = page.locator('tr[data-patient="E2E-ADA"]')
    expect(row).to_contain_text("Day 15")
    expect(row).to_contain_text("9 h to 19 h")
    expect(row.locator("a.button")).to_have_text(["Step up", "Discharge", "Book a session"])
    _check_page(page, screenshot, "worklist-iop-roster")  # axe-core, and no sideways scrolling

    row.locator("text=Book a session").click()
    page.select_option("#id_session", index=0)
    page.click("input[type=submit][value=Book]")

    expect(page.locator(".messagelist")).to_contain_text("Booked Ada Absent into Individual counselling")
    expect(page.locator("h1")).to_have_text("IOP roster · Riverside Evening IOP")
    booked = Booking.objects.active().filter(patient=shift["ada"], session__series__name="Individual counselling")
    assert booked.count() == 1


def test_reserve_a_bed_then_admit_from_the_waiting_worklist(page, screenshot, shift):
    residential = shift["long_stay"].program
    clinician = staff_member(role=Role.CLINICIAN, sites=[residential.site], username="ravi.clinician")
    referral = _waitlisted(residential, clinician, "E2E-WAIT", "Waiting")
    bed = BedFactory(program=residential, label="E2E-FREE")
    _log_in(page, "dana.clinician")
    _open_figure(page, "waiting-for-admission")

    row = page.locator('tr[data-patient="E2E-WAIT"]')
    expect(row).to_contain_text("Hospital · Mercy Hospital")
    _check_page(page, screenshot, "worklist-admissions-waiting")

    row.locator("text=Reserve a bed").click()
    page.select_option("#id_bed", value=str(bed.pk))
    page.fill("#id_start_on", shift["today"].isoformat())
    page.fill("#id_expires_at", _local_input(clock.now() + D(days=2), residential.time_zone))
    page.click("input[type=submit][value='Reserve a bed or seat']")

    expect(page.locator(".messagelist")).to_contain_text("Reserved")
    expect(page.locator("h1")).to_have_text("Waiting for admission")
    row = page.locator('tr[data-patient="E2E-WAIT"]')
    expect(row).to_contain_text("Bed E2E-FREE")
    row.locator("text=Admit to the bed").click()
    page.click("input[type=submit][value='Admit the reserved patient']")

    expect(page.locator(".messagelist")).to_contain_text("Admitted to Riverside Residential")
    expect(page.locator('tr[data-patient="E2E-WAIT"]')).to_have_count(0)
    assert Placement.objects.get(bed=bed).patient == referral.patient


def test_extend_a_reservation_from_the_expiring_worklist(page, screenshot, shift):
    residential = shift["long_stay"].program
    clinician = staff_member(role=Role.CLINICIAN, sites=[residential.site], username="ravi.clinician")
    referral = _waitlisted(residential, clinician, "E2E-HOLD", "Holding")
    reservation = admissions.reserve(
        referral=referral, bed=BedFactory(program=residential, label="E2E-HELD"), start_on=shift["today"],
        expires_at=clock.now() + D(hours=20), reserved_by=clinician,
    )  # fmt: skip
    _log_in(page, "dana.clinician")
    _open_figure(page, "reservations-expiring-in-48-h")

    row = page.locator('tr[data-patient="E2E-HOLD"]')
    expect(row).to_contain_text("Bed E2E-HELD")
    expect(row.locator("a.button")).to_have_text(["Extend", "Release"])
    _check_page(page, screenshot, "worklist-reservations-expiring")

    new_expiry = clock.now() + D(days=4)
    row.locator("text=Extend").click()
    page.fill("#id_expires_at", _local_input(new_expiry, residential.time_zone))
    page.click("input[type=submit][value='Extend the reservation']")

    expect(page.locator(".messagelist")).to_contain_text("Reservation extended until")
    expect(page.locator("h1")).to_have_text("Reservations expiring in 48 h")
    expect(page.locator('tr[data-patient="E2E-HOLD"]')).to_have_count(0)
    reservation.refresh_from_db()
    assert reservation.expires_at > clock.now() + D(days=3)


def test_record_contact_from_the_not_contacted_worklist(page, screenshot, shift):
    residential = shift["long_stay"].program
    clinician = staff_member(role=Role.CLINICIAN, sites=[residential.site], username="ravi.clinician")
    referral = admissions.create_referral(
        program=residential, source="family", referred_on=shift["today"] - D(days=3), created_by=clinician,
        first_name="Lee", last_name="Uncalled", phone="+1 212 555 0147",
    )  # fmt: skip
    Referral.objects.filter(pk=referral.pk).update(created_at=clock.now() - D(days=3))
    _log_in(page, "lena.frontdesk")
    _open_figure(page, "referrals-not-contacted-in-2-days")
    expect(page.locator(f'tr[data-row="{referral.public_id}"]')).to_contain_text("Lee Uncalled")
    expect(page.locator("#worklist a.button")).to_have_count(0)  # front desk calls; screening is clinical
    page.context.clear_cookies()
    _log_in(page, "dana.clinician")
    _open_figure(page, "referrals-not-contacted-in-2-days")

    row = page.locator(f'tr[data-row="{referral.public_id}"]')
    expect(row).to_contain_text("not registered yet")
    _check_page(page, screenshot, "worklist-referrals-not-contacted")

    row.locator("text=Record contact").click()
    page.click("input[type=submit][value='Record contact, start screening']")

    expect(page.locator(".messagelist")).to_contain_text("Screening started")
    expect(page.locator(f'tr[data-row="{referral.public_id}"]')).to_have_count(0)
    referral.refresh_from_db()
    assert referral.status == "screening" and referral.contacted_at is not None


def test_open_the_chart_from_the_failed_reminders_worklist(page, screenshot, shift):
    checkins = AftercareCheckIn.objects.filter(plan__patient=shift["former"].patient, due_on__gt=shift["today"])
    reminders.plan_for(target="checkin", ids=list(checkins.values_list("pk", flat=True)))
    failed = Reminder.objects.filter(patient=shift["former"].patient).order_by("id").first()
    Reminder.objects.filter(pk=failed.pk).update(status="failed", status_reason="provider_rejected", attempts=3)
    _log_in(page, "dana.clinician")
    _open_figure(page, "reminders-failed")

    row = page.locator(f'tr[data-row="{failed.pk}"]')
    expect(row).to_contain_text("Failed: The provider refused the message")
    _check_page(page, screenshot, "worklist-reminders-failed")

    row.locator("text=Open chart").click()
    page.wait_for_url(f"**/patients/patient/{shift['former'].patient_id}/change/")
