"""(2) Reminder planning for the next 48 hours: ``reminders.services.plan_for`` against one raw INSERT ... SELECT.

The targets are those with a reminder falling due in the next 48 hours: the live
bookings of sessions starting within the planning horizon (``REMINDERS_PLANNING_HORIZON_HOURS``,
72 h: their 24-hour reminder is due within 48 h) and the live aftercare check-ins whose
day-before or morning-of reminder is due within 48 h. The service plans every reminder of
those targets on every configured channel, exactly as the booking and discharge services
call it (``plan_for(target=..., ids=...)``); the raw statements write the same rows (the
same idempotency keys, due, event and send-after times, patients and targets), which is
checked row by row. Each side runs ``ROUNDS`` times, alternately, on an emptied and
vacuumed outbox for those targets; the best time of each is compared (the machine is shared).
"""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.db import connection, transaction

from clinic import clock

ROUNDS = 3
WINDOW = dt.timedelta(hours=48)

_COLUMNS = """public_id, created_at, updated_at, patient_id, booking_id, checkin_id, kind, channel, due_at, event_at,
              send_after, status, status_reason, attempts, last_error, provider_message_id, idempotency_key"""

# The bookings chosen by a WHERE of the caller's (bench/generation.py chooses by date, not by id).
RAW_BOOKING_REMINDERS_SELECT = f"""
INSERT INTO reminders_reminder ({_COLUMNS})
SELECT gen_random_uuid(), now(), now(), b.patient_id, b.id, NULL, h.before || 'h', ch.channel,
       s.starts_at - make_interval(hours => h.before), s.starts_at,
       GREATEST(s.starts_at - make_interval(hours => h.before), %(now)s), 'pending', '', 0, '', '',
       'booking:' || b.public_id || ':' || to_char(s.starts_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MI"Z"')
       || ':' || h.before || 'h:' || ch.channel
  FROM scheduling_booking b
  JOIN scheduling_session s ON s.id = b.session_id
  JOIN scheduling_sessionseries ss ON ss.id = s.series_id
  JOIN programs_program p ON p.id = ss.program_id
 CROSS JOIN LATERAL (SELECT DISTINCT unnest(p.session_reminder_hours) AS before) h
 CROSS JOIN unnest(%(channels)s::text[]) AS ch(channel)
 {{where}} AND b.cancelled_at IS NULL AND s.status = 'scheduled'
   AND s.starts_at > %(now)s AND s.starts_at <= %(horizon)s
ON CONFLICT DO NOTHING
"""
RAW_BOOKINGS_SQL = RAW_BOOKING_REMINDERS_SELECT.format(where="WHERE b.id = ANY(%(ids)s)")

RAW_CHECKINS_SQL = f"""
INSERT INTO reminders_reminder ({_COLUMNS})
SELECT gen_random_uuid(), now(), now(), pl.patient_id, NULL, c.id, k.kind, ch.channel,
       (c.due_on + k.day_offset + k.at) AT TIME ZONE pt.time_zone, (c.due_on + 1)::timestamp AT TIME ZONE pt.time_zone,
       GREATEST((c.due_on + k.day_offset + k.at) AT TIME ZONE pt.time_zone, %(now)s), 'pending', '', 0, '', '',
       'checkin:' || c.public_id || ':' || to_char(c.due_on, 'YYYYMMDD') || ':' || k.kind || ':' || ch.channel
  FROM programs_aftercarecheckin c
  JOIN programs_aftercareplan pl ON pl.id = c.plan_id
  JOIN patients_patient pt ON pt.id = pl.patient_id
 CROSS JOIN unnest(%(kinds)s::text[], %(offsets)s::int[], %(times)s::time[]) AS k(kind, day_offset, at)
 CROSS JOIN unnest(%(channels)s::text[]) AS ch(channel)
 WHERE c.id = ANY(%(ids)s) AND c.status = 'scheduled' AND pl.status = 'active' AND c.due_on >= %(since)s
   AND (c.due_on + 1)::timestamp AT TIME ZONE pt.time_zone > %(now)s
ON CONFLICT DO NOTHING
"""


def _targets(now: dt.datetime) -> tuple[list[int], list[int]]:
    """Live bookings within the horizon, and live check-ins with a reminder due in the next 48 hours."""
    horizon = now + dt.timedelta(hours=settings.REMINDERS_PLANNING_HORIZON_HOURS)
    schedule = settings.REMINDERS_CHECKIN_SCHEDULE
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.id FROM scheduling_booking b JOIN scheduling_session s ON s.id = b.session_id "
            "WHERE b.cancelled_at IS NULL AND s.status = 'scheduled' AND s.starts_at > %s AND s.starts_at <= %s "
            "ORDER BY b.id",
            [now, horizon],
        )
        bookings = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            """
            SELECT DISTINCT c.id FROM programs_aftercarecheckin c
              JOIN programs_aftercareplan pl ON pl.id = c.plan_id
              JOIN patients_patient pt ON pt.id = pl.patient_id
             CROSS JOIN unnest(%(offsets)s::int[], %(times)s::time[]) AS k(day_offset, at)
             WHERE c.status = 'scheduled' AND pl.status = 'active'
               AND (c.due_on + k.day_offset + k.at) AT TIME ZONE pt.time_zone BETWEEN %(now)s AND %(until)s
             ORDER BY c.id
            """,
            {"offsets": [o for o, _ in schedule.values()], "times": [t for _, t in schedule.values()], "now": now,
             "until": now + WINDOW},
        )  # fmt: skip
        checkins = [row[0] for row in cursor.fetchall()]
    return bookings, checkins


def _clear(bookings: list[int], checkins: list[int]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM reminders_reminder WHERE booking_id = ANY(%s) OR checkin_id = ANY(%s)", [bookings, checkins]
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reminders_reminder")


_SNAPSHOT = """SELECT idempotency_key, patient_id, booking_id, checkin_id, kind, channel, due_at, event_at, send_after,
                      status FROM reminders_reminder WHERE booking_id = ANY(%(b)s) OR checkin_id = ANY(%(c)s)"""


def _raw(now: dt.datetime, bookings: list[int], checkins: list[int]) -> int:
    schedule = settings.REMINDERS_CHECKIN_SCHEDULE
    horizon = now + dt.timedelta(hours=settings.REMINDERS_PLANNING_HORIZON_HOURS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(RAW_BOOKINGS_SQL, {"ids": bookings, "channels": settings.REMINDERS_CHANNELS, "now": now,
                                          "horizon": horizon})  # fmt: skip
        rows = cursor.rowcount
        cursor.execute(
            RAW_CHECKINS_SQL,
            {"ids": checkins, "channels": settings.REMINDERS_CHANNELS, "now": now, "kinds": list(schedule),
             "offsets": [o for o, _ in schedule.values()], "times": [t for _, t in schedule.values()],
             "since": (now - dt.timedelta(days=1)).date()},
        )  # fmt: skip
        return rows + cursor.rowcount


def _service(now: dt.datetime, bookings: list[int], checkins: list[int]) -> int:
    from reminders import services

    with transaction.atomic():
        return services.plan_for(target="booking", ids=bookings, now=now) + services.plan_for(
            target="checkin", ids=checkins, now=now
        )


def _count(bookings: list[int], checkins: list[int]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({_SNAPSHOT}) x", {"b": bookings, "c": checkins})
        return cursor.fetchone()[0]


def measure() -> dict:
    now = clock.now()
    bookings, checkins = _targets(now)
    raw_times, service_times = [], []
    raw_rows = service_rows = 0
    same_rows = True
    for _ in range(ROUNDS):
        _clear(bookings, checkins)
        started = time.perf_counter()
        _raw(now, bookings, checkins)
        raw_times.append(time.perf_counter() - started)
        raw_rows = _count(bookings, checkins)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_planned_raw")
            cursor.execute(f"CREATE TEMP TABLE bench_planned_raw AS {_SNAPSHOT}", {"b": bookings, "c": checkins})
        _clear(bookings, checkins)
        started = time.perf_counter()
        _service(now, bookings, checkins)
        service_times.append(time.perf_counter() - started)
        service_rows = _count(bookings, checkins)
        with connection.cursor() as cursor:
            # Row by row, both ways: the same keys with the same times, patients and targets.
            cursor.execute(
                f"SELECT count(*) FROM ((SELECT * FROM bench_planned_raw EXCEPT {_SNAPSHOT}) UNION ALL "
                f"({_SNAPSHOT} EXCEPT SELECT * FROM bench_planned_raw)) d",
                {"b": bookings, "c": checkins},
            )
            different = cursor.fetchone()[0]
            cursor.execute("DROP TABLE bench_planned_raw")
        same_rows = same_rows and different == 0 and raw_rows == service_rows
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE due_at BETWEEN %(now)s AND %(until)s), "
            "count(*) FILTER (WHERE booking_id IS NOT NULL), count(*) FILTER (WHERE checkin_id IS NOT NULL) "
            f"FROM ({_SNAPSHOT}) x",
            {"now": now, "until": now + WINDOW, "b": bookings, "c": checkins},
        )
        due_48h, booking_rows, checkin_rows = cursor.fetchone()
    raw_s, service_s = min(raw_times), min(service_times)
    return {
        "bookings": len(bookings),
        "checkins": len(checkins),
        "channels": list(settings.REMINDERS_CHANNELS),
        "horizon_hours": settings.REMINDERS_PLANNING_HORIZON_HOURS,
        "rows": service_rows,
        "booking_rows": booking_rows,
        "checkin_rows": checkin_rows,
        "rows_due_within_48h": due_48h,
        "raw_rows": raw_rows,
        "same_rows": same_rows,
        "rounds": ROUNDS,
        "service_seconds": round(service_s, 4),
        "raw_seconds": round(raw_s, 4),
        "service_seconds_all": [round(t, 4) for t in service_times],
        "raw_seconds_all": [round(t, 4) for t in raw_times],
        "service_rows_per_second": round(service_rows / service_s, 1) if service_s else None,
        "raw_rows_per_second": round(raw_rows / raw_s, 1) if raw_s else None,
        "ratio": round(service_s / raw_s, 2) if raw_s else None,
    }
