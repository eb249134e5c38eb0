"""Roles and site scoping: who sees which patients, programs and sites."""

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from clinic import access
from clinic.access import ROLE_GROUPS, ROLE_PERMISSIONS, Role
from clinic.models import AuditEvent
from patients.models import Patient
from programs import services
from programs.models import Placement
from tests.factories import PatientFactory, ProgramFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_role_permission_exists_and_the_groups_hold_exactly_them():
    assert access.sync_role_permissions() == []
    for role, group_name in ROLE_GROUPS.items():
        group = Group.objects.get(name=group_name)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert held == ROLE_PERMISSIONS[role]


def test_front_desk_has_no_clinical_history_permissions(front_desk):
    assert front_desk.has_perm("patients.change_patient")
    assert not front_desk.has_perm("programs.view_transition")
    assert not front_desk.has_perm("programs.view_discharge")
    assert not front_desk.has_perm("clinic.view_auditevent")


def test_roles_and_clinical_access(site_clinician, front_desk, program_admin, superuser, patient):
    patient.user = UserFactory(username="alex.patient", is_staff=False)
    patient.save()
    assert access.role_of(site_clinician) == Role.CLINICIAN
    assert access.role_of(front_desk) == Role.FRONT_DESK
    assert access.role_of(program_admin) == Role.PROGRAM_ADMIN
    assert access.role_of(superuser) == Role.SUPERUSER
    assert access.role_of(patient.user) == Role.PATIENT
    assert access.role_of(AnonymousUser()) is None
    assert access.role_of(UserFactory(username="no.role")) is None
    assert [access.can_view_clinical(u) for u in (site_clinician, program_admin, superuser)] == [True] * 3
    assert [access.can_view_clinical(u) for u in (front_desk, patient.user, AnonymousUser())] == [False] * 3


def test_a_user_in_two_groups_gets_the_more_privileged_role(site, front_desk):
    front_desk.groups.add(Group.objects.get(name=ROLE_GROUPS[Role.PROGRAM_ADMIN]))
    front_desk._clinic_role = False  # drop the cached lookup, as a new request would
    assert access.role_of(front_desk) == Role.PROGRAM_ADMIN


def test_staff_see_patients_registered_or_placed_at_their_sites(
    site, other_site, iop, clinician, site_clinician, colleague_elsewhere, today
):
    registered = PatientFactory(registered_site=site)
    placed = PatientFactory()
    services.enroll_in_iop(patient=placed, program=iop, start_on=today, enrolled_by=clinician)
    elsewhere = PatientFactory(registered_site=other_site)
    nowhere = PatientFactory()

    assert set(access.visible_patients(site_clinician)) == {registered, placed}
    assert set(access.visible_patients(colleague_elsewhere)) == {elsewhere}
    assert nowhere not in access.visible_patients(site_clinician)
    assert list(access.visible_sites(colleague_elsewhere)) == [other_site]
    assert not access.visible_programs(colleague_elsewhere).filter(pk=iop.pk).exists()
    assert access.scope_queryset(Placement.objects.all(), user=colleague_elsewhere).count() == 0
    assert access.scope_queryset(Placement.objects.all(), user=site_clinician).count() == 1


def test_a_step_down_to_another_site_shares_the_journey_with_its_staff(
    site, other_site, bed, clinician, site_clinician, colleague_elsewhere, today
):
    lakeview_iop = ProgramFactory(site=other_site, iop=True)
    patient = PatientFactory()
    stay = services.admit_to_residential(
        patient=patient, bed=bed, admitted_on=today - dt.timedelta(days=31), admitted_by=clinician
    )
    services.step_down(stay=stay, to_program=lakeview_iop, on=today, reason="Stable", decided_by=clinician)
    # Both sites treated the patient, so both see the whole episode.
    for user in (site_clinician, colleague_elsewhere):
        assert access.scope_queryset(Placement.objects.all(), user=user).count() == 2


def test_cancelled_placements_do_not_open_a_patient_to_a_site(iop, clinician, site_clinician, today):
    patient = PatientFactory()
    enrollment = services.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    Placement.objects.filter(pk=enrollment.pk).update(cancelled_at=timezone.now())
    assert not access.visible_patients(site_clinician).filter(pk=patient.pk).exists()


def test_a_patient_sees_only_themselves(site, patient, other_patient):
    patient.user = UserFactory(username="alex.patient", is_staff=False)
    patient.save()
    assert list(access.visible_patients(patient.user)) == [patient]
    assert access.scope_queryset(Patient.objects.all(), user=AnonymousUser()).count() == 0


def test_superusers_see_everyone(superuser, patient, other_patient):
    assert access.visible_patients(superuser).count() == 2


def test_scoping_an_undeclared_model_fails_loudly(site_clinician):
    with pytest.raises(ImproperlyConfigured, match="no access scope"):
        access.scope_queryset(Group.objects.all(), user=site_clinician)
    # The audit trail is read through clinic.audit.visible_events, never the generic scope.
    with pytest.raises(ImproperlyConfigured):
        access.scope_of(AuditEvent)
