"""Fixtures for the reminder pipeline: discharged patients with check-ins, providers, Celery workers."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from programs import services as program_services
from programs.models import AftercareCheckIn
from reminders.channels import _backend
from reminders.channels.console import LocmemChannel
from reminders.models import Reminder, ReminderStatus
from tests.factories import PatientFactory, ProgramFactory, UserFactory
from tests.findings import report  # noqa: F401 - the reliability summary's fixture
from tests.reminders.fakes import FakeFcm, FakeSmtp, FakeTwilio

ROOT = Path(__file__).resolve().parents[2]
LOCMEM = "reminders.channels.console.LocmemChannel"


@pytest.fixture(autouse=True)
def _fresh_channels():
    _backend.cache_clear()
    LocmemChannel.outbox.clear()
    yield
    _backend.cache_clear()


@pytest.fixture
def locmem_channels(settings):
    settings.REMINDERS_SMS_BACKEND = settings.REMINDERS_EMAIL_BACKEND = settings.REMINDERS_PUSH_BACKEND = LOCMEM
    return LocmemChannel.outbox


@pytest.fixture
def make_checkin(db, today):
    """A patient enrolled in IOP, discharged yesterday, with one aftercare check-in due on ``due_on``."""
    staff = UserFactory(username="reminder.staff")

    def make(*, due_on: dt.date | None = None, patient=None, program=None, **patient_fields) -> AftercareCheckIn:
        patient = patient or PatientFactory(**patient_fields)
        program = program or ProgramFactory(iop=True, aftercare_checkin_offsets=[1])
        enrollment = program_services.enroll_in_iop(
            patient=patient, program=program, start_on=today - dt.timedelta(days=20), enrolled_by=staff
        )
        program_services.discharge(
            episode=enrollment.episode, on=today - dt.timedelta(days=1), disposition="completed", decided_by=staff
        )
        checkin = AftercareCheckIn.objects.get(plan__patient=patient, plan__status="active")
        if due_on is not None:
            AftercareCheckIn.objects.filter(pk=checkin.pk).update(due_on=due_on)
            checkin.refresh_from_db()
        return checkin

    return make


def reminder_for(checkin, *, channel: str, kind: str = "morning_of") -> Reminder:
    return Reminder.objects.get(checkin=checkin, channel=channel, kind=kind)


def statuses(**filters) -> dict[str, int]:
    from django.db.models import Count

    rows = Reminder.objects.filter(**filters).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


# --- providers ----------------------------------------------------------------------------------


@pytest.fixture
def twilio(settings):
    with FakeTwilio() as fake:
        settings.REMINDERS_SMS_BACKEND = "reminders.channels.http.TwilioSmsChannel"
        settings.REMINDERS_TWILIO_API_BASE = fake.base_url
        settings.REMINDERS_TWILIO_ACCOUNT_SID = fake.sid
        settings.REMINDERS_TWILIO_AUTH_TOKEN = fake.token
        settings.REMINDERS_TWILIO_FROM_NUMBER = "+14155550000"
        settings.REMINDERS_HTTP_CONNECT_TIMEOUT = 1.0
        settings.REMINDERS_HTTP_READ_TIMEOUT = 0.3
        yield fake


@pytest.fixture
def fcm(settings):
    with FakeFcm() as fake:
        settings.REMINDERS_PUSH_BACKEND = "reminders.channels.http.FcmPushChannel"
        settings.REMINDERS_FCM_API_BASE = fake.base_url
        settings.REMINDERS_FCM_PROJECT_ID = fake.project
        settings.REMINDERS_FCM_ACCESS_TOKEN = fake.token
        yield fake


@pytest.fixture
def smtp(settings):
    with FakeSmtp() as fake:
        settings.REMINDERS_EMAIL_BACKEND = "reminders.channels.email.DjangoEmailChannel"
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = fake.port
        settings.EMAIL_USE_TLS = False
        yield fake


# --- Celery workers ------------------------------------------------------------------------------


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker in this process (threads), consuming the real Redis (not eager mode)."""
    from celery.contrib.testing.worker import start_worker

    from clinic.celery import app

    app.loader.import_default_modules()
    app.control.purge()
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


class WorkerProcess:
    """``celery worker`` as a subprocess on the test database, so a test can SIGKILL it."""

    def __init__(self, *, env: dict[str, str], concurrency: int = 2) -> None:
        self.env = env
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "clinic", "worker", "-P", "prefork", "-c", str(self.concurrency),
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
            cwd=ROOT, env=self.env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): no cleanup, no acks."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_env(transactional_db, settings):
    """Environment for a worker subprocess pointed at this test database and its own queue."""
    db = connection.settings_dict
    queue = f"reminders-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "REMINDERS_ALLOW_SHORT_LEASE": "1",
        "REMINDERS_CHANNELS": "sms",
    }
    return env


def run_until(predicate, *, timeout: float, every: float = 0.2, tick=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            tick()
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def all_final(**filters) -> bool:
    return not Reminder.objects.filter(status__in=(ReminderStatus.PENDING, ReminderStatus.SENDING), **filters).exists()
