"""Who may see what: roles, site scoping and the clinical/demographic split, from one place.

The admin (``clinic.admin_base.ScopedAdminMixin``) and the REST API apply these
same rules; nothing else decides visibility.

- **Roles** are Django groups (created by a migration) whose model permissions
  are kept equal to ``ROLE_PERMISSIONS`` after every ``migrate``. A later app adds
  its permissions by extending that dict (or ``grant()`` from its AppConfig.ready).
- **Staff see only the sites they work at** (``SiteMembership``). A patient is at
  a site when they were registered there or have a (not cancelled) placement in
  one of its programs; staff who can see a patient see the whole care journey,
  because one episode may span sites (a Riverside stay stepped down to a
  Lakeview IOP track) and continuity of care needs the history.
- **Patients** (users linked through ``Patient.user``) see only themselves.
- **Superusers** see everything.

Every scoped model is declared in ``SCOPES``; scoping an undeclared model raises,
so a new model cannot leak by being forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.contrib.auth.models import Group, Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import F, Lookup, Q, QuerySet


class Role(models.TextChoices):
    PROGRAM_ADMIN = "program_admin", "Program admin"
    CLINICIAN = "clinician", "Clinician"
    FRONT_DESK = "front_desk", "Front desk"
    UR_COORDINATOR = "ur_coordinator", "UR coordinator"
    PATIENT = "patient", "Patient"
    SUPERUSER = "superuser", "Superuser"


# The Django group behind each staff role. Order matters: a user in several
# groups gets the most privileged role.
ROLE_GROUPS: dict[Role, str] = {
    Role.PROGRAM_ADMIN: "Program admin",
    Role.CLINICIAN: "Clinician",
    # Utilization review (issue 15): payer work and the clinical summary a review needs, no clinical actions.
    Role.UR_COORDINATOR: "UR coordinator",
    Role.FRONT_DESK: "Front desk",
}
STAFF_ROLES = frozenset(ROLE_GROUPS)
CLINICAL_ROLES = frozenset({Role.PROGRAM_ADMIN, Role.CLINICIAN, Role.UR_COORDINATOR, Role.SUPERUSER})

_FRONT_DESK = {
    # Demographics and contact details; registering a patient at the desk.
    "patients.view_patient",
    "patients.add_patient",
    "patients.change_patient",
    "patients.view_messagingconsentevent",
    # Where a patient is and which track they attend (the schedule), not why.
    "programs.view_site",
    "programs.view_program",
    "programs.view_bed",
    "programs.view_treatmentepisode",
    "programs.view_placement",
    "programs.view_residentialstay",
    "programs.view_iopenrollment",
    # The schedule: sessions, bookings and attendance marks (front desk books one-off sessions).
    "scheduling.view_sessionseries",
    "scheduling.view_session",
    "scheduling.view_closure",
    "scheduling.view_booking",
    "scheduling.add_booking",
    "scheduling.view_attendancerecord",
    "scheduling.view_calendarfeed",
    # Whether and when reminders went out ("I never got a text"), not their content.
    "reminders.view_reminder",
    "reminders.view_pushdevice",
}
_CLINICIAN = _FRONT_DESK | {
    # Staff follow-ups (missed sessions, a patient asking for help) are clinical work.
    "reminders.view_followupitem",
    "reminders.change_followupitem",
    # The clinical decisions of the care journey (admin workflows and API actions check these).
    "programs.add_placement",
    "programs.add_stayextension",
    "programs.add_transition",
    "programs.add_discharge",
    "programs.add_reversal",
    # Running a group: taking attendance, cancelling or moving one occurrence.
    "scheduling.add_attendancerecord",
    "scheduling.change_session",
    "patients.view_disclosureconsent",
    # Recording a signed Part 2 consent and revoking it (issue 16: the FHIR API discloses under it).
    "patients.add_disclosureconsent",
    "patients.change_disclosureconsent",
    "programs.view_stayextension",
    "programs.view_transition",
    "programs.view_discharge",
    "programs.view_reversal",
    "programs.view_aftercareplan",
    "programs.view_aftercarecheckin",
    # Recording a contact that completes an aftercare check-in (the aftercare worklist, issue 12).
    "programs.change_aftercarecheckin",
}
_PROGRAM_ADMIN = _CLINICIAN | {
    "programs.change_site",
    "programs.add_program",
    "programs.change_program",
    "programs.add_bed",
    "programs.change_bed",
    "scheduling.add_sessionseries",
    "scheduling.change_sessionseries",
    "scheduling.add_closure",
    "scheduling.change_calendarfeed",
    "reminders.view_smsoptout",
    "reminders.view_sitemessagingprofile",
    "reminders.add_sitemessagingprofile",
    "reminders.change_sitemessagingprofile",
    "clinic.view_sitemembership",
    "clinic.view_auditevent",
    "clinic.export_auditevent",
}

# "app_label.codename" per role. Later apps extend these sets (scheduling adds
# its view/change permissions); ``sync_role_permissions`` applies them after migrate.
ROLE_PERMISSIONS: dict[Role, set[str]] = {
    Role.FRONT_DESK: set(_FRONT_DESK),
    Role.CLINICIAN: set(_CLINICIAN),
    Role.PROGRAM_ADMIN: set(_PROGRAM_ADMIN),
    # The utilization app adds its own permissions (utilization/roles.py).
    Role.UR_COORDINATOR: set(),
}


def grant(role: Role, *permissions: str) -> None:
    """Add permissions to a role (call from an AppConfig.ready; applied at the next migrate)."""
    ROLE_PERMISSIONS[role].update(permissions)


def sync_role_permissions() -> list[str]:
    """Make each role's group hold exactly its permissions; return the names not (yet) in the database.

    Runs after every migrate (post_migrate), so a permission added to
    ``ROLE_PERMISSIONS`` or removed from it takes effect with the next deploy.
    """
    missing: list[str] = []
    for role, group_name in ROLE_GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = ROLE_PERMISSIONS[role]
        conditions = [Q(content_type__app_label=name.split(".")[0], codename=name.split(".")[1]) for name in wanted]
        found = list(Permission.objects.filter(reduce(or_, conditions))) if conditions else []
        found_names = {f"{p.content_type.app_label}.{p.codename}" for p in found}
        missing.extend(sorted(wanted - found_names))
        group.permissions.set(found)
    return missing


# --- Role lookup -------------------------------------------------------------------


# Where an authentication that loads the user may leave the names of the user's groups (a list), so the
# role costs no query of its own (``clinic.api.auth.CallerJWTAuthentication`` does, for every API call).
GROUP_NAMES_ATTR = "clinic_group_names"


def role_of(user) -> Role | None:
    """The user's role, or None (anonymous, or a login with no role yet). Cached on the user object.

    The user object lives for one request, so the role is resolved once per request: the permission
    checks, the scoping and the audit record all read the cache.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_api_client", False):
        return None  # another organisation's FHIR client: no role, only what patients' consents allow
    cached = getattr(user, "_clinic_role", False)
    if cached is not False:
        return cached
    role: Role | None
    if user.is_superuser:
        role = Role.SUPERUSER
    else:
        loaded = getattr(user, GROUP_NAMES_ATTR, None)
        names = set(loaded) if loaded is not None else set(user.groups.values_list("name", flat=True))
        role = next((r for r, group in ROLE_GROUPS.items() if group in names), None)
        if role is None and _patient_id_of(user) is not None:
            role = Role.PATIENT
    user._clinic_role = role
    return role


def _patient_id_of(user) -> int | None:
    from patients.models import Patient

    cached = getattr(user, "_clinic_patient_id", False)
    if cached is False and user._meta.model.patient.is_cached(user):  # _meta: through a lazy request.user too
        # Loaded with the user (CallerJWTAuthentication): None when the login has no patient record.
        patient = getattr(user, "patient", None)
        cached = user._clinic_patient_id = patient.pk if patient is not None else None
    if cached is False:
        cached = Patient.objects.filter(user=user).values_list("pk", flat=True).first()
        user._clinic_patient_id = cached
    return cached


def can_view_clinical(user) -> bool:
    """Clinical details (discharge reasons and notes, transition reasons, check-in answers, Part 2 consents).

    Front desk works with demographics and schedules only. A patient reads their
    own care through the patient app's plain-language views, not through this rule.
    """
    return role_of(user) in CLINICAL_ROLES


def is_staff_member(user) -> bool:
    return role_of(user) in STAFF_ROLES or role_of(user) == Role.SUPERUSER


# --- Sites, programs, patients ------------------------------------------------------


def visible_sites(user) -> QuerySet:
    from programs.models import Site

    role = role_of(user)
    if role == Role.SUPERUSER:
        return Site.objects.all()
    if role in STAFF_ROLES:
        return Site.objects.filter(pk__in=_member_site_ids(user))
    if role == Role.PATIENT:
        patient = visible_patients(user)
        return Site.objects.filter(
            Q(registered_patients__in=patient)
            | Q(programs__placements__patient__in=patient, programs__placements__cancelled_at__isnull=True)
        ).distinct()
    return Site.objects.none()


def visible_programs(user) -> QuerySet:
    from programs.models import Program

    return Program.objects.filter(site__in=visible_sites(user))


def visible_patients(user) -> QuerySet:
    from patients.models import Patient

    role = role_of(user)
    if role == Role.SUPERUSER:
        return Patient.objects.all()
    if role == Role.PATIENT:
        return Patient.objects.filter(pk=_patient_id_of(user))
    if role in STAFF_ROLES:
        return Patient.objects.filter(pk__in=visible_patient_ids(user))
    return Patient.objects.none()


def visible_patient_ids(user) -> QuerySet:
    """The ids of the patients ``user`` may see, as a subquery (``visible_patients`` without reading the rows).

    For staff: a UNION of two indexed lookups (registered at their sites; placed in their sites'
    programs). The OR of the two conditions it replaces could use no index, so every list, count and
    detail read all of patients_patient (issue 17; a correlated EXISTS before that ran once per row).
    """
    from patients.models import Patient
    from programs.models import Placement

    role = role_of(user)
    if role == Role.SUPERUSER:
        return Patient.objects.order_by().values("pk")
    if role == Role.PATIENT:
        return Patient.objects.filter(pk=_patient_id_of(user)).order_by().values("pk")
    if role in STAFF_ROLES:
        sites = _member_site_ids(user)
        registered_here = Patient.objects.filter(registered_site__in=sites).order_by().values("pk")
        placed_here = (
            Placement.objects.filter(program__site__in=sites, cancelled_at__isnull=True).order_by().values("patient_id")
        )
        return registered_here.union(placed_here)
    return Patient.objects.filter(pk__isnull=True).values("pk")  # no role: nobody (none() cannot be a subquery)


class _InArray(Lookup):
    """``lhs = ANY(rhs)``: the column is one of the array's values."""

    lookup_name = "in_array"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def _member_site_ids(user) -> QuerySet:
    from clinic.models import SiteMembership

    return SiteMembership.objects.filter(user=user).values("site")


# --- Scoping any model -----------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """How rows of a model reach a patient or a site. Paths are ORM lookups; "" is the row itself."""

    patient: tuple[str, ...] = ()
    site: str | None = None

    def __post_init__(self) -> None:
        if bool(self.patient) == (self.site is not None):
            raise ImproperlyConfigured("A scope names patient paths or a site path, not both.")


SCOPES: dict[str, Scope] = {
    "patients.patient": Scope(patient=("",)),
    "patients.messagingconsentevent": Scope(patient=("patient",)),
    "patients.disclosureconsent": Scope(patient=("patient",)),
    "programs.site": Scope(site=""),
    "programs.program": Scope(site="site"),
    "programs.bed": Scope(site="program__site"),
    "programs.treatmentepisode": Scope(patient=("patient",)),
    "programs.placement": Scope(patient=("patient",)),
    "programs.stayextension": Scope(patient=("stay__patient",)),
    "programs.transition": Scope(patient=("episode__patient",)),
    "programs.discharge": Scope(patient=("episode__patient",)),
    "programs.reversal": Scope(patient=("transition__episode__patient", "discharge__episode__patient")),
    "programs.aftercareplan": Scope(patient=("patient",)),
    "programs.aftercarecheckin": Scope(patient=("plan__patient",)),
    "clinic.sitemembership": Scope(site="site"),
    "scheduling.sessionseries": Scope(site="program__site"),
    "scheduling.session": Scope(site="series__program__site"),
    "scheduling.closure": Scope(site="site"),
    "scheduling.booking": Scope(patient=("patient",)),
    "scheduling.attendancerecord": Scope(patient=("booking__patient",)),
    "scheduling.calendarfeed": Scope(patient=("patient",)),
    "reminders.reminder": Scope(patient=("patient",)),
    "reminders.pushdevice": Scope(patient=("patient",)),
    "reminders.followupitem": Scope(patient=("patient",)),
    "reminders.sitemessagingprofile": Scope(site="site"),
}


def register_scope(label: str, *, patient: Iterable[str] = (), site: str | None = None) -> None:
    """Declare how a later app's model is scoped ("scheduling.booking", patient=["patient"])."""
    SCOPES[label] = Scope(patient=tuple(patient), site=site)


def scope_of(model: type[models.Model]) -> Scope:
    concrete = model._meta.concrete_model._meta
    scope = SCOPES.get(f"{model._meta.app_label}.{model._meta.model_name}") or SCOPES.get(
        f"{concrete.app_label}.{concrete.model_name}"
    )
    if scope is None:
        raise ImproperlyConfigured(
            f"{model._meta.label} has no access scope: declare it in clinic.access.SCOPES or with register_scope()."
        )
    return scope


def _lookup(path: str, leaf: str) -> str:
    return f"{path}__{leaf}" if path else leaf


def scope_queryset(queryset: QuerySet, *, user) -> QuerySet:
    """The rows of ``queryset`` that ``user`` may see (none for an anonymous caller)."""
    role = role_of(user)
    if role == Role.SUPERUSER:
        return queryset
    scope = scope_of(queryset.model)
    if role is None:
        return queryset.none()
    if scope.site is not None:
        return queryset.filter(**{_lookup(scope.site, "pk__in"): visible_sites(user).values("pk")})
    # ``= ANY(ARRAY(subquery))`` rather than ``IN (subquery)``: the ids are computed once, first, and the
    # rows are then fetched through the index on the id (a bitmap of the primary key or the patient
    # foreign key). With IN, the planner guessed a third of all patients and read the whole table.
    patients = ArraySubquery(visible_patient_ids(user))
    condition = reduce(or_, (Q(_InArray(F(_lookup(path, "pk")), patients)) for path in scope.patient))
    return queryset.filter(condition)


def patient_ids_of(model: type[models.Model], pks: Iterable[int]) -> list[int]:
    """The distinct patient ids that rows ``pks`` of ``model`` are about.

    At most one query per patient path (none for patients themselves), whatever
    the number of rows: an admin page or API page of 100 rows costs the same.
    """
    scope = scope_of(model)
    pks = list(pks)
    if not pks or not scope.patient:
        return []
    if scope.patient == ("",):
        return sorted(set(pks))
    ids: set[int] = set()
    rows = model._default_manager.filter(pk__in=pks).order_by()
    for path in scope.patient:
        ids.update(v for v in rows.values_list(_lookup(path, "pk"), flat=True).distinct() if v is not None)
    return sorted(ids)


def can_see_patient(user, patient) -> bool:
    return visible_patients(user).filter(pk=getattr(patient, "pk", patient)).exists()
