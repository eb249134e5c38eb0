"""(1) Session generation: ``scheduling.services.generate_sessions``, step by step, beside raw SQL doing each step.

The service's one call does three jobs in one transaction: it writes the next weeks'
sessions of every series (rules expanded in the program's zone, closures skipped), books
the placed patients into the track sessions (first come first seated, within capacity)
and plans the reminders of the new bookings that fall inside the planning horizon. The
raw side does the same three jobs with three hand-written statements, in one transaction
too, into the same tables with the same indexes, constraints and triggers: the GiST
no-overlap constraint, the seat counter and the foreign keys are checked on both sides.

Django creates foreign keys DEFERRABLE INITIALLY DEFERRED, so their checks would all
land in the COMMIT, mixing the three jobs. Both sides therefore run
``SET CONSTRAINTS ALL IMMEDIATE`` first: each statement pays for its own foreign-key
checks (the same checks, only earlier), and the COMMIT is timed on its own.

The raw statements run first; their rows are kept aside, the window is cleared and
vacuumed, and the service writes the window again; the two are compared row by row
(sessions, bookings and reminders by their natural keys). ``ROUNDS`` alternating rounds;
each step's best time on each side is compared (the machine is shared).
"""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.db import connection, transaction

from bench.planning import RAW_BOOKING_REMINDERS_SELECT
from clinic import clock

ROUNDS = 3

RAW_SESSIONS_SQL = """
INSERT INTO scheduling_session (public_id, created_at, updated_at, series_id, occurrence_start, starts_at, ends_at,
                                local_date, duration_minutes, status, cancelled_at, status_reason, facilitator_id,
                                room, capacity, booked_count)
SELECT gen_random_uuid(), now(), now(), ss.id, t.at, t.at, t.at + make_interval(mins => ss.duration_minutes),
       d::date, ss.duration_minutes, 'scheduled', NULL, '', ss.facilitator_id, ss.room, ss.capacity, 0
  FROM scheduling_sessionseries ss
  JOIN programs_program p ON p.id = ss.program_id
 CROSS JOIN generate_series(%(from_on)s::date, %(until)s::date, interval '1 day') AS d
 CROSS JOIN LATERAL (SELECT (d::date + ss.start_time) AT TIME ZONE p.time_zone AS at) AS t
 WHERE d::date >= ss.starts_on AND (ss.ends_on IS NULL OR d::date <= ss.ends_on)
   AND position(left(to_char(d, 'DY'), 2) IN split_part(ss.rule, 'BYDAY=', 2)) > 0
   AND NOT EXISTS (SELECT 1 FROM scheduling_closure c WHERE c.site_id = p.site_id AND c.date = d::date)
ON CONFLICT DO NOTHING
"""

# The placed patients of each track session's program, first placed first seated, within the free seats.
RAW_BOOKINGS_SQL = """
INSERT INTO scheduling_booking (public_id, created_at, updated_at, session_id, patient_id, placement_id, source,
                                starts_at, ends_at, cancel_reason, attendance, patient_response)
SELECT gen_random_uuid(), now(), now(), c.session_id, c.patient_id, c.placement_id, 'track', c.starts_at, c.ends_at,
       '', '', ''
  FROM (SELECT s.id AS session_id, p.patient_id, p.id AS placement_id, s.starts_at, s.ends_at,
               s.capacity - s.booked_count AS seats,
               row_number() OVER (PARTITION BY s.id ORDER BY p.start_on, p.id) AS queue
          FROM scheduling_session s
          JOIN scheduling_sessionseries ss ON ss.id = s.series_id AND ss.books_enrolled
          JOIN programs_placement p ON p.program_id = ss.program_id AND p.cancelled_at IS NULL
               AND p.start_on <= s.local_date AND (p.ended_on IS NULL OR p.ended_on > s.local_date)
         WHERE s.local_date BETWEEN %(from_on)s AND %(until)s AND s.status = 'scheduled') c
 WHERE c.queue <= c.seats
ON CONFLICT DO NOTHING
"""

# The new bookings' reminders inside the planning horizon, on every channel (as bench/planning.py's raw statement).
RAW_REMINDERS_SQL = RAW_BOOKING_REMINDERS_SELECT.format(where="WHERE s.local_date BETWEEN %(from_on)s AND %(until)s")

# What each side wrote in the window, by natural keys (ids, UUIDs and stamps differ between the two runs).
SNAPSHOTS = {
    "sessions": """
        SELECT series_id, occurrence_start, starts_at, ends_at, local_date, duration_minutes, status, facilitator_id,
               room, capacity, booked_count
          FROM scheduling_session WHERE local_date >= %(from_on)s""",
    "bookings": """
        SELECT s.series_id, s.occurrence_start, b.patient_id, b.placement_id, b.source, b.starts_at, b.ends_at,
               b.cancelled_at IS NULL
          FROM scheduling_booking b JOIN scheduling_session s ON s.id = b.session_id
         WHERE s.local_date >= %(from_on)s""",
    "reminders": """
        SELECT s.series_id, s.occurrence_start, r.patient_id, r.kind, r.channel, r.due_at, r.event_at, r.status
          FROM reminders_reminder r JOIN scheduling_booking b ON b.id = r.booking_id
          JOIN scheduling_session s ON s.id = b.session_id
         WHERE s.local_date >= %(from_on)s""",
}
STEPS = ("sessions", "bookings", "reminders", "commit")


def _clear_window(from_on: dt.date) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # The bookings' reminders first (the service plans them with the bookings; pending ones need a target).
        cursor.execute(
            "DELETE FROM reminders_reminder WHERE booking_id IN (SELECT b.id FROM scheduling_booking b "
            "JOIN scheduling_session s ON s.id = b.session_id WHERE s.local_date >= %s)",
            [from_on],
        )
        cursor.execute(
            "DELETE FROM scheduling_booking WHERE session_id IN "
            "(SELECT id FROM scheduling_session WHERE local_date >= %s)",
            [from_on],
        )
        cursor.execute("DELETE FROM scheduling_session WHERE local_date >= %s", [from_on])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE scheduling_session")
        cursor.execute("VACUUM ANALYZE scheduling_booking")
        cursor.execute("VACUUM ANALYZE reminders_reminder")


def _snapshot(from_on: dt.date) -> dict[str, list[tuple]]:
    with connection.cursor() as cursor:
        out = {}
        for name, sql in SNAPSHOTS.items():
            cursor.execute(sql, {"from_on": from_on})
            out[name] = sorted(cursor.fetchall(), key=repr)
        return out


def _raw(from_on: dt.date, until: dt.date) -> tuple[dict[str, float], dict[str, int]]:
    now = clock.now()
    params = {"from_on": from_on, "until": until, "now": now, "channels": list(settings.REMINDERS_CHANNELS),
              "horizon": now + dt.timedelta(hours=settings.REMINDERS_PLANNING_HORIZON_HOURS)}  # fmt: skip
    times, rows = {}, {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for step, sql in (("sessions", RAW_SESSIONS_SQL), ("bookings", RAW_BOOKINGS_SQL),
                              ("reminders", RAW_REMINDERS_SQL)):  # fmt: skip
                started = time.perf_counter()
                cursor.execute(sql, params)
                times[step] = time.perf_counter() - started
                rows[step] = cursor.rowcount
        started = time.perf_counter()
    times["commit"] = time.perf_counter() - started
    return times, rows


def _service(from_on: dt.date, until: dt.date) -> tuple[dict[str, float], dict[str, int]]:
    """The real call, its steps told apart by the statements it sends (a wrapper notes when each starts and ends)."""
    from scheduling import services

    marks: list[tuple[str, float, float]] = []

    def note(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            marks.append((sql.lstrip()[:40], started, time.perf_counter()))

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        started = time.perf_counter()
        with connection.execute_wrapper(note):
            result = services.generate_sessions(from_on=from_on, until=until)
        returned = time.perf_counter()
    committed = time.perf_counter()

    def first(prefix: str) -> tuple[float, float]:
        found = next(((a, b) for sql, a, b in marks if sql.startswith(prefix)), None)
        if found is None:  # the service's statements changed: tell the steps apart again here
            raise RuntimeError(f"generate_sessions sent no statement starting {prefix!r}; update bench/generation.py")
        return found

    booking_start = first("SELECT count(*) FROM (")[0]  # the lock of the track sessions
    booking_end = first("WITH sessions AS")[1]
    planning = [(a, b) for sql, a, b in marks if sql.startswith("WITH planned AS")]
    times = {
        # Loading the series and closures, expanding the other rules, and the INSERT of sessions.
        "sessions": booking_start - started,
        # Locking the track sessions, the INSERT of bookings and reading back the new rows.
        "bookings": (planning[0][0] if planning else booking_end) - booking_start,
        "reminders": sum(b - a for a, b in planning),
        "commit": committed - returned,
        "other": returned - (planning[-1][1] if planning else booking_end),  # the series' generated_until, savepoint
    }
    return times, {"sessions": result.sessions_created, "bookings": result.bookings_created, "series": result.series}


def measure(*, today: dt.date, weeks: int) -> dict:
    from_on, until = today, today + dt.timedelta(weeks=weeks, days=-1)
    raw_rounds, service_rounds = [], []
    same_rows = True
    for _ in range(ROUNDS):
        _clear_window(from_on)
        raw_times, raw_rows = _raw(from_on, until)
        raw_rounds.append(raw_times)
        expected = _snapshot(from_on)
        _clear_window(from_on)
        service_times, service_rows = _service(from_on, until)
        service_rounds.append(service_times)
        written = _snapshot(from_on)
        same_rows = same_rows and written == expected and bool(expected["sessions"] and expected["bookings"])
    counts = {name: len(rows) for name, rows in written.items()}

    def best(rounds: list[dict[str, float]], step: str) -> float:
        return min(r[step] for r in rounds)

    steps = {}
    for step in STEPS:
        service_s, raw_s = best(service_rounds, step), best(raw_rounds, step)
        steps[step] = {"service_seconds": round(service_s, 4), "raw_seconds": round(raw_s, 4),
                       "ratio": round(service_s / raw_s, 2) if raw_s else None}  # fmt: skip
    service_total = min(sum(r.values()) for r in service_rounds)
    raw_total = min(sum(r.values()) for r in raw_rounds)
    return {
        "window": [from_on.isoformat(), until.isoformat()],
        "series": service_rows["series"],
        "sessions": counts["sessions"],
        "bookings": counts["bookings"],
        "reminders": counts["reminders"],
        "raw_rows": raw_rows,
        "same_rows": same_rows,
        "rounds": ROUNDS,
        "steps": steps,
        "service_seconds": round(service_total, 4),
        "raw_seconds": round(raw_total, 4),
        "ratio": round(service_total / raw_total, 2),
        "service_rounds": [{k: round(v, 4) for k, v in r.items()} for r in service_rounds],
        "raw_rounds": [{k: round(v, 4) for k, v in r.items()} for r in raw_rounds],
    }
