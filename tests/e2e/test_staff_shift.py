"""A staff member's shift, in a real browser."""

import datetime as dt

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
    page.wait_for_url("**/residentialstay/?worklist=step_down_due")
    expect(page.locator("#result_list tbody tr")).to_have_count(expected)


def test_the_patient_page_shows_the_journey(page, screenshot):
    call_command("seed_demo", "--no-progress", "--patients", "40")
    patient = Transition.objects.filter(kind="step_up").first().episode.patient
    _log_in(page)

    page.goto(f"/admin/patients/patient/{patient.pk}/change/")

    expect(page.locator("#journey")).to_contain_text("Step-up to")
    screenshot(page, "patient")


def _census(page, program) -> str:
    return page.locator(f'[data-figure="census-{program.pk}"] .card-value').inner_text()


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
    occupied_before = int(beds_before.split("/")[0])
    expect(page.locator(f'[data-figure="census-{residential.pk}"] .card-value')).to_contain_text(
        f"{occupied_before + 1}/"
    )

    page.goto(f"/admin/patients/patient/{newcomer.pk}/change/")
    page.click("text=Step down to IOP")
    page.select_option("#id_to_program", label=str(iop))
    page.fill("#id_reason", "Stable and engaged; lives nearby")
    page.click("input[type=submit][value='Step down to IOP']")
    expect(page.locator(".messagelist")).to_contain_text("Stepped down to Riverside Evening IOP")
    expect(page.locator("#journey")).to_contain_text("Step-down to Riverside Evening IOP")

    page.goto("/admin/")
    expect(page.locator(f'[data-figure="census-{residential.pk}"] .card-value')).to_contain_text(f"{occupied_before}/")
    expect(page.locator(f'[data-figure="census-{iop.pk}"] .card-value')).to_contain_text(
        str(int(iop_before.split()[0]) + 1)
    )
    screenshot(page, "dashboard-after-step-down")
