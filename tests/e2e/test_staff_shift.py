"""A staff member's shift, in a real browser."""

import pytest
from django.core.management import call_command
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
