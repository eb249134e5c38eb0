"""A provider-scale dataset, written in bulk (COPY and INSERT ... SELECT) but within every database rule.

Nothing is switched off: the exclusion constraints (one bed one patient, one level
of care per patient, no overlapping bookings), the stay-length trigger, the seat
counter trigger and the append-only triggers all check every row written here.
Histories are laid out so they hold: each bed has a timeline of back-to-back
stays, each patient's placements follow one another, and sessions of the last
weeks are generated and booked by ``scheduling.services.generate_sessions``
itself (the set-based real path).

The shape, per site: one residential program (12 beds) and two IOP programs.
Over the last year every bed sees a stay after another; most residents step down
to IOP the day their stay ends, the rest are discharged; other patients enrol in
IOP directly. Finished episodes have a discharge, an aftercare plan and its
check-ins. Some patients also have an older finished episode. Past bookings have
attendance and its append-only record.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from tqdm import tqdm

from bench.config import Scale
from clinic import clock

ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix"]
BEDS_PER_SITE = 12
IOP_CAPACITY = 40
STAFF_PER_SITE = 4
PATIENT_LOGINS = 200
# (name, kind, rule, start, minutes): the three tracks every IOP program runs, 9 hours a week together.
TRACKS = [
    ("Process group", "group_therapy", "FREQ=WEEKLY;BYDAY=MO,WE,TH", dt.time(18), 150),
    ("Psychoeducation", "psychoeducation", "FREQ=WEEKLY;BYDAY=TU", dt.time(18), 90),
    ("Family session", "family_session", "FREQ=WEEKLY;BYDAY=SA", dt.time(10), 90),
]
ONE_OFF_DAYS = ["MO", "TU", "WE", "TH", "FR"]
ONE_OFF_HOURS = [9, 10, 11, 13, 14, 15, 16]


@dataclass
class SeedResult:
    scale: Scale
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)


def _copy(table: str, columns: Sequence[str], rows: Iterable[Sequence], *, stamped: bool = True) -> int:
    """COPY rows in; ``stamped`` adds the public UUID and timestamps every TimeStampedModel has."""
    now = clock.now()
    cols = (["public_id", "created_at", "updated_at"] if stamped else []) + list(columns)
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(((uuid.uuid4(), now, now) if stamped else ()) + tuple(row))
            count += 1
    return count


def _sql(statement: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _reset_sequences(tables: Iterable[str]) -> None:
    for table in tables:
        _sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT max(id) FROM {table}), 0) + 1,"
            " false)"
        )


def wipe() -> None:
    """Empty the bench database's data (roles and permissions, made by migrations, stay)."""
    # CASCADE follows every foreign key, including tables later apps add (reminders). History
    # refuses TRUNCATE unless its owner asks for it (clinic.db.REFUSE_TRUNCATE_FUNCTION); the
    # bench connects as the owner of its own database and asks, for this transaction only.
    with transaction.atomic():
        _sql("SET LOCAL clinic.allow_truncate = 'on'")
        _sql(
            "TRUNCATE auth_user, patients_patient, programs_site, clinic_auditevent, "
            "django_session RESTART IDENTITY CASCADE"
        )


@dataclass
class _Person:
    id: int
    site: int
    placements: list[tuple] = field(default_factory=list)


def seed(scale: Scale, *, today: dt.date | None = None, seed_value: int = 8, progress: bool = True) -> SeedResult:
    """Wipe the bench database and lay the dataset for ``scale`` down. Returns row counts and timings."""
    rng = random.Random(seed_value)
    today = today or clock.today()
    result = SeedResult(scale=scale, seconds=0.0)
    started = time.perf_counter()
    bar = tqdm(total=9, desc=f"seed x{scale.factor:g}", unit="step", disable=not progress, leave=True)

    def step(name: str):
        now = time.perf_counter()
        result.steps[name] = round(now - step.last, 3)
        step.last = now
        bar.set_postfix_str(name)
        bar.update(1)

    step.last = started

    with transaction.atomic():
        wipe()
    step("wipe")

    n_sites = scale.sites
    with transaction.atomic():
        # Sites, programs, beds.
        _copy(
            "programs_site",
            ["id", "name", "code", "time_zone", "address", "phone"],
            [
                (
                    s,
                    f"Site {s:02d}",
                    f"site-{s:02d}",
                    ZONES[s % len(ZONES)],
                    f"{s} Main Street",
                    "+15550100" + f"{s:03d}",
                )
                for s in range(1, n_sites + 1)
            ],
        )
        programs = []  # (id, site, name, level, capacity, tz)
        for s in range(1, n_sites + 1):
            tz = ZONES[s % len(ZONES)]
            base = (s - 1) * 3
            programs += [
                (base + 1, s, "Residential", "3.5", BEDS_PER_SITE, tz),
                (base + 2, s, "Day IOP", "2.1", IOP_CAPACITY, tz),
                (base + 3, s, "Evening IOP", "2.1", IOP_CAPACITY, tz),
            ]
        result.rows["programs"] = _copy(
            "programs_program",
            ["id", "site_id", "name", "asam_level", "capacity", "time_zone", "is_active", "residential_min_days",
             "residential_max_days", "iop_min_weekly_hours_adult", "iop_min_weekly_hours_adolescent",
             "iop_max_weekly_hours", "aftercare_checkin_offsets", "session_reminder_hours"],
            [(p, s, name, level, cap, tz, True, 30, 90, 9, 6, 19, [7, 30, 90], [24, 2])
             for p, s, name, level, cap, tz in programs],
        )  # fmt: skip
        beds = {s: [(s - 1) * BEDS_PER_SITE + b for b in range(1, BEDS_PER_SITE + 1)] for s in range(1, n_sites + 1)}
        result.rows["beds"] = _copy(
            "programs_bed",
            ["id", "program_id", "label", "status"],
            [(bid, (s - 1) * 3 + 1, f"{100 + i // 2}-{'AB'[i % 2]}", "available") for s in beds for i, bid in
             enumerate(beds[s])],
        )  # fmt: skip

        # Staff (facilitators, a clinician per site for the staff endpoints) and patient logins.
        unusable = make_password(None)
        now = clock.now()
        staff = {s: [(s - 1) * STAFF_PER_SITE + k for k in range(1, STAFF_PER_SITE + 1)] for s in range(1, n_sites + 1)}
        n_staff = n_sites * STAFF_PER_SITE
        n_logins = min(PATIENT_LOGINS, scale.patients)
        users = [(u, unusable, False, f"bench.staff.{u:04d}", "Staff", f"{u:04d}", "", True, True, now)
                 for u in range(1, n_staff + 1)]  # fmt: skip
        users += [(n_staff + k, unusable, False, f"bench.patient.{k:05d}", "Patient", f"{k:05d}", "", False, True, now)
                  for k in range(1, n_logins + 1)]  # fmt: skip
        result.rows["users"] = _copy(
            "auth_user",
            ["id", "password", "is_superuser", "username", "first_name", "last_name", "email", "is_staff",
             "is_active", "date_joined"],
            users,
            stamped=False,
        )  # fmt: skip
        _copy(
            "clinic_sitemembership",
            ["user_id", "site_id", "created_at"],
            [(u, s, now) for s in staff for u in staff[s]],
            stamped=False,
        )
        _sql(
            "INSERT INTO auth_user_groups (user_id, group_id) SELECT u.id, g.id FROM auth_user u, auth_group g "
            "WHERE u.is_staff AND g.name = 'Clinician'"
        )
        _reset_sequences(["programs_site", "programs_program", "programs_bed", "auth_user"])
    step("sites, programs, beds, staff")

    # Patients: one set-based INSERT; the first ones have app logins (users after the staff).
    n = scale.patients
    with transaction.atomic():
        result.rows["patients"] = _sql(
            """
            INSERT INTO patients_patient (id, public_id, created_at, updated_at, mrn, legal_first_name, legal_last_name,
                preferred_name, date_of_birth, phone, email, time_zone, user_id, registered_site_id, sms_allowed,
                email_allowed, push_allowed, messaging_consent_given_at, messaging_consent_revoked_at,
                quiet_hours_start, quiet_hours_end, confidential_communication, confidential_instructions,
                preferred_language)
            SELECT g, gen_random_uuid(), now(), now(), 'BENCH-' || lpad(g::text, 6, '0'),
                   (ARRAY['Alex','Jordan','Taylor','Morgan','Casey','Riley','Maria','Wei','Aisha','Diego'])
                       [1 + g %% 10],
                   (ARRAY['Rivera','Chen','Okafor','Nguyen','Patel','Garcia','Smith','Haddad','Kim','Silva'])
                       [1 + g / 10 %% 10],
                   '', DATE '1960-01-01' + (g * 37 %% 16000), '+1555' || lpad(g::text, 7, '0'),
                   'patient' || g || '@example.org', (%(zones)s::text[])[1 + (1 + (g - 1) %% %(sites)s) %% %(nzones)s],
                   CASE WHEN g <= %(logins)s THEN %(staff)s + g END, 1 + (g - 1) %% %(sites)s,
                   g %% 13 <> 0, true, true,
                   CASE WHEN g %% 7 <> 0 THEN now() - interval '200 days' END, NULL,
                   TIME '21:00', TIME '08:00', g %% 50 = 0,
                   CASE WHEN g %% 50 = 0 THEN 'No texts: shared phone' ELSE '' END,
                   CASE WHEN g %% 4 = 0 THEN 'es' ELSE 'en' END
              FROM generate_series(1, %(n)s) AS g
            """,
            {"n": n, "sites": n_sites, "zones": ZONES, "nzones": len(ZONES), "logins": n_logins, "staff": n_staff},
        )  # fmt: skip
        _sql(
            """
            INSERT INTO patients_messagingconsentevent (patient_id, kind, means, at, recorded_by_id)
            SELECT id, 'given', 'written', messaging_consent_given_at, NULL
              FROM patients_patient WHERE messaging_consent_given_at IS NOT NULL
            """
        )
        _reset_sequences(["patients_patient"])
    step("patients")

    # Care histories, laid out in Python so every constraint holds, then COPYed.
    people = {pid: _Person(pid, 1 + (pid - 1) % n_sites) for pid in range(1, n + 1)}
    by_site: dict[int, list[int]] = {}
    for person in people.values():
        by_site.setdefault(person.site, []).append(person.id)
    for ids in by_site.values():
        # Patients with logins come last in every site's queue: beds take the others first,
        # so the logins are mostly current IOP patients (the patient app's users).
        rng.shuffle(ids)
        ids.sort(key=lambda pid: pid <= n_logins)
    year_ago = today - dt.timedelta(days=365)

    episodes, placements, transitions, discharges, plans, checkins = [], [], [], [], [], []
    ids = {"episode": 0, "placement": 0, "discharge": 0, "plan": 0}

    def next_id(kind: str) -> int:
        ids[kind] += 1
        return ids[kind]

    def close_episode(pid, site, episode_id, last_placement, last_program, ended_on, staff_id):
        discharge_id = next_id("discharge")
        discharges.append(
            (
                discharge_id,
                episode_id,
                last_placement,
                ended_on,
                rng.choice(["completed", "completed", "completed", "against_advice", "transferred"]),
                "",
                staff_id,
            )
        )
        plan_id = next_id("plan")
        plans.append((plan_id, discharge_id, pid, last_program, "active", ended_on, ""))
        for offset in (7, 30, 90):
            due = ended_on + dt.timedelta(days=offset)
            status = ("completed" if rng.random() < 0.8 else "missed") if due < today else "scheduled"
            # COPY applies no Django defaults: the answer columns are given explicitly (no answer yet).
            completed_at = clock.now() if status == "completed" else None
            checkins.append((plan_id, offset, due, status, completed_at, "", False, ""))

    for site, queue in by_site.items():
        queue = list(queue)
        residential = (site - 1) * 3 + 1
        iops = [(site - 1) * 3 + 2, (site - 1) * 3 + 3]
        staff_id = staff[site][0]
        current_residents: list[int] = []
        # Every bed: stays back to back over the last year, the last one still running today.
        for bed in beds[site]:
            start = year_ago + dt.timedelta(days=rng.randint(0, 20))
            while start <= today and queue:
                pid = queue.pop(0)
                length = rng.randint(30, 60)
                planned_end = start + dt.timedelta(days=length)
                episode_id = next_id("episode")
                stay_id = next_id("placement")
                if planned_end > today:  # current resident
                    episodes.append((episode_id, pid, "active", start, None))
                    placements.append((stay_id, "residential", episode_id, pid, residential, bed, start, planned_end,
                                       None, "", staff_id))  # fmt: skip
                    current_residents.append(pid)
                    break
                if rng.random() < 0.8:  # stepped down to IOP the day the stay ended
                    program = iops[pid % 2]
                    placements.append((stay_id, "residential", episode_id, pid, residential, bed, start, planned_end,
                                       planned_end, "stepped_down", staff_id))  # fmt: skip
                    iop_id = next_id("placement")
                    iop_end = planned_end + dt.timedelta(days=rng.randint(42, 84))
                    transitions.append(("step_down", episode_id, stay_id, iop_id, planned_end,
                                        "Stable; ready for outpatient care", staff_id))  # fmt: skip
                    if iop_end < today:
                        placements.append((iop_id, "iop", episode_id, pid, program, None, planned_end, None, iop_end,
                                           "discharged", staff_id))  # fmt: skip
                        episodes.append((episode_id, pid, "finished", start, iop_end))
                        close_episode(pid, site, episode_id, iop_id, program, iop_end, staff_id)
                    else:
                        placements.append((iop_id, "iop", episode_id, pid, program, None, planned_end, None, None, "",
                                           staff_id))  # fmt: skip
                        episodes.append((episode_id, pid, "active", start, None))
                else:
                    placements.append((stay_id, "residential", episode_id, pid, residential, bed, start, planned_end,
                                       planned_end, "discharged", staff_id))  # fmt: skip
                    episodes.append((episode_id, pid, "finished", start, planned_end))
                    close_episode(pid, site, episode_id, stay_id, residential, planned_end, staff_id)
                start = planned_end + dt.timedelta(days=rng.randint(0, 4))
        # Everyone else: IOP directly, starting any day of the last year.
        for pid in queue:
            program = iops[pid % 2]
            start = today - dt.timedelta(days=rng.randint(0, 364) if pid > n_logins else rng.randint(0, 30))
            end = start + dt.timedelta(days=rng.randint(42, 84))
            episode_id = next_id("episode")
            iop_id = next_id("placement")
            if end < today:
                placements.append((iop_id, "iop", episode_id, pid, program, None, start, None, end, "discharged",
                                   staff_id))  # fmt: skip
                episodes.append((episode_id, pid, "finished", start, end))
                close_episode(pid, site, episode_id, iop_id, program, end, staff_id)
            else:
                placements.append((iop_id, "iop", episode_id, pid, program, None, start, None, None, "", staff_id))
                episodes.append((episode_id, pid, "active", start, None))
    # An older, finished episode for one patient in eight: the history before this year.
    for pid in range(8, n + 1, 8):
        site = people[pid].site
        program = (site - 1) * 3 + 2
        start = today - dt.timedelta(days=rng.randint(600, 700))
        end = start + dt.timedelta(days=60)
        episode_id = next_id("episode")
        iop_id = next_id("placement")
        placements.append((iop_id, "iop", episode_id, pid, program, None, start, None, end, "discharged", None))
        episodes.append((episode_id, pid, "finished", start, end))
        close_episode(pid, site, episode_id, iop_id, program, end, staff[site][0])
    step("histories planned")

    with transaction.atomic():
        result.rows["episodes"] = _copy(
            "programs_treatmentepisode", ["id", "patient_id", "status", "started_on", "ended_on"], episodes
        )
        result.rows["placements"] = _copy(
            "programs_placement",
            ["id", "kind", "episode_id", "patient_id", "program_id", "bed_id", "start_on", "planned_end_on",
             "ended_on", "end_reason", "created_by_id"],
            placements,
        )  # fmt: skip
        result.rows["transitions"] = _copy(
            "programs_transition",
            ["kind", "episode_id", "from_placement_id", "to_placement_id", "effective_on", "reason", "decided_by_id"],
            transitions,
        )
        result.rows["discharges"] = _copy(
            "programs_discharge",
            ["id", "episode_id", "ended_placement_id", "effective_on", "disposition", "notes", "decided_by_id"],
            discharges,
        )
        result.rows["aftercare_plans"] = _copy(
            "programs_aftercareplan",
            ["id", "discharge_id", "patient_id", "program_id", "status", "starts_on", "notes"],
            plans,
        )  # fmt: skip
        result.rows["aftercare_checkins"] = _copy(
            "programs_aftercarecheckin",
            ["plan_id", "offset_days", "due_on", "status", "completed_at", "answer_text", "needs_help", "contact_note"],
            checkins,
        )
        _reset_sequences(["programs_treatmentepisode", "programs_placement", "programs_transition",
                          "programs_discharge", "programs_aftercareplan", "programs_aftercarecheckin"])  # fmt: skip
    step("histories written")

    # Session series: the three tracks of every IOP program, then one-off individual sessions.
    series_rows = []
    iop_programs = [p for p in programs if p[3] == "2.1"]
    starts_on = today - dt.timedelta(weeks=scale.weeks, days=7)
    for p, s, *_ in iop_programs:
        for name, kind, rule, start, minutes in TRACKS:
            series_rows.append((p, name, kind, rule, start, minutes, staff[s][1], "Group room", IOP_CAPACITY, True))
    k = 0
    while len(series_rows) < scale.series:
        p, s, *_ = iop_programs[k % len(iop_programs)]
        day = ONE_OFF_DAYS[(k // len(iop_programs)) % len(ONE_OFF_DAYS)]
        hour = ONE_OFF_HOURS[(k // (len(iop_programs) * len(ONE_OFF_DAYS))) % len(ONE_OFF_HOURS)]
        series_rows.append((p, "Individual counselling", "individual_counselling", f"FREQ=WEEKLY;BYDAY={day}",
                            dt.time(hour), 50, staff[s][2 + k % 2], f"Office {k % 9 + 1}", 1, False))  # fmt: skip
        k += 1
    with transaction.atomic():
        result.rows["series"] = _copy(
            "scheduling_sessionseries",
            ["program_id", "name", "kind", "rule", "start_time", "duration_minutes", "facilitator_id", "room",
             "capacity", "books_enrolled", "starts_on"],
            [(*row, starts_on) for row in series_rows],
        )  # fmt: skip
        # A holiday at every site, once in the past weeks and once in the weeks ahead.
        result.rows["closures"] = _copy(
            "scheduling_closure",
            ["site_id", "date", "reason"],
            [(s, today + dt.timedelta(days=d), "Holiday") for s in range(1, n_sites + 1) for d in (-30, 25)],
        )
    step("series")

    # The past weeks' sessions and track bookings: the real, set-based generator.
    from scheduling import services

    generated = services.generate_sessions(
        from_on=today - dt.timedelta(weeks=scale.weeks), until=today - dt.timedelta(days=1)
    )
    result.rows["past_sessions"] = generated.sessions_created
    result.rows["past_track_bookings"] = generated.bookings_created
    step("past sessions (services.generate_sessions)")

    with transaction.atomic():
        # One-off sessions: a patient of the program placed that day, chosen at random.
        result.rows["past_one_off_bookings"] = _sql(
            """
            INSERT INTO scheduling_booking (public_id, created_at, updated_at, session_id, patient_id, placement_id,
                source, starts_at, ends_at, cancel_reason, attendance, patient_response)
            SELECT DISTINCT ON (s.id) gen_random_uuid(), now(), now(), s.id, p.patient_id, p.id, 'one_off',
                   s.starts_at, s.ends_at, '', '', ''
              FROM scheduling_session s
              JOIN scheduling_sessionseries ss ON ss.id = s.series_id AND NOT ss.books_enrolled
              JOIN programs_placement p ON p.program_id = ss.program_id AND p.cancelled_at IS NULL
                   AND p.start_on <= s.local_date AND (p.ended_on IS NULL OR p.ended_on > s.local_date)
             WHERE s.status = 'scheduled' AND s.booked_count < s.capacity
             ORDER BY s.id, md5(s.id::text || p.id::text)
            ON CONFLICT DO NOTHING
            """
        )
        # Attendance for every past booking (a stable pseudo-random mix), then its append-only record.
        result.rows["attendance"] = _sql(
            """
            WITH pick AS (
                SELECT b.id, s.duration_minutes AS d,
                       ('x' || substr(md5(b.id::text), 1, 8))::bit(32)::bigint / 4294967296.0 AS r
                  FROM scheduling_booking b JOIN scheduling_session s ON s.id = b.session_id
                 WHERE s.starts_at < now() AND b.cancelled_at IS NULL
            ), marked AS (
                SELECT id, d, CASE WHEN r < 0.75 THEN 'present' WHEN r < 0.83 THEN 'late'
                                   WHEN r < 0.86 THEN 'left_early' WHEN r < 0.96 THEN 'absent'
                                   ELSE 'excused' END AS a
                  FROM pick
            )
            UPDATE scheduling_booking b
               SET attendance = m.a,
                   minutes_attended = CASE m.a WHEN 'present' THEN m.d WHEN 'late' THEN m.d - 20
                                               WHEN 'left_early' THEN m.d - 30 ELSE 0 END
              FROM marked m
             WHERE m.id = b.id
            """
        )
        _sql(
            """
            INSERT INTO scheduling_attendancerecord (public_id, created_at, updated_at, booking_id, attendance,
                minutes_attended, previous_attendance, previous_minutes_attended, reason, recorded_by_id)
            SELECT gen_random_uuid(), s.ends_at, s.ends_at, b.id, b.attendance, b.minutes_attended, '', NULL, '',
                   s.facilitator_id
              FROM scheduling_booking b JOIN scheduling_session s ON s.id = b.session_id
             WHERE b.attendance <> ''
            """
        )
    step("one-off bookings, attendance")
    bar.close()

    _sql("ANALYZE")
    result.seconds = round(time.perf_counter() - started, 2)
    with connection.cursor() as cursor:
        for table, key in [("scheduling_session", "sessions"), ("scheduling_booking", "bookings"),
                           ("scheduling_attendancerecord", "attendance_records")]:  # fmt: skip
            cursor.execute(f"SELECT count(*) FROM {table}")
            result.rows[key] = cursor.fetchone()[0]
    return result
