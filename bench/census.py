"""(7) The census over time (issue 14): 90 days of every program, the selector against one raw generate_series join.

``admissions.selectors.census_over_time`` answers past days from the placements and future days from
planned ends, held reservations and the waitlist, in one statement. The baseline is the plainest
raw SQL for the same patient counts: the days from ``generate_series`` joined to the placements
(half-open ranges; planned ends after today), grouped by program and day. The per-program, per-day
patient counts of both are compared. Best of ``ROUNDS`` alternating runs each (the machine is shared).
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection

ROUNDS = 3
DAYS = 90

RAW_SQL = """
SELECT p.id, d::date, count(pl.id)
  FROM programs_program p
 CROSS JOIN generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d
  LEFT JOIN programs_placement pl
    ON pl.program_id = p.id AND pl.cancelled_at IS NULL AND pl.start_on <= d::date
   AND d::date < CASE WHEN d::date <= %(today)s::date THEN COALESCE(pl.ended_on, 'infinity'::date)
                      ELSE COALESCE(pl.ended_on, GREATEST(pl.planned_end_on, %(today)s::date + 1), 'infinity'::date) END
 WHERE p.is_active
 GROUP BY 1, 2
 ORDER BY 1, 2
"""


def measure(*, today: dt.date) -> dict:
    from admissions import selectors
    from clinic import clock
    from programs.models import Program

    start = today - dt.timedelta(days=DAYS // 2)
    end = start + dt.timedelta(days=DAYS - 1)
    now = clock.now()
    service_times, raw_times = [], []
    service_rows, raw_rows = [], []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        programs = list(Program.objects.filter(is_active=True))
        rows = selectors.census_over_time(programs=programs, start=start, end=end, today=today, now=now)
        service_times.append(time.perf_counter() - t0)
        service_rows = [(r.program_id, r.day, r.patients) for r in rows]
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(RAW_SQL, {"start": start, "end": end, "today": today})
            raw_rows = [tuple(row) for row in cursor.fetchall()]
        raw_times.append(time.perf_counter() - t0)
    service, raw = min(service_times), min(raw_times)
    return {
        "programs": len(programs),
        "days": DAYS,
        "rows": len(service_rows),
        "patient_days": sum(r[2] for r in service_rows),
        "service_seconds": round(service, 4),
        "raw_seconds": round(raw, 4),
        "ratio": round(service / raw, 2) if raw else None,
        "same_counts": sorted(service_rows) == sorted(raw_rows),
        "rounds": {"service": [round(t, 4) for t in service_times], "raw": [round(t, 4) for t in raw_times]},
    }
