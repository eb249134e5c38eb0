"""The admin applies the access rules: site scoping, no clinical details for front desk, the access report."""

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import AuditAction, AuditCategory, AuditEvent
from programs import services
from programs.models import Disposition
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def riverside_patient(site):
    return PatientFactory(legal_first_name="Alex", legal_last_name="Rivera", registered_site=site)


@pytest.fixture
def discharged_episode(riverside_patient, bed, iop, clinician, today):
    stay = services.admit_to_residential(
        patient=riverside_patient, bed=bed, admitted_on=today - dt.timedelta(days=40), admitted_by=clinician
    )
    enrollment = services.step_down(
        stay=stay, to_program=iop, on=today - dt.timedelta(days=5), reason="Cravings-managed-7731", decided_by=clinician
    ).to_placement
    services.discharge(
        episode=enrollment.episode,
        on=today,
        disposition=Disposition.AGAINST_ADVICE,
        decided_by=clinician,
        notes="Discharge-note-5512",
    )
    return enrollment.episode


def _get(client, user, url, **params):
    client.force_login(user)
    return client.get(url, params)


def test_a_colleague_at_another_site_sees_nothing_of_this_sites_patients(
    client, colleague_elsewhere, riverside_patient, discharged_episode
):
    changelist = _get(client, colleague_elsewhere, reverse("admin:patients_patient_changelist"), q="Riv")
    assert changelist.status_code == 200
    assert "Rivera" not in changelist.content.decode()
    change = client.get(reverse("admin:patients_patient_change", args=[riverside_patient.pk]))
    assert change.status_code == 302  # the admin's "does not exist" redirect
    assert "Rivera" not in client.get(change.url).content.decode()
    for name in ["treatmentepisode", "residentialstay", "iopenrollment", "transition", "discharge", "aftercareplan"]:
        page = client.get(reverse(f"admin:programs_{name}_changelist"))
        assert page.status_code == 200 and "Rivera" not in page.content.decode(), name
    episode = client.get(reverse("admin:programs_treatmentepisode_change", args=[discharged_episode.pk]))
    assert episode.status_code == 302
    # Nor can they pick this site's programs in a form.
    assert (
        discharged_episode.placements.first().program.name
        not in client.get(reverse("admin:programs_program_changelist")).content.decode()
    )


def test_staff_at_the_site_see_the_patient(client, site_clinician, riverside_patient):
    page = _get(client, site_clinician, reverse("admin:patients_patient_changelist"), q="Rivera")
    assert "Rivera" in page.content.decode()


def test_front_desk_sees_demographics_and_placements_but_no_clinical_details(
    client, front_desk, site_clinician, riverside_patient, discharged_episode
):
    episode_url = reverse("admin:programs_treatmentepisode_change", args=[discharged_episode.pk])
    patient_url = reverse("admin:patients_patient_change", args=[riverside_patient.pk])

    clinician_view = _get(client, site_clinician, episode_url).content.decode()
    assert "Cravings-managed-7731" in clinician_view and "Left against advice" in clinician_view

    page = _get(client, front_desk, episode_url)
    assert page.status_code == 200
    content = page.content.decode()
    assert "Cravings-managed-7731" not in content
    assert "Left against advice" not in content and "Discharge-note-5512" not in content
    assert "Evening IOP" in content  # the schedule side: which track
    assert "Rivera" in client.get(patient_url).content.decode()
    for name in ["transition", "discharge", "stayextension", "reversal", "aftercareplan", "aftercarecheckin"]:
        assert client.get(reverse(f"admin:programs_{name}_changelist")).status_code == 403, name
    transition = discharged_episode.transitions.get()
    assert client.get(reverse("admin:programs_transition_change", args=[transition.pk])).status_code == 403
    assert client.get(reverse("admin:patients_patient_access", args=[riverside_patient.pk])).status_code == 403


def test_program_admin_reads_who_looked_at_a_record(client, site_clinician, program_admin, riverside_patient):
    _get(client, site_clinician, reverse("admin:patients_patient_change", args=[riverside_patient.pk]))
    report_url = reverse("admin:patients_patient_access", args=[riverside_patient.pk])
    change = _get(client, program_admin, reverse("admin:patients_patient_change", args=[riverside_patient.pk]))
    assert report_url in change.content.decode()
    report = client.get(report_url)
    assert report.status_code == 200
    assert "marcus.clinician" in report.content.decode()
    # Reading the report is itself in the trail.
    assert AuditEvent.objects.filter(
        user=program_admin, patient=riverside_patient, category=AuditCategory.AUDIT, action=AuditAction.VIEW
    ).exists()


def test_the_access_report_of_another_sites_patient_is_not_found(client, other_site):
    from clinic.access import Role
    from tests.factories import staff_member

    admin_elsewhere = staff_member(role=Role.PROGRAM_ADMIN, sites=[other_site], username="lake.admin")
    patient = PatientFactory(registered_site=None)
    response = _get(client, admin_elsewhere, reverse("admin:patients_patient_access", args=[patient.pk]))
    assert response.status_code == 404


def test_front_desk_edits_demographics_and_the_save_is_audited_without_values(client, front_desk, riverside_patient):
    client.force_login(front_desk)
    url = reverse("admin:patients_patient_change", args=[riverside_patient.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update(
        {
            "preferred_name": "Lex",
            "quiet_hours_start": "21:00",
            "quiet_hours_end": "08:00",
            "registered_site": riverside_patient.registered_site_id,
            "date_of_birth": riverside_patient.date_of_birth.isoformat(),
        }
    )
    for prefix in ["messaging_consent_events", "disclosure_consents"]:
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    riverside_patient.refresh_from_db()
    assert riverside_patient.preferred_name == "Lex"
    event = AuditEvent.objects.get(action=AuditAction.CHANGE, patient=riverside_patient)
    assert event.username == "lena.frontdesk" and event.role == "front_desk"
    assert "preferred_name" in event.detail and "Lex" not in event.detail
