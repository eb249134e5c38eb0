"""Issue 13 in the staff panel: invite a patient to the app and deactivate their access from the chart."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import AccessCode
from clinic.models import AuditEvent

pytestmark = pytest.mark.django_db

CODE = re.compile(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}\b")


def _url(patient, action: str) -> str:
    return reverse("admin:patients_patient_app_access", args=[patient.pk, action])


def test_the_patient_page_offers_an_invitation(client, world, site_clinician):
    client.force_login(site_clinician)
    page = client.get(reverse("admin:patients_patient_change", args=[world.patient.pk]))
    html = page.content.decode()
    assert "Invite to the app" in html and 'id="app-access-state">None' in html


def test_an_invitation_from_the_panel_goes_out_by_text(client, world, front_desk, twilio, smtp):
    client.force_login(front_desk)
    assert "Invite to the app" in client.get(_url(world.patient, "invite")).content.decode()
    answer = client.post(_url(world.patient, "invite"))
    html = answer.content.decode()
    assert answer.status_code == 200 and "went out by sms and email" in html
    assert not CODE.search(html)  # sent: staff never see it
    assert CODE.search(twilio.log.created[-1]["body"])
    assert "no-store" in answer["Cache-Control"]
    assert AuditEvent.objects.filter(patient=world.patient, detail="app invitation sent via sms, email").exists()


def test_for_confidential_communication_the_panel_shows_the_code_once(client, world, site_clinician, twilio, smtp):
    world.patient.confidential_communication = True
    world.patient.save(update_fields=["confidential_communication"])
    client.force_login(site_clinician)
    html = client.post(_url(world.patient, "invite")).content.decode()
    (code,) = set(CODE.findall(html))
    assert twilio.log.created == [] and smtp.messages == []
    # Not kept anywhere to show again: the patient page and the next visit do not have it.
    assert code not in client.get(reverse("admin:patients_patient_change", args=[world.patient.pk])).content.decode()
    assert code not in client.get(_url(world.patient, "invite")).content.decode()
    assert AuditEvent.objects.filter(patient=world.patient, detail="app invitation to hand over in person").exists()


def test_deactivating_from_the_panel(client, world, site_clinician, patient_user):
    client.force_login(site_clinician)
    page = client.get(reverse("admin:patients_patient_change", args=[world.patient.pk])).content.decode()
    assert "Deactivate app access" in page and "Re-invite to the app" in page
    answer = client.post(_url(world.patient, "deactivate"))
    assert answer.status_code == 302
    patient_user.refresh_from_db()
    assert not patient_user.is_active
    assert AuditEvent.objects.filter(patient=world.patient, detail="app access deactivated").exists()


def test_the_wrong_people_get_nothing(client, world, colleague_elsewhere, patient_user, twilio, smtp):
    client.force_login(colleague_elsewhere)
    assert client.post(_url(world.patient, "invite")).status_code == 404
    assert client.post(_url(world.patient, "deactivate")).status_code == 404
    client.force_login(patient_user)
    assert client.post(_url(world.patient, "invite")).status_code == 302  # to the admin login
    assert not AccessCode.objects.exists()
    patient_user.refresh_from_db()
    assert patient_user.is_active
