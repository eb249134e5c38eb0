"""The demo clinic: two sites, residential and IOP programs, patients in every phase of care.

Everything is written through the services, so the demo data obeys the same
rules as real data. Patients are keyed by MRN (DEMO-0001, ...), which makes the
seed idempotent: a second run finds them and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import OuterRef, Subquery

from clinic import clock
from clinic.access import ROLE_GROUPS, Role
from clinic.models import SiteMembership
from patients.models import Patient
from programs import selectors, services
from programs.models import AsamLevel, Bed, Disposition, Placement, Program, Site

DEMO_STAFF_USERNAME = "demo.admin"
DEMO_STAFF_PASSWORD = "demo-clinic-2026"  # demo only; printed by `make run`

# --- Security (issue 7): one demo login per role, same demo password -----------------------
# username: (role, first name, last name, site codes)
DEMO_ROLE_USERS = {
    "demo.programadmin": (Role.PROGRAM_ADMIN, "Priya", "Shah", ["riverside", "lakeview"]),
    "demo.clinician": (Role.CLINICIAN, "Marcus", "Reed", ["riverside"]),
    "demo.frontdesk": (Role.FRONT_DESK, "Lena", "Brooks", ["riverside"]),
    "demo.lakeview": (Role.CLINICIAN, "Omar", "Farouk", ["lakeview"]),
}
DEMO_PATIENT_USERNAME = "demo.patient"  # linked to DEMO-0001

# DEMO-0001 has quiet hours turned off (start equal to end) and texts and e-mail allowed, so
# `make run` prints their reminders at the first dispatch whatever the hour; everyone else
# keeps the default 21:00-08:00 in their own zone and is held back at night.
ANY_HOUR_MRN = "DEMO-0001"
ANY_HOUR_PREFERENCES = {
    "sms_allowed": True,
    "email_allowed": True,
    "confidential_communication": False,
    "quiet_hours_start": dt.time(0, 0),
    "quiet_hours_end": dt.time(0, 0),
}

FIRST_NAMES = [
    "Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew",
    "Maria", "James", "Aisha", "Wei", "Carlos", "Fatima", "Noah", "Olivia", "Liam", "Emma",
    "Diego", "Priya", "Marcus", "Hannah", "Tyrone", "Sofia", "Kevin", "Grace", "Andre", "Leah",
]  # fmt: skip
LAST_NAMES = [
    "Rivera", "Chen", "Johnson", "Okafor", "Nguyen", "Patel", "Garcia", "Smith", "Kowalski", "Haddad",
    "Brown", "Martinez", "Kim", "Williams", "O'Neil", "Silva", "Murphy", "Ali", "Jensen", "Lopez",
]  # fmt: skip

# The phase mix of a believable census; the demo cycles through it.
PHASES = [
    "residential", "residential", "residential", "stepped_down", "stepped_down", "discharged",
    "residential", "stepped_down", "iop_only", "discharged", "stepped_up", "residential",
    "stepped_down", "discharged", "residential", "iop_only", "discharged", "residential_extended",
    "reversed_step_down",
]  # fmt: skip


@dataclass
class DemoClinic:
    sites: list[Site]
    residential: list[Program]
    iop: list[Program]
    staff: object


def ensure_clinic(*, beds_per_program: int) -> DemoClinic:
    """Sites, programs, beds and the demo staff account (get-or-create, so safe to repeat)."""
    user_model = get_user_model()
    staff, created = user_model.objects.get_or_create(
        username=DEMO_STAFF_USERNAME,
        defaults={"first_name": "Dana", "last_name": "Ortiz", "email": "dana.ortiz@clinic.example",
                  "is_staff": True, "is_superuser": True},
    )  # fmt: skip
    if created:
        staff.set_password(DEMO_STAFF_PASSWORD)
        staff.save(update_fields=["password"])

    riverside, _ = Site.objects.get_or_create(
        code="riverside",
        defaults={"name": "Riverside Campus", "time_zone": "America/New_York",
                  "address": "120 Mill Road, Riverside", "phone": "+16175550100"},
    )  # fmt: skip
    lakeview, _ = Site.objects.get_or_create(
        code="lakeview",
        defaults={"name": "Lakeview Center", "time_zone": "America/Chicago",
                  "address": "45 Harbor Street, Lakeview", "phone": "+13125550188"},
    )  # fmt: skip

    def program(site: Site, name: str, level: str, capacity: int) -> Program:
        obj, _ = Program.objects.get_or_create(
            site=site, name=name, defaults={"asam_level": level, "capacity": capacity, "time_zone": site.time_zone}
        )
        return obj

    residential = [
        program(riverside, "Riverside Residential", AsamLevel.RESIDENTIAL_HIGH, beds_per_program),
        program(lakeview, "Lakeview Residential", AsamLevel.RESIDENTIAL_LOW, beds_per_program),
    ]
    iop = [
        program(riverside, "Riverside Day IOP", AsamLevel.IOP, 24),
        program(riverside, "Riverside Evening IOP", AsamLevel.IOP, 24),
        program(lakeview, "Lakeview Evening IOP", AsamLevel.IOP, 18),
    ]
    for prog in residential:
        existing = set(prog.beds.values_list("label", flat=True))
        wanted = [f"{100 + i // 2}-{'AB'[i % 2]}" for i in range(beds_per_program)]
        Bed.objects.bulk_create(Bed(program=prog, label=label) for label in wanted if label not in existing)
        if prog.capacity < beds_per_program:
            Program.objects.filter(pk=prog.pk).update(capacity=beds_per_program)
    # One bed under repair makes the census believable.
    Bed.objects.filter(program=residential[0], label="100-A").update(status=Bed.Status.OUT_OF_SERVICE)
    _ensure_role_users(sites={"riverside": riverside, "lakeview": lakeview})
    return DemoClinic(sites=[riverside, lakeview], residential=residential, iop=iop, staff=staff)


def _demo_user(username: str, *, first_name: str, last_name: str, is_staff: bool):
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={"first_name": first_name, "last_name": last_name, "is_staff": is_staff,
                  "email": f"{username}@clinic.example"},
    )  # fmt: skip
    if created:
        user.set_password(DEMO_STAFF_PASSWORD)
        user.save(update_fields=["password"])
    return user


def _ensure_role_users(*, sites: dict[str, Site]) -> None:
    for username, (role, first, last, codes) in DEMO_ROLE_USERS.items():
        user = _demo_user(username, first_name=first, last_name=last, is_staff=True)
        user.groups.add(Group.objects.get_or_create(name=ROLE_GROUPS[role])[0])
        for code in codes:
            SiteMembership.objects.get_or_create(user=user, site=sites[code])


def _ensure_patient_user() -> None:
    patient = Patient.objects.filter(mrn="DEMO-0001", user__isnull=True).first()
    if patient is not None:
        user = _demo_user(DEMO_PATIENT_USERNAME, first_name="Demo", last_name="Patient", is_staff=False)
        Patient.objects.filter(pk=patient.pk).update(user=user)


def _register_demo_patients_at_their_sites() -> None:
    """The site of a demo patient's first placement is where they registered (fills older demo data too)."""
    first_site = Placement.objects.filter(patient=OuterRef("pk")).order_by("start_on", "id").values("program__site")[:1]
    Patient.objects.filter(mrn__startswith="DEMO-", registered_site__isnull=True).update(
        registered_site=Subquery(first_site)
    )


def _free_bed(program: Program, on: dt.date) -> Bed:
    bed = selectors.free_beds(program=program, from_on=on).first()
    if bed is None:
        raise RuntimeError(f"No free bed in {program.name} from {on}; seed with fewer patients.")
    return bed


def _journey(phase: str, *, patient: Patient, clinic: DemoClinic, rng: random.Random, today: dt.date) -> None:
    staff = clinic.staff
    site_index = rng.randrange(2)
    res = clinic.residential[site_index]
    iop = clinic.iop[2] if site_index == 1 else clinic.iop[rng.randrange(2)]
    day = dt.timedelta(days=1)

    def admit(on: dt.date, planned_days: int = 30) -> Placement:
        return services.admit_to_residential(
            patient=patient, bed=_free_bed(res, on), admitted_on=on, admitted_by=staff,
            planned_discharge_on=on + planned_days * day,
        )  # fmt: skip

    def step_down(stay: Placement, on: dt.date) -> Placement:
        reason = rng.choice(
            ["Clinically stable; ready for IOP", "Met residential goals", "Cravings managed; stable housing"]
        )
        return services.step_down(stay=stay, to_program=iop, on=on, reason=reason, decided_by=staff).to_placement

    if phase in ("residential", "residential_extended"):
        admitted = today - rng.randint(1, 40) * day if phase == "residential" else today - rng.randint(75, 85) * day
        stay = admit(admitted, planned_days=rng.choice([30, 30, 35, 45]) if phase == "residential" else 88)
        if phase == "residential_extended":
            services.extend_stay(
                stay=stay, new_planned_discharge_on=stay.planned_end_on + 14 * day,
                reason="Medical necessity: co-occurring depression stabilising", approved_by=staff,
            )  # fmt: skip
    elif phase == "stepped_down":
        admitted = today - rng.randint(35, 70) * day
        step_down(admit(admitted), min(admitted + rng.randint(28, 34) * day, today))
    elif phase == "iop_only":
        services.enroll_in_iop(
            patient=patient, program=iop, start_on=today - rng.randint(3, 40) * day, enrolled_by=staff
        )
    elif phase == "stepped_up":
        admitted = today - rng.randint(85, 95) * day
        enrollment = step_down(admit(admitted), admitted + 30 * day)
        up_on = today - rng.randint(4, 15) * day
        services.step_up(
            enrollment=enrollment, bed=_free_bed(res, up_on), on=up_on,
            reason="Relapse during IOP; needs 24-hour structure", decided_by=staff,
        )  # fmt: skip
    elif phase == "reversed_step_down":
        # A step-down recorded on the wrong chart and corrected the same day.
        stay = admit(today - rng.randint(10, 20) * day)
        mistake = services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=staff)
        services.reverse_transition(transition=mistake, reason="Recorded on the wrong chart", reversed_by=staff)
    elif phase == "discharged":
        admitted = today - rng.randint(70, 130) * day
        stay = admit(admitted)
        last = stay
        if rng.random() < 0.75:
            last = step_down(stay, admitted + 30 * day)
        discharged_on = min(last.start_on + rng.randint(20, 45) * day, today - day)
        disposition = rng.choices(
            [Disposition.COMPLETED, Disposition.AGAINST_ADVICE, Disposition.TRANSFERRED], weights=[7, 2, 1]
        )[0]
        services.discharge(episode=stay.episode, on=discharged_on, disposition=disposition, decided_by=staff)
    else:  # pragma: no cover - the list above is the whole set
        raise ValueError(phase)


def seed(*, patients: int, seed_value: int = 2026, progress: Callable[[Iterable], Iterable] = iter) -> dict[str, int]:
    """Create the demo clinic and ``patients`` demo patients; return how many were created and skipped."""
    # Residential patients (now or in the past) need a bed each on overlapping dates.
    clinic = ensure_clinic(beds_per_program=max(20, -(-patients * 7 // 10) // 2 + 4))
    today = clock.today()
    # Schedules first, so the journeys below book their patients into sessions through the services.
    from scheduling import demo as schedule_demo

    schedule_demo.ensure_schedules(programs=[*clinic.residential, *clinic.iop], facilitator=clinic.staff, today=today)
    existing = set(Patient.objects.filter(mrn__startswith="DEMO-").values_list("mrn", flat=True))
    created = skipped = 0
    for index in progress(range(patients)):
        # Draw for every index, created or not, so a rerun produces the same people.
        person = random.Random(seed_value * 100_003 + index)
        mrn = f"DEMO-{index + 1:04d}"
        if mrn in existing:
            skipped += 1
            continue
        with transaction.atomic():
            age = person.choice([16, 17, 19, 23, 27, 31, 34, 38, 42, 47, 52, 58])
            fields = dict(
                legal_first_name=person.choice(FIRST_NAMES),
                legal_last_name=person.choice(LAST_NAMES),
                date_of_birth=today.replace(year=today.year - age) - dt.timedelta(days=person.randint(10, 300)),
                phone=f"+1617555{1000 + index % 9000:04d}",
                email=f"patient{index + 1}@example.org",
                time_zone=person.choice(["America/New_York", "America/Chicago"]),
                messaging_consent_given_at=clock.now() if person.random() < 0.9 else None,
                sms_allowed=person.random() < 0.85,
                confidential_communication=person.random() < 0.1,
            )
            if mrn == ANY_HOUR_MRN:  # after the draws, so everyone else stays the same person
                fields.update(ANY_HOUR_PREFERENCES, messaging_consent_given_at=clock.now())
            patient = Patient.objects.create(mrn=mrn, **fields)
            _journey(PHASES[index % len(PHASES)], patient=patient, clinic=clinic, rng=person, today=today)
        created += 1
    _register_demo_patients_at_their_sites()
    _ensure_patient_user()
    with transaction.atomic():
        schedule_demo.book_history(today=today)
        sessions_recorded = schedule_demo.record_history(recorded_by=clinic.staff)
        feed_token = schedule_demo.ensure_one_off_and_feed(iop_programs=clinic.iop)
    return {"created": created, "skipped": skipped, "sessions_recorded": sessions_recorded, "feed_token": feed_token}
