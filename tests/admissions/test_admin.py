"""The admissions pipeline in the staff panel: record, screen, accept, reserve, admit; lists and worklists."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from admissions.models import Referral, Reservation
from clinic import dashboard
from programs.models import Placement

pytestmark = pytest.mark.django_db


def _step(model: str, obj, slug: str) -> str:
    return reverse(f"admin:admissions_{model}_step", args=[obj.pk, slug])


def test_the_pipeline_in_the_panel(client, front_desk, site_clinician, residential, bed, day):
    client.force_login(front_desk)
    recorded = client.post(
        reverse("admin:admissions_referral_record"),
        {
            "program": residential.pk,
            "source": "family",
            "referred_on": day.isoformat(),
            "first_name": "Nia",
            "last_name": "Okafor",
            "date_of_birth": "1990-02-03",
            "notes": "Opioid use disorder",
        },
    )
    assert recorded.status_code == 302, recorded.context["form"].errors
    referral = Referral.objects.get()
    listing = client.get(reverse("admin:admissions_referral_changelist")).content.decode()
    assert "Okafor" in listing and "Opioid" not in listing
    assert client.get(_step("referral", referral, "screen")).status_code == 403  # a clinical decision

    client.force_login(site_clinician)
    listing = client.get(reverse("admin:admissions_referral_changelist")).content.decode()
    assert "Record contact, start screening" in listing
    assert client.post(_step("referral", referral, "screen"), {}).status_code == 302
    accepted = client.post(_step("referral", referral, "accept"), {"reason": "Meets criteria", "mrn": "MRN-88"})
    assert accepted.status_code == 302, accepted.context["form"].errors
    reserve = client.post(
        _step("referral", referral, "reserve"),
        {"bed": bed.pk, "start_on": day.isoformat(), "expires_at": f"{day + dt.timedelta(days=1)} 22:00"},
    )
    assert reserve.status_code == 302, reserve.context["form"].errors
    reservation = Reservation.objects.get()
    with time_machine.travel(dt.datetime.combine(day, dt.time(16), tzinfo=dt.UTC)):
        admitted = client.post(_step("reservation", reservation, "admit"), {})
    assert admitted.status_code == 302, admitted.context["form"].errors
    stay = Placement.objects.get(bed=bed)
    assert stay.patient.mrn == "MRN-88"
    referral.refresh_from_db()
    assert referral.status == "admitted"


def test_a_refusal_is_a_form_error_and_nothing_is_written(client, site_clinician, refer, bed, day):
    referral = refer(upto="accepted")
    client.force_login(site_clinician)
    response = client.post(
        _step("referral", referral, "reserve"),
        {"bed": bed.pk, "start_on": (day - dt.timedelta(days=2)).isoformat(), "expires_at": f"{day} 23:00"},
    )
    assert response.status_code == 200
    assert "cannot start in the past" in str(response.context["form"].errors)
    assert not Reservation.objects.exists()


def test_another_sites_referral_is_not_found(client, colleague_elsewhere, refer):
    referral = refer(upto="new")
    client.force_login(colleague_elsewhere)
    assert client.get(_step("referral", referral, "screen")).status_code == 404
    assert "Okafor" not in client.get(reverse("admin:admissions_referral_changelist")).content.decode()


def test_the_worklist_figures_match_their_lists(client, site_clinician, refer, bed, instant, day):
    from admissions import services

    waiting = refer(upto="accepted", last_name="Waits", mrn="M-W")
    refer(upto="accepted", last_name="Other", mrn="M-O")
    services.reserve(
        referral=waiting, bed=bed, start_on=day, expires_at=instant + dt.timedelta(hours=20), reserved_by=site_clinician
    )
    stale = refer(upto="new", last_name="Stale")
    Referral.objects.filter(pk=stale.pk).update(created_at=instant - dt.timedelta(days=3))
    board = dashboard.build(user=site_clinician, today=day)
    figures = {figure.label: figure for figure in board.figures}
    assert figures["Waiting for admission"].value == 2
    assert figures["Reservations expiring in 48 h"].value == 1
    assert figures["Referrals not contacted in 2 days"].value == 1
    client.force_login(site_clinician)
    for label in ("Waiting for admission", "Reservations expiring in 48 h", "Referrals not contacted in 2 days"):
        page = client.get(figures[label].url)
        assert page.context["worklist"].counted == figures[label].value, label


def test_the_dashboard_chart_runs_14_days_into_the_forecast(
    client, superuser, refer, bed, site_clinician, day, instant
):
    from admissions import services

    services.reserve(
        referral=refer(upto="accepted"),
        bed=bed,
        start_on=day + dt.timedelta(days=3),
        expires_at=instant + dt.timedelta(days=4),
        reserved_by=site_clinician,
    )
    board = dashboard.build(user=superuser, today=day)
    chart = board.chart
    assert chart["last"] == day and chart["forecast_last"] == day + dt.timedelta(days=14)
    assert len(chart["forecast_residential"].split()) == 15  # today, then 14 days
    residential = [float(point.split(",")[1]) for point in chart["forecast_residential"].split()]
    assert residential[3] < residential[2]  # the reserved bed is expected from day 3 (higher is smaller y)
    client.force_login(superuser)
    assert 'stroke-dasharray="5 4"' in client.get(reverse("admin:index")).content.decode()
