"""(3) Dispatch: reminders per second through Redis and real Celery workers, beside a raw SKIP LOCKED claim loop.

The rows are the e-mail reminders that planning (2) wrote for the next days, for patients
whose send-time rules let them through (messaging consent given and not revoked, e-mail
allowed, no confidential-communication flag) with a still-valid target. E-mail has no
daily or weekly caps; quiet hours are switched off for those patients (start = end) so the
figure does not depend on the hour the bench runs. Every other pending row is parked a
month ahead so nothing else is due. Before each run the bench rows are reset to pending
and made due at one instant (a backlog, like every 08:30 morning-of reminder at once),
and the outbox is vacuumed. Three runs on the same rows:

* **raw**: two threads (the worker's two processes), each on its own connection, claim
  batches of ``REMINDERS_BATCH_SIZE`` with the dispatcher's own ``UPDATE ... FOR UPDATE
  SKIP LOCKED`` statement and mark each batch sent in one UPDATE: what PostgreSQL does
  with no Django, no rules, no rendering and no broker;
* **in-process**: ``reminders.dispatch.deliver_due()`` in this process (one dispatcher);
* **Celery**: a ``celery -A clinic worker`` subprocess (prefork, 2 processes, its own
  queue) with ``NullChannel`` for every channel, triggered as beat does it: one
  ``reminders.tasks.dispatch_due_reminders`` that fans out ``deliver_due_reminders`` tasks
  (sent again each ``BEAT_SECONDS`` if rows are still due, as beat would each minute).

Lateness is ``sent_at`` minus the moment the rows became due (``sent_at`` is written when a
group of ``REMINDERS_RECORD_EVERY`` sends is recorded). Duplicates: each send follows a
claim and a claim bumps ``attempts``, so the claims beyond the first (``attempts - 1``) bound
the repeated sends; a sent row with one claim was sent once. The idempotency key is unique
in the table, so keys sent twice equal rows sent twice.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection, transaction

from bench.config import ROOT, VENV_BIN, bench_database_url, bench_environment
from bench.memory import _children, peak_rss_tree
from clinic import clock

NULL = "reminders.channels.console.NullChannel"
BACKENDS = ("REMINDERS_SMS_BACKEND", "REMINDERS_EMAIL_BACKEND", "REMINDERS_PUSH_BACKEND")
BEAT_SECONDS = 60.0
TIMEOUT = 300.0

_ELIGIBLE_SQL = """
CREATE TEMP TABLE bench_dispatch_rows AS
SELECT r.id, r.patient_id
  FROM reminders_reminder r
  JOIN patients_patient p ON p.id = r.patient_id
  LEFT JOIN scheduling_booking b ON b.id = r.booking_id
  LEFT JOIN scheduling_session s ON s.id = b.session_id
  LEFT JOIN programs_aftercarecheckin c ON c.id = r.checkin_id
  LEFT JOIN programs_aftercareplan pl ON pl.id = c.plan_id
 WHERE r.status = 'pending' AND r.channel = 'email' AND r.event_at > now() + interval '1 hour'
   AND p.messaging_consent_given_at IS NOT NULL AND p.messaging_consent_revoked_at IS NULL
   AND p.email_allowed AND NOT p.confidential_communication AND p.email <> ''
   AND ((b.id IS NOT NULL AND b.cancelled_at IS NULL AND s.status = 'scheduled' AND s.starts_at = r.event_at)
        OR (c.id IS NOT NULL AND c.status = 'scheduled' AND pl.status = 'active'))
"""

_RESET_SQL = """
UPDATE reminders_reminder r
   SET status = 'pending', status_reason = '', attempts = 0, sent_at = NULL, lease_expires_at = NULL,
       provider_message_id = '', last_error = '', cleared_at = NULL, merged_into_id = NULL,
       send_after = %(due)s, updated_at = %(due)s
  FROM bench_dispatch_rows d WHERE d.id = r.id
"""

_RAW_SENT_SQL = """
UPDATE reminders_reminder SET status = 'sent', sent_at = clock_timestamp(), lease_expires_at = NULL,
       provider_message_id = 'raw', updated_at = clock_timestamp()
 WHERE id = ANY(%(ids)s) AND status = 'sending'
"""

_OUTCOME_SQL = """
SELECT count(*) FILTER (WHERE r.status = 'sent'),
       coalesce(sum(r.attempts - 1) FILTER (WHERE r.attempts > 1), 0),
       count(*) FILTER (WHERE r.status = 'sent' AND r.attempts > 1),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.sent_at - r.send_after))
           FILTER (WHERE r.status = 'sent'),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM r.sent_at - r.send_after))
           FILTER (WHERE r.status = 'sent'),
       max(r.updated_at)
  FROM reminders_reminder r JOIN bench_dispatch_rows d ON d.id = r.id
"""


def _sql(statement: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _reset(due: dt.datetime) -> None:
    with transaction.atomic():
        _sql(_RESET_SQL, {"due": due})
    _sql("VACUUM ANALYZE reminders_reminder")


def _remaining() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM reminders_reminder r JOIN bench_dispatch_rows d ON d.id = r.id "
            "WHERE r.status IN ('pending', 'sending')"
        )
        return cursor.fetchone()[0]


def _outcome(due: dt.datetime, rows: int, *, seconds: float | None = None) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(_OUTCOME_SQL)
        sent, extra_claims, reclaimed, p50, p99, last = cursor.fetchone()
        cursor.execute(
            "SELECT r.status, r.status_reason, count(*) FROM reminders_reminder r "
            "JOIN bench_dispatch_rows d ON d.id = r.id WHERE r.status <> 'sent' GROUP BY 1, 2 ORDER BY 1, 2"
        )
        not_sent = {f"{status}:{reason}" if reason else status: n for status, reason, n in cursor.fetchall()}
    # Elapsed from the moment the rows became due to the last row's final write.
    elapsed = seconds if seconds is not None else max((last - due).total_seconds(), 1e-6)
    return {
        "rows": rows,
        "sent": sent,
        "not_sent": not_sent,
        "seconds": round(elapsed, 3),
        "per_second": round(sent / elapsed, 1),
        "lateness_p50_s": round(p50, 3) if p50 is not None else None,
        "lateness_p99_s": round(p99, 3) if p99 is not None else None,
        "extra_claims": int(extra_claims),
        "rows_claimed_more_than_once": reclaimed,
        "duplicates": int(extra_claims),
    }


def _raw(rows: int) -> dict:
    # The dispatcher's own claim statement, then one UPDATE per batch (imported here: Django is set up by now).
    from reminders.dispatch import _CLAIM_SQL

    due = clock.now()
    _reset(due)
    url = bench_database_url()
    lease = clock.now() + dt.timedelta(minutes=10)
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            with psycopg.connect(url) as conn:
                while True:
                    params = {"now": clock.now(), "lease": lease, "limit": settings.REMINDERS_BATCH_SIZE}
                    with conn.transaction():
                        ids = [row[0] for row in conn.execute(_CLAIM_SQL, params)]
                    if not ids:
                        return
                    with conn.transaction():
                        conn.execute(_RAW_SENT_SQL, {"ids": ids})
        except BaseException as error:  # reported below
            errors.append(error)

    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return _outcome(due, rows, seconds=seconds)


def _in_process(rows: int) -> dict:
    from reminders import dispatch
    from reminders.channels import _backend

    saved = {name: getattr(settings, name) for name in BACKENDS}
    for name in BACKENDS:
        setattr(settings, name, NULL)
    _backend.cache_clear()
    try:
        due = clock.now()
        _reset(due)
        started = time.perf_counter()
        dispatch.deliver_due(budget_seconds=TIMEOUT)
        seconds = time.perf_counter() - started
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)
        _backend.cache_clear()
    return _outcome(due, rows, seconds=seconds)


def _queue_length(queue: str) -> int:
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        return client.llen(queue)
    finally:
        client.close()


def _celery(rows: int, out: Path) -> dict:
    from clinic.celery import app

    queue = f"bench-dispatch-{uuid.uuid4().hex[:8]}"
    env = bench_environment()
    env.update({name: NULL for name in BACKENDS}, CELERY_TASK_DEFAULT_QUEUE=queue)
    # Nothing due while the worker starts and warms up.
    _reset(clock.now() + dt.timedelta(days=30))
    log = open(out / "celery-dispatch.log", "w")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(
        [str(VENV_BIN / "celery"), "-A", "clinic", "worker", "--concurrency", "2", "--pool", "prefork",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "-n", f"{queue}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(_children(process.pid)) < 2:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Celery worker did not start; see celery-dispatch.log")
            time.sleep(0.2)
        # Warm-up: each pool process imports the task and opens its connection on an empty outbox.
        for _ in range(4):
            app.send_task("reminders.tasks.deliver_due_reminders", queue=queue)
        deadline = time.monotonic() + 30
        while _queue_length(queue) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)

        due = clock.now()
        _reset(due)
        beats = 0
        next_beat = time.monotonic()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if time.monotonic() >= next_beat:
                app.send_task("reminders.tasks.dispatch_due_reminders", queue=queue)
                beats += 1
                next_beat += BEAT_SECONDS
            if not _remaining():
                break
            time.sleep(0.05)
        memory = peak_rss_tree(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    return {**_outcome(due, rows), "beats": beats, "worker_total_mib": memory["total_mib"], "queue": queue}


def measure(*, out: Path) -> dict:
    _sql("DROP TABLE IF EXISTS bench_dispatch_rows")
    _sql(_ELIGIBLE_SQL)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT patient_id) FROM bench_dispatch_rows")
        rows, patients = cursor.fetchone()
    with transaction.atomic():
        # Quiet hours off for these patients (start = end), so the hour of the run does not matter.
        quiet = _sql(
            "UPDATE patients_patient SET quiet_hours_start = '00:00', quiet_hours_end = '00:00' "
            "WHERE id IN (SELECT patient_id FROM bench_dispatch_rows) AND quiet_hours_start <> quiet_hours_end"
        )
        # Every other active row waits a month: only the bench rows are due.
        parked = _sql(
            "UPDATE reminders_reminder SET send_after = now() + interval '30 days', status = 'pending', "
            "lease_expires_at = NULL WHERE status IN ('pending', 'sending') "
            "AND id NOT IN (SELECT id FROM bench_dispatch_rows)"
        )
    result = {
        "rows": rows,
        "patients": patients,
        "channel": "email",
        "batch_size": settings.REMINDERS_BATCH_SIZE,
        "record_every": settings.REMINDERS_RECORD_EVERY,
        "quiet_hours_switched_off_for": quiet,
        "other_rows_parked": parked,
    }
    if not rows:
        return {**result, "raw": None, "in_process": None, "celery": None}
    result["raw"] = _raw(rows)
    result["in_process"] = _in_process(rows)
    result["celery"] = _celery(rows, out)
    celery, raw = result["celery"], result["raw"]
    result["ratio"] = round(raw["per_second"] / celery["per_second"], 2) if celery["per_second"] else None
    _sql("DROP TABLE IF EXISTS bench_dispatch_rows")
    return result
