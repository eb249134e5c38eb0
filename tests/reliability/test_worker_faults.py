"""Faults under a real Celery worker (Redis broker, not eager mode)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.db import connection

from clinic.celery import app
from programs import services as journey
from scheduling.models import Booking, Session
from scheduling.tasks import generate_sessions
from tests.scheduling.conftest import make_series

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def wait_for(condition, *, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    return None


def _waiting_on_a_lock() -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_postgres_connection_dropped_under_a_worker(iop, clinician, patient, today, settings, report):
    """The worker's backend is terminated mid-task: that run rolls back whole, the next one succeeds."""
    journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    settings.SCHEDULING_HORIZON_WEEKS = 2
    series = make_series(iop, clinician, starts_on=today + dt.timedelta(days=1), rule="FREQ=WEEKLY;BYDAY=MO,WE,TH")
    before = Session.objects.filter(series=series).count()
    settings.SCHEDULING_HORIZON_WEEKS = 6  # the task now has weeks to add

    outcomes: list[tuple[str, str]] = []
    finished = threading.Event()
    ours: set[str] = set()  # a task left in the test broker by another test must not count

    def on_success(sender=None, **kwargs):
        if sender.request.id in ours:
            outcomes.append(("success", ""))
            finished.set()

    def on_failure(sender=None, task_id=None, exception=None, **kwargs):
        if task_id in ours:
            outcomes.append(("failure", type(exception).__name__))
            finished.set()

    signals.task_success.connect(on_success, weak=False)
    signals.task_failure.connect(on_failure, weak=False)
    db = connection.settings_dict
    locker = psycopg.connect(dbname=db["NAME"], host=db["HOST"] or None, port=db["PORT"] or None,
                             user=db["USER"] or None, autocommit=False)  # fmt: skip
    try:
        # Hold a lock the task needs (it locks the series' sessions before booking), so it is
        # caught mid-task, inside its transaction, when its connection is cut.
        first = Session.objects.filter(series=series).order_by("pk").first()
        locker.execute("SELECT id FROM scheduling_session WHERE id = %s FOR UPDATE", [first.pk])
        app.control.purge()  # the test broker's leftovers from earlier tests
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            ours.add(generate_sessions.delay([series.pk]).id)
            pid = wait_for(_waiting_on_a_lock)
            assert pid is not None, "the task never reached the lock"
            mid_task = Session.objects.filter(series=series).count()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            locker.rollback()
            assert finished.wait(20), "the first task did not finish"
            after_failure = Session.objects.filter(series=series).count()

            finished.clear()
            started = time.perf_counter()
            ours.add(generate_sessions.delay([series.pk]).id)
            assert finished.wait(20), "the second task did not finish"
            retry_ms = (time.perf_counter() - started) * 1000
    finally:
        locker.close()
        signals.task_success.disconnect(on_success)
        signals.task_failure.disconnect(on_failure)

    final = Session.objects.filter(series=series).count()
    bookings = Booking.objects.active().filter(patient=patient, session__series=series)
    duplicates = bookings.count() - bookings.values("session").distinct().count()
    ok = (
        outcomes[0][0] == "failure"
        and outcomes[1] == ("success", "")
        and after_failure == before == mid_task
        and final > before
        and bookings.count() == final
        and duplicates == 0
    )
    report(
        "PostgreSQL connection dropped under a worker",
        "pg_terminate_backend on the worker's connection while its generate_sessions task waited on a row lock, "
        "then the same worker given the task again",
        f"first run: {outcomes[0][1] or outcomes[0][0]}, rolled back whole ({after_failure} sessions, as before); "
        f"next run on the same worker reconnected and succeeded in {retry_ms:.0f} ms: {before} -> {final} sessions, "
        f"{bookings.count()} bookings, {duplicates} duplicates",
        ok,
    )
    assert ok, outcomes
