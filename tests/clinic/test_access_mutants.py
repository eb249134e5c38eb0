"""Who may see what, case by case (mutation testing, issue 18)."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from clinic import access
from clinic.access import Role, Scope
from patients.models import Patient
from programs import services
from programs.models import Placement, Program, ResidentialStay, Site
from tests.factories import BedFactory, PatientFactory, ProgramFactory, SiteFactory, UserFactory, staff_member

pytestmark = pytest.mark.django_db
D = dt.timedelta


@pytest.fixture
def patient_user(site, other_site, iop, clinician, today):
    """A patient registered at Riverside, enrolled at Lakeview, and once (cancelled) at a third site."""
    user = UserFactory(username="alex.patient")
    patient = PatientFactory(user=user, registered_site=site)
    third = SiteFactory(name="Hillcrest", code="hillcrest")
    cancelled = services.enroll_in_iop(
        patient=patient, program=ProgramFactory(site=third, iop=True), start_on=today, enrolled_by=clinician
    )
    Placement.objects.filter(pk=cancelled.pk).update(cancelled_at=timezone.now())
    lakeview_iop = ProgramFactory(site=other_site, iop=True)
    services.enroll_in_iop(patient=patient, program=lakeview_iop, start_on=today, enrolled_by=clinician)
    # Someone else in care at a fourth site: nothing of it is the patient's.
    elsewhere = ProgramFactory(site=SiteFactory(name="Oakridge", code="oakridge"), iop=True)
    services.enroll_in_iop(patient=PatientFactory(), program=elsewhere, start_on=today, enrolled_by=clinician)
    return user


def test_is_staff_member_for_each_kind_of_login(site_clinician, front_desk, program_admin, superuser, patient_user):
    assert access.is_staff_member(site_clinician) and access.is_staff_member(front_desk)
    assert access.is_staff_member(program_admin) and access.is_staff_member(superuser)
    assert not access.is_staff_member(patient_user)
    assert not access.is_staff_member(UserFactory(username="no.role.yet"))
    assert not access.is_staff_member(None)


def test_a_patient_sees_the_sites_they_are_registered_or_placed_at(patient_user, site, other_site):
    assert access.role_of(patient_user) == Role.PATIENT
    assert set(access.visible_sites(patient_user)) == {site, other_site}  # not the cancelled one's
    assert set(access.visible_programs(patient_user)) == set(Program.objects.filter(site__in=[site, other_site]))


def test_a_login_without_a_role_sees_no_site_no_program_no_patient(site, patient):
    nobody = UserFactory(username="no.role.yet")
    assert not access.visible_sites(nobody).exists()
    assert not access.visible_programs(nobody).exists()
    assert not access.visible_patients(nobody).exists()
    # The ids as a subquery too (what the lists and the search filter by): none, and a valid subquery.
    assert not Patient.objects.filter(pk__in=access.visible_patient_ids(nobody)).exists()


def test_staff_see_the_programs_of_their_sites_only(site_clinician, residential, iop, other_site):
    ProgramFactory(site=other_site, name="Lakeview Residential")
    assert set(access.visible_programs(site_clinician)) == {residential, iop}
    assert set(access.scope_queryset(Program.objects.all(), user=site_clinician)) == {residential, iop}


def test_a_patients_own_id_is_read_once_per_login(patient_user, django_assert_num_queries):
    patient_id = access.visible_patients(patient_user).get().pk
    with django_assert_num_queries(1):  # the patients query; the role and the id are remembered
        assert list(access.visible_patients(patient_user).values_list("pk", flat=True)) == [patient_id]


def test_can_see_patient_by_object_or_id(site_clinician, colleague_elsewhere, site):
    patient = PatientFactory(registered_site=site)
    assert access.can_see_patient(site_clinician, patient) and access.can_see_patient(site_clinician, patient.pk)
    assert not access.can_see_patient(colleague_elsewhere, patient)
    assert not access.can_see_patient(colleague_elsewhere, patient.pk)


def test_a_scope_names_patient_paths_or_a_site_path_exactly_one_of_them():
    message = r"^A scope names patient paths or a site path, not both\.$"
    with pytest.raises(ImproperlyConfigured, match=message):
        Scope()
    with pytest.raises(ImproperlyConfigured, match=message):
        Scope(patient=("patient",), site="site")
    assert Scope(patient=("patient",)).site is None and Scope(site="").patient == ()


def test_a_registered_scope_is_used_and_a_proxys_own_scope_wins(monkeypatch):
    monkeypatch.setattr(access, "SCOPES", dict(access.SCOPES))
    access.register_scope("auth.group", site="site")
    assert access.scope_of(Group) == Scope(site="site")
    access.register_scope("programs.residentialstay", patient=["stay__patient", "patient"])
    assert access.scope_of(ResidentialStay) == Scope(patient=("stay__patient", "patient"))
    assert access.scope_of(Placement) == Scope(patient=("patient",))


def test_patient_ids_of_rows_follow_the_scope(site_clinician, residential, iop, bed, today, django_assert_num_queries):
    a, b = PatientFactory(), PatientFactory()
    first = services.admit_to_residential(patient=a, bed=bed, admitted_on=today, admitted_by=site_clinician)
    second = services.enroll_in_iop(patient=b, program=iop, start_on=today, enrolled_by=site_clinician)
    with django_assert_num_queries(1):
        assert access.patient_ids_of(Placement, [second.pk, first.pk]) == sorted([a.pk, b.pk])
    with django_assert_num_queries(0):
        assert access.patient_ids_of(type(a), [b.pk, a.pk, a.pk]) == sorted([a.pk, b.pk])
        assert access.patient_ids_of(Placement, []) == []
        assert access.patient_ids_of(Site, [residential.site_id]) == []  # a site is about no patient


def test_sync_role_permissions_empties_a_role_with_none(monkeypatch):
    monkeypatch.setitem(access.ROLE_PERMISSIONS, Role.UR_COORDINATOR, set())
    assert access.sync_role_permissions() == []
    assert not Group.objects.get(name=access.ROLE_GROUPS[Role.UR_COORDINATOR]).permissions.exists()
    monkeypatch.setitem(access.ROLE_PERMISSIONS, Role.FRONT_DESK, {"patients.view_patient", "patients.fly_patient"})
    assert access.sync_role_permissions() == ["patients.fly_patient"]
    group = Group.objects.get(name=access.ROLE_GROUPS[Role.FRONT_DESK])
    assert [p.codename for p in group.permissions.all()] == ["view_patient"]


def test_grant_adds_permissions_to_a_role(monkeypatch):
    monkeypatch.setitem(access.ROLE_PERMISSIONS, Role.FRONT_DESK, set())
    access.grant(Role.FRONT_DESK, "patients.view_patient", "programs.view_bed")
    assert access.ROLE_PERMISSIONS[Role.FRONT_DESK] == {"patients.view_patient", "programs.view_bed"}


def test_bed_rows_are_scoped_through_their_programs_site(site_clinician, residential, other_site):
    mine = BedFactory(program=residential, label="A")
    BedFactory(program=ProgramFactory(site=other_site), label="B")
    from programs.models import Bed

    assert list(access.scope_queryset(Bed.objects.all(), user=site_clinician)) == [mine]


def test_a_deactivated_login_has_no_role_and_sees_nothing(site_clinician, site):
    PatientFactory(registered_site=site)
    site_clinician.is_active = False
    assert access.role_of(site_clinician) is None
    assert not access.visible_patients(site_clinician).exists()


def test_another_organisations_api_client_has_no_role(site):
    from exchange.readers import ClientPrincipal

    client = ClientPrincipal(client=None)
    assert access.role_of(client) is None
    assert not access.is_staff_member(client) and not access.can_view_clinical(client)
    assert not access.visible_sites(client).exists()


def test_reversals_are_scoped_through_either_the_transition_or_the_discharge(
    site_clinician, colleague_elsewhere, bed, iop, clinician, today
):
    from programs.models import Reversal

    patient = PatientFactory()
    stay = services.admit_to_residential(patient=patient, bed=bed, admitted_on=today - D(5), admitted_by=clinician)
    transition = services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)
    reversal = services.reverse_transition(transition=transition, reason="Recorded in error", reversed_by=clinician)
    assert list(access.scope_queryset(Reversal.objects.all(), user=site_clinician)) == [reversal]
    assert not access.scope_queryset(Reversal.objects.all(), user=colleague_elsewhere).exists()


# --- The caller's role and patient id, as each kind of request loads the user (issue 17's caching) ---------


def _as_the_session_loads_it(user):
    """A fresh user object, as Django's session authentication loads it: the row alone, no patient record."""
    return type(user).objects.get(pk=user.pk)


def test_a_patient_loaded_by_the_session_is_recognised_once_and_sees_only_their_own_rows(
    patient_user, django_assert_num_queries
):
    patient = Patient.objects.get(user=patient_user)
    user = _as_the_session_loads_it(patient_user)
    with django_assert_num_queries(2):  # the groups' names, then the patient id
        assert access.role_of(user) == Role.PATIENT
    with django_assert_num_queries(1):  # the patients query only: the id was remembered with the role
        assert list(access.visible_patients(user).values_list("pk", flat=True)) == [patient.pk]
    # Rows scoped through a patient path: the patient's own placements (the live and the cancelled one), no one else's.
    mine = set(Placement.objects.filter(patient=patient))
    assert len(mine) == 2 and Placement.objects.exclude(patient=patient).exists()
    assert set(access.scope_queryset(Placement.objects.all(), user=user)) == mine
    assert set(access.scope_queryset(Patient.objects.all(), user=user)) == {patient}


def test_a_patient_loaded_as_the_api_loads_the_caller_costs_no_query_for_the_role(
    patient_user, django_assert_num_queries
):
    from clinic.api.authentication import load_caller

    patient = Patient.objects.get(user=patient_user)
    user = load_caller(type(patient_user), patient_user.pk)
    with django_assert_num_queries(0):  # groups and patient record came with the user's row
        assert access.role_of(user) == Role.PATIENT
    with django_assert_num_queries(1):
        assert list(access.visible_patients(user).values_list("pk", flat=True)) == [patient.pk]


def test_a_login_with_no_group_and_no_patient_record_loaded_by_the_api_has_no_role_without_a_query(
    site, django_assert_num_queries
):
    from clinic.api.authentication import load_caller

    login = UserFactory(username="no.role.yet")
    PatientFactory(registered_site=site)
    user = load_caller(type(login), login.pk)
    with django_assert_num_queries(0):
        assert access.role_of(user) is None
    assert not access.visible_patients(user).exists()
    assert not access.scope_queryset(Patient.objects.all(), user=user).exists()


def test_staff_roles_come_from_the_group_names_loaded_with_the_caller(
    site_clinician, front_desk, superuser, django_assert_num_queries
):
    from clinic.api.authentication import load_caller

    superuser.groups.add(Group.objects.get(name=access.ROLE_GROUPS[Role.FRONT_DESK]))  # superuser wins
    callers = [load_caller(type(u), u.pk) for u in (site_clinician, front_desk, superuser)]
    with django_assert_num_queries(0):
        assert [access.role_of(u) for u in callers] == [Role.CLINICIAN, Role.FRONT_DESK, Role.SUPERUSER]
    # The loaded names are what counts for the request: a group joined after the load waits for the next one.
    front_desk.groups.add(Group.objects.get(name=access.ROLE_GROUPS[Role.PROGRAM_ADMIN]))
    late = load_caller(type(front_desk), front_desk.pk)
    setattr(late, access.GROUP_NAMES_ATTR, [access.ROLE_GROUPS[Role.FRONT_DESK]])
    assert access.role_of(late) == Role.FRONT_DESK


def test_a_patient_record_linked_mid_request_changes_nothing_until_the_next_request(site):
    """The role and the patient id are one answer per request: no role now means no patient id now."""
    login = UserFactory(username="registering.now")
    user = _as_the_session_loads_it(login)
    assert access.role_of(user) is None
    patient = PatientFactory(user=user, registered_site=site)  # also caches user.patient on this object
    assert user._meta.model.patient.is_cached(user)
    assert access._patient_id_of(user) is None
    assert access.role_of(user) is None and not access.visible_patients(user).exists()
    following = _as_the_session_loads_it(login)
    assert access.role_of(following) == Role.PATIENT and access._patient_id_of(following) == patient.pk


def test_a_superusers_visible_ids_are_every_patient(superuser, site, other_site):
    everyone = {PatientFactory(registered_site=site).pk, PatientFactory(registered_site=other_site).pk}
    assert set(Patient.objects.filter(pk__in=access.visible_patient_ids(superuser)).values_list("pk", flat=True)) == (
        everyone
    )


def test_staff_at_no_site_see_no_patient_row_through_an_empty_array(site, iop, clinician, today):
    """``= ANY('{}')`` is false for every row: a role with no site membership sees nothing."""
    services.enroll_in_iop(
        patient=PatientFactory(registered_site=site), program=iop, start_on=today, enrolled_by=clinician
    )
    unplaced = staff_member(role=Role.CLINICIAN, sites=[], username="new.hire")
    assert access.role_of(unplaced) == Role.CLINICIAN
    assert not access.scope_queryset(Placement.objects.all(), user=unplaced).exists()
    assert not access.scope_queryset(Patient.objects.all(), user=unplaced).exists()
