"""The nightly generation task, run by a real Celery worker on the Redis broker (not eager mode)."""

import datetime as dt
import time

import pytest
from celery.contrib.testing.worker import start_worker

from clinic.celery import app
from programs import services as journey
from scheduling.models import Booking, Session, SessionSeries
from scheduling.tasks import generate_sessions

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition, *, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_worker_generates_and_books_sessions(iop, clinician, patient, today, settings):
    assert not app.conf.task_always_eager
    journey.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician)
    # Written directly, as if the series existed before this horizon: the task is what generates it.
    series = SessionSeries.objects.create(
        program=iop, name="Evening group", kind="group_therapy", rule="FREQ=WEEKLY;BYDAY=MO,WE,TH",
        start_time=dt.time(18), duration_minutes=180, facilitator=clinician, capacity=12,
        starts_on=today + dt.timedelta(days=1),
    )  # fmt: skip
    assert not Session.objects.exists()

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        generate_sessions.delay([series.pk])
        generated = wait_for(lambda: Booking.objects.filter(patient=patient).count() >= 20)

    assert generated, "the worker did not generate the sessions in time"
    count = Session.objects.filter(series=series).count()
    assert 20 <= count <= 25
    assert Booking.objects.filter(patient=patient).count() == count
