"""A staff member's shift, in a real browser."""

import datetime as dt
import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from programs.demo import DEMO_STAFF_PASSWORD, DEMO_STAFF_USERNAME
from programs.models import Transition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page):
    page.goto("/admin/login/")
    page.fill("#id_username", DEMO_STAFF_USERNAME)
    page.fill("#id_password", DEMO_STAFF_PASSWORD)
    page.click("input[type=submit]")


def test_staff_logs_in_to_the_dashboard_and_follows_a_figure(page, screenshot):
    call_command("seed_demo", "--no-progress", "--patients", "40")

    _log_in(page)

    assert page.locator("h2#census-title").inner_text() == "Census today"
    cards = page.locator(".cards a.card")
    assert cards.count() >= 11
    screenshot(page, "dashboard")
    figure = page.locator('[data-figure="due-a-step-down-decision"]')
    expected = int(figure.locator(".card-value").inner_text())
    figure.click()
    page.wait_for_url("**/residentialstay/worklist/step-down/")
    expect(page.locator("#worklist tbody tr")).to_have_count(expected)


def test_the_patient_page_shows_the_journey(page, screenshot):
    call_command("seed_demo", "--no-progress", "--patients", "40")
    patient = Transition.objects.filter(kind="step_up").first().episode.patient
    _log_in(page)

    page.goto(f"/admin/patients/patient/{patient.pk}/change/")

    expect(page.locator("#journey")).to_contain_text("Step-up to")
    screenshot(page, "patient")


def _census(page, program) -> str:
    return page.locator(f'[data-figure="census-{program.pk}"] .card-value').inner_text()


def _beds(text: str) -> tuple[int, int]:
    """'12/20 beds' read whole (a substring such as '6/' would also match '16/')."""
    match = re.fullmatch(r"(\d+)/(\d+) beds", text.strip())
    assert match, text
    return int(match[1]), int(match[2])


def _patients(text: str) -> int:
    match = re.fullmatch(r"(\d+) patients", text.strip())
    assert match, text
    return int(match[1])


def _exactly(text: str) -> re.Pattern:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def test_admit_to_a_free_bed_then_step_down_and_the_dashboard_follows(page, screenshot):
    from patients.models import Patient
    from programs.models import Program

    call_command("seed_demo", "--no-progress", "--patients", "40")
    newcomer = Patient.objects.create(
        mrn="E2E-1", legal_first_name="Robin", legal_last_name="Newcomer", date_of_birth="1990-04-02"
    )
    residential = Program.objects.get(name="Riverside Residential")
    iop = Program.objects.get(name="Riverside Evening IOP")
    _log_in(page)
    beds_before, iop_before = _census(page, residential), _census(page, iop)

    page.goto(f"/admin/patients/patient/{newcomer.pk}/change/")
    page.click("text=Admit to residential")
    # The picker lists free beds only; admit two days back (charting often lags), so a step-down today is valid.
    beds = [o for o in page.locator("#id_bed option").all_inner_texts() if "Riverside Residential" in o]
    page.select_option("#id_bed", label=beds[-1])
    page.fill("#id_admitted_on", (timezone.localdate() - dt.timedelta(days=2)).isoformat())
    page.click("input[type=submit][value='Admit to residential']")
    expect(page.locator(".messagelist")).to_contain_text("Admitted to Riverside Residential")

    page.goto("/admin/")
    occupied_before, in_service = _beds(beds_before)
    expect(page.locator(f'[data-figure="census-{residential.pk}"] .card-value')).to_have_text(
        _exactly(f"{occupied_before + 1}/{in_service} beds")
    )

    page.goto(f"/admin/patients/patient/{newcomer.pk}/change/")
    page.click("text=Step down to IOP")
    page.select_option("#id_to_program", label=str(iop))
    page.fill("#id_reason", "Stable and engaged; lives nearby")
    page.click("input[type=submit][value='Step down to IOP']")
    expect(page.locator(".messagelist")).to_contain_text("Stepped down to Riverside Evening IOP")
    expect(page.locator("#journey")).to_contain_text("Step-down to Riverside Evening IOP")

    page.goto("/admin/")
    expect(page.locator(f'[data-figure="census-{residential.pk}"] .card-value')).to_have_text(
        _exactly(f"{occupied_before}/{in_service} beds")
    )
    expect(page.locator(f'[data-figure="census-{iop.pk}"] .card-value')).to_have_text(
        _exactly(f"{_patients(iop_before) + 1} patients")
    )
    screenshot(page, "dashboard-after-step-down")


# --- Staff admin panel (issue 6): a clinician takes attendance with one tap per patient ---------------


def _session_running_now(facilitator):
    """A midday group at Riverside that started half an hour ago, with three newly enrolled patients booked."""
    from zoneinfo import ZoneInfo

    from patients.models import Patient
    from programs import services as journey
    from programs.models import Site
    from scheduling import services
    from scheduling.models import Session
    from tests.factories import ProgramFactory

    site = Site.objects.get(code="riverside")
    program = ProgramFactory(site=site, iop=True, name="Riverside Midday IOP", time_zone=site.time_zone)
    local_now = timezone.now().astimezone(ZoneInfo(program.time_zone))
    start = max(local_now - dt.timedelta(minutes=30), local_now.replace(hour=0, minute=0, second=0, microsecond=0))
    series = services.create_series(
        program=program, name="Midday skills group", kind="group_therapy", rule="FREQ=DAILY",
        start_time=start.time().replace(second=0, microsecond=0), duration_minutes=60, facilitator=facilitator,
        capacity=8, starts_on=local_now.date(), room="Room 6",
    )  # fmt: skip
    patients = [
        Patient.objects.create(
            mrn=f"E2E-A{n}",
            legal_first_name=first,
            legal_last_name="Attender",
            date_of_birth=dt.date(1991, 3, n),
            registered_site=site,
        )
        for n, first in enumerate(["Ada", "Ben", "Cleo"], start=1)
    ]
    for patient in patients:
        journey.enroll_in_iop(patient=patient, program=program, start_on=local_now.date(), enrolled_by=facilitator)
    # A session that has already started is never created or booked by the series or the enrolments;
    # this one, running now, is a backfill of history (an explicit ``from_on``).
    services.generate_sessions(series_ids=[series.pk], from_on=local_now.date())
    session = Session.objects.get(series=series, local_date=local_now.date())
    assert session.booked_count == 3
    return session, patients


def test_a_clinician_takes_attendance_with_one_tap_per_patient_and_the_dashboard_follows(page, screenshot):
    from django.contrib.auth import get_user_model

    call_command("seed_demo", "--no-progress", "--patients", "40")
    clinician = get_user_model().objects.get(username="demo.clinician")
    session, (ada, ben, cleo) = _session_running_now(clinician)

    page.goto("/admin/login/")
    page.fill("#id_username", "demo.clinician")
    page.fill("#id_password", DEMO_STAFF_PASSWORD)
    page.click("input[type=submit]")
    awaiting = page.locator('[data-figure="sessions-awaiting-attendance"] .card-value')
    before = int(awaiting.inner_text())
    assert before >= 1
    screenshot(page, "dashboard-clinician")

    # From today's sessions on the dashboard to the attendance sheet.
    page.locator(f'#today-sessions tr[data-session="{session.pk}"] >> text=Take attendance').click()
    page.wait_for_url(f"**/scheduling/session/{session.pk}/attendance/")
    page.locator(f'tr[data-patient="{ada.mrn}"] label.mark-present').click()
    page.locator(f'tr[data-patient="{ben.mrn}"] label.mark-absent').click()
    page.locator(f'tr[data-patient="{cleo.mrn}"] label.mark-late').click()
    page.locator(f'tr[data-patient="{cleo.mrn}"] input.minutes-input').fill("40")
    screenshot(page, "attendance")
    page.click("input[type=submit][value='Save attendance']")
    expect(page.locator(".messagelist")).to_contain_text("Attendance saved: 3 mark(s)")
    expect(page.locator(f'tr[data-patient="{cleo.mrn}"]')).to_contain_text("recorded: late")

    page.goto("/admin/")
    expect(awaiting).to_have_text(str(before - 1))
    page.goto(f"/admin/patients/patient/{cleo.pk}/change/")
    expect(page.locator("#attendance-history")).to_contain_text("40 of 60")
