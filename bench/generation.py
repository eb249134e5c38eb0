"""(1) Session generation: ``scheduling.services.generate_sessions`` against one raw INSERT ... SELECT generate_series.

Both write the same rows (the next weeks' sessions of every series, closures
skipped, local start times turned into UTC by the program's zone) into the same
table with the same indexes and constraints. The raw statement runs first,
committed, and its rows are deleted and the table vacuumed before the service
runs, so neither inherits the other's dead rows. The service also books the
enrolled patients into track sessions (it always does); that part is timed
separately so the ratio can be read with and without it.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection, transaction

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


def measure(*, today: dt.date, weeks: int) -> dict:
    from scheduling import services

    from_on, until = today, today + dt.timedelta(weeks=weeks, days=-1)
    _clear_window(from_on)

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(RAW_SESSIONS_SQL, {"from_on": from_on, "until": until})
        raw_rows = cursor.rowcount
    raw_seconds = time.perf_counter() - started
    _clear_window(from_on)

    # Time the booking step inside the real call: generate_sessions looks it up by name at call time.
    booking_seconds = 0.0
    original = services._book_track_sessions

    def timed_booking(**kwargs):
        nonlocal booking_seconds
        t0 = time.perf_counter()
        try:
            return original(**kwargs)
        finally:
            booking_seconds += time.perf_counter() - t0

    services._book_track_sessions = timed_booking
    try:
        started = time.perf_counter()
        result = services.generate_sessions(from_on=from_on, until=until)
        service_seconds = time.perf_counter() - started
    finally:
        services._book_track_sessions = original

    sessions_only = service_seconds - booking_seconds
    return {
        "window": [from_on.isoformat(), until.isoformat()],
        "series": result.series,
        "service_sessions": result.sessions_created,
        "service_bookings": result.bookings_created,
        "service_seconds": round(service_seconds, 4),
        "service_booking_seconds": round(booking_seconds, 4),
        "service_sessions_per_second": round(result.sessions_created / service_seconds, 1),
        "raw_sessions": raw_rows,
        "raw_seconds": round(raw_seconds, 4),
        "raw_sessions_per_second": round(raw_rows / raw_seconds, 1),
        "same_rows": raw_rows == result.sessions_created,
        "ratio": round(service_seconds / raw_seconds, 2),
        "ratio_without_booking": round(sessions_only / raw_seconds, 2),
    }
