"""(6) Utilization review: days used against days approved for every open episode (one query), and the
billable-units export for 30 days of the whole dataset, each beside a hand-written raw SQL equivalent.

The bench dataset has no payers, so this step gives it some first, in SQL: two payers (commercial,
self-pay), a primary coverage for every patient (one in ten self-pay), billing codes for every program,
and for every placement of a covered patient an approved authorization from its start for 14 days
(IOP: 20 days), so some days are covered and some are not. Then each side runs ``ROUNDS`` times,
alternately; the best time of each is compared and the rows are checked to be the same.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection

ROUNDS = 3

SEED_SQL = """
TRUNCATE utilization_payer, utilization_programbilling RESTART IDENTITY CASCADE;
INSERT INTO utilization_payer (public_id, created_at, updated_at, name, kind, requires_authorization) VALUES
    (gen_random_uuid(), now(), now(), 'Bench Commercial', 'commercial', TRUE),
    (gen_random_uuid(), now(), now(), 'Bench Self-pay', 'self_pay', FALSE);
INSERT INTO utilization_programbilling (public_id, created_at, updated_at, program_id, revenue_code, hcpcs_code,
                                        iop_billable_minutes)
SELECT gen_random_uuid(), now(), now(), id,
       CASE WHEN asam_level IN ('3.1', '3.5', '3.7') THEN '1002' ELSE '0905' END,
       CASE WHEN asam_level IN ('3.1', '3.5', '3.7') THEN 'H0019' ELSE 'S9480' END, 120
FROM programs_program;
INSERT INTO utilization_coverage (public_id, created_at, updated_at, patient_id, payer_id, rank, member_id,
                                  group_number, subscriber_relation, effective_on)
SELECT gen_random_uuid(), now(), now(), p.id,
       (SELECT id FROM utilization_payer WHERE kind = CASE WHEN p.id % 10 = 0 THEN 'self_pay' ELSE 'commercial' END),
       1, 'M' || p.id, '', 'self', DATE '2000-01-01'
FROM patients_patient p;
INSERT INTO utilization_authorization (public_id, created_at, updated_at, episode_id, patient_id, coverage_id,
    asam_level, unit_kind, status, requested_units, requested_start_on, requested_end_on, requested_on,
    requested_by_id, number, approved_units, start_on, end_on, decided_on, units_added, next_review_on, notes)
SELECT gen_random_uuid(), now(), now(), pl.episode_id, pl.patient_id, c.id, pr.asam_level, 'days', 'approved',
       n.days, pl.start_on, pl.start_on + n.days - 1, pl.start_on, (SELECT MIN(id) FROM auth_user),
       'B-' || pl.id, n.days, pl.start_on, pl.start_on + n.days - 1, pl.start_on, 0, pl.start_on + 7, ''
FROM programs_placement pl
JOIN programs_program pr ON pr.id = pl.program_id
JOIN utilization_coverage c ON c.patient_id = pl.patient_id
JOIN utilization_payer py ON py.id = c.payer_id AND py.requires_authorization
CROSS JOIN LATERAL (SELECT CASE WHEN pr.asam_level IN ('3.1', '3.5', '3.7') THEN 14 ELSE 20 END AS days) n
WHERE pl.cancelled_at IS NULL
ON CONFLICT DO NOTHING;
"""

RAW_DAYS_USED_SQL = """
SELECT a.id, a.episode_id, a.asam_level, a.unit_kind, a.approved_units + a.units_added,
       CASE
         WHEN a.asam_level IN ('3.1', '3.5', '3.7') THEN COALESCE((
           SELECT SUM(GREATEST(0, LEAST(COALESCE(p.ended_on, %(next)s), %(next)s,
                                        COALESCE(a.extended_to, a.end_on) + 1) - GREATEST(p.start_on, a.start_on)))
           FROM programs_placement p JOIN programs_program pr ON pr.id = p.program_id
           WHERE p.episode_id = a.episode_id AND p.cancelled_at IS NULL AND pr.asam_level = a.asam_level), 0)
         ELSE COALESCE((
           SELECT CASE WHEN a.unit_kind = 'sessions' THEN COUNT(*) ELSE COUNT(DISTINCT s.local_date) END
           FROM scheduling_booking b
           JOIN scheduling_session s ON s.id = b.session_id
           JOIN programs_placement p ON p.id = b.placement_id
           JOIN programs_program pr ON pr.id = p.program_id
           WHERE p.episode_id = a.episode_id AND pr.asam_level = a.asam_level AND b.cancelled_at IS NULL
             AND b.attendance IN ('present', 'late', 'left_early')
             AND s.local_date BETWEEN a.start_on AND LEAST(%(on)s, COALESCE(a.extended_to, a.end_on))), 0)
       END,
       COALESCE(a.extended_to, a.end_on)
FROM utilization_authorization a
JOIN programs_treatmentepisode e ON e.id = a.episode_id
WHERE a.status IN ('approved', 'partial') AND e.status IN ('planned', 'waitlist', 'active', 'onhold')
"""

# The same export written plainly: the window's days joined to the residential placements, the IOP days
# grouped, the primary coverage and the covering authorization as correlated subqueries.
RAW_BILLABLE_SQL = """
WITH units AS (
    SELECT p.patient_id, p.episode_id, p.program_id, d.day::date, NULL::integer AS minutes
    FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d(day)
    JOIN programs_placement p ON p.kind = 'residential' AND p.cancelled_at IS NULL
         AND p.start_on <= d.day AND (p.ended_on IS NULL OR p.ended_on > d.day)
    UNION ALL
    SELECT p.patient_id, p.episode_id, p.program_id, s.local_date, SUM(b.minutes_attended)::integer
    FROM scheduling_booking b
    JOIN scheduling_session s ON s.id = b.session_id
    JOIN programs_placement p ON p.id = b.placement_id AND p.kind = 'iop' AND p.cancelled_at IS NULL
    WHERE b.cancelled_at IS NULL AND b.attendance IN ('present', 'late', 'left_early')
      AND s.local_date BETWEEN %(start)s::date AND %(end)s::date
    GROUP BY p.patient_id, p.episode_id, p.program_id, s.local_date
    HAVING SUM(b.minutes_attended) >= COALESCE(
        (SELECT iop_billable_minutes FROM utilization_programbilling WHERE program_id = p.program_id), 180)
), priced AS (
    SELECT u.*, (SELECT c.id FROM utilization_coverage c WHERE c.patient_id = u.patient_id
                 AND u.day >= c.effective_on AND (c.ends_on IS NULL OR u.day <= c.ends_on)
                 ORDER BY c.rank LIMIT 1) AS coverage_id
    FROM units u
)
SELECT pt.public_id::text, u.day, bl.hcpcs_code, u.minutes,
       COALESCE((SELECT a.number FROM utilization_authorization a
                 WHERE a.episode_id = u.episode_id AND a.asam_level = pr.asam_level
                   AND a.status IN ('approved', 'partial')
                   AND u.day BETWEEN a.start_on AND COALESCE(a.extended_to, a.end_on)
                 ORDER BY (a.coverage_id = u.coverage_id) DESC, a.start_on LIMIT 1), 'not covered')
FROM priced u
JOIN utilization_coverage c ON c.id = u.coverage_id
JOIN patients_patient pt ON pt.id = u.patient_id
JOIN programs_program pr ON pr.id = u.program_id
LEFT JOIN utilization_programbilling bl ON bl.program_id = u.program_id
"""


def _best(fn, rounds: int = ROUNDS) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _raw(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def measure(*, today: dt.date) -> dict:
    from utilization import selectors

    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL)
    on, next_day = today, today + dt.timedelta(days=1)
    start = today - dt.timedelta(days=29)

    def service_days():
        return sorted(
            (r["pk"], r["units_used"], r["units_approved"]) for r in selectors.days_used_for_open_episodes(on=on)
        )

    def raw_days():
        return sorted((r[0], r[5], r[4]) for r in _raw(RAW_DAYS_USED_SQL, {"on": on, "next": next_day}))

    def service_export():
        return sorted(
            (u.patient_id, u.day, u.hcpcs_code, u.attended_minutes, u.authorization)
            for u in selectors.billable_units(start=start, end=today)
        )

    def raw_export():
        return sorted(_raw(RAW_BILLABLE_SQL, {"start": start, "end": today}))

    figures: dict = {}
    for key, service, raw in (("days_used", service_days, raw_days), ("export", service_export, raw_export)):
        service_seconds, service_rows = _best(service)
        raw_seconds, raw_rows = _best(raw)
        figures[key] = {
            "rows": len(service_rows),
            "service_seconds": round(service_seconds, 4),
            "raw_seconds": round(raw_seconds, 4),
            "ratio": round(service_seconds / raw_seconds, 2) if raw_seconds else None,
            "same_rows": service_rows == raw_rows,
        }
    figures["not_covered_rows"] = sum(1 for row in service_export() if row[-1] == "not covered")
    return figures
