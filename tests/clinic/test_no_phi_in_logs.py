"""No patient data in the logs: run a workload over the demo clinic and scan what the log handlers wrote."""

import io
import logging

import pytest
from django.core.management import call_command
from django.urls import reverse

from clinic.logfilters import redact
from patients.models import Patient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class _RawMessages(logging.Handler):
    """Sees each record before the configured handlers (and their PHI filter) do."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def captured_handlers():
    """Point every configured handler at a buffer, keeping its filters and formatter."""
    buffer = io.StringIO()
    loggers = [logging.getLogger(), logging.getLogger("django")]
    handlers = {h for logger in loggers for h in logger.handlers}
    previous = {h: h.setStream(buffer) for h in handlers if isinstance(h, logging.StreamHandler)}
    assert previous, "no stream handler is configured"
    raw = _RawMessages()
    for logger in loggers:
        logger.handlers.insert(0, raw)
    yield buffer, raw
    for logger in loggers:
        logger.handlers.remove(raw)
    for handler, stream in previous.items():
        handler.setStream(stream)


def test_a_workload_leaves_no_names_phones_or_emails_in_the_logs(client, captured_handlers):
    written_to, raw = captured_handlers
    call_command("seed_demo", "--no-progress", "--patients", "12")
    patients = list(Patient.objects.filter(mrn__startswith="DEMO-"))
    victim = patients[0]
    logging.getLogger("clinic.workload").info("Reminder failed for %s at %s", victim.email, victim.phone)

    # A failed login with a patient's e-mail as the username (django-axes logs the username).
    client.post("/admin/login/", {"username": victim.email, "password": "not-the-password"})
    # A 404 whose path carries a phone number (django.request logs the path).
    client.get(f"/lookup/{victim.phone}/")
    # Staff work: search, lists, change pages, as the demo account does.
    client.force_login(UserFactory(username="root", is_superuser=True))
    client.get(reverse("admin:patients_patient_changelist"), {"q": victim.legal_last_name})
    for patient in patients[:5]:
        client.get(reverse("admin:patients_patient_change", args=[patient.pk]))
    client.get(reverse("admin:programs_residentialstay_changelist"))

    # The workload did put patient data in log records (so this test can fail)...
    assert any(victim.email in message for message in raw.messages)
    assert any(victim.phone in message for message in raw.messages)
    # ...and none of it reached the output.
    written = written_to.getvalue()
    assert "Not Found" in written  # the handlers did write
    for patient in patients:
        for value in (patient.email, patient.phone, f"{patient.legal_first_name} {patient.legal_last_name}"):
            assert value not in written, f"{value!r} leaked into the logs"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '"GET /admin/patients/patient/?q=Rivera HTTP/1.1" 200',
            '"GET /admin/patients/patient/?[redacted] HTTP/1.1" 200',
        ),
        ("reply from +14155550132 and (415) 555-0132", "reply from [phone] and [phone]"),
        ("login failed for alex.rivera@example.org", "login failed for [email]"),
        ("Not Found: /lookup/+14155550132/", "Not Found: /lookup/[phone]/"),
        ("episode 42 stepped down on 2026-11-23", "episode 42 stepped down on 2026-11-23"),
    ],
)
def test_the_filter_masks_query_strings_phones_and_emails_but_keeps_ids_and_dates(line, expected):
    assert redact(line) == expected


# --- Capability tokens and JWTs (issue 11, defect 4) --------------------------------------------


@pytest.fixture
def feed_tokens(patient):
    """A live calendar token and one that was rotated away (its URL now answers 404)."""
    from scheduling import services as schedule

    rotated = schedule.issue_calendar_feed(patient=patient)
    live = schedule.issue_calendar_feed(patient=patient)
    return live, rotated


def _jwt(user) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    return str(AccessToken.for_user(user))


def test_calendar_404s_and_jwts_leave_no_token_in_the_logs(client, captured_handlers, feed_tokens):
    written_to, raw = captured_handlers
    live, rotated = feed_tokens
    jwt = _jwt(UserFactory(username="logged.user"))

    assert client.get(f"/calendar/{rotated}.ics").status_code == 404  # "Not Found: /calendar/<token>.ics"
    assert client.get(f"/calendar/{live}").status_code == 404  # without the suffix: no route
    assert client.get(f"/api/v1/sessions/{jwt}/", HTTP_AUTHORIZATION=f"Bearer {jwt}").status_code == 403
    assert client.get(f"/lookup/{jwt}/", HTTP_AUTHORIZATION=f"Bearer {jwt}").status_code == 404
    # Third-party code that logs a header or a URL as it received it.
    logging.getLogger("clinic.workload").warning("auth failed: Authorization: Bearer %s", jwt)
    logging.getLogger("clinic.workload").warning("fetching https://clinic.example/calendar/%s.ics", live)

    # The records did carry the secrets (so this test can fail)...
    assert any(rotated in message for message in raw.messages)
    assert any(live in message for message in raw.messages)
    assert any(jwt in message for message in raw.messages)
    # ...and none reached the output.
    written = written_to.getvalue()
    assert "Not Found: /calendar/[token].ics" in written
    for secret in (live, rotated, jwt, jwt.split(".")[1], jwt.split(".")[2]):
        assert secret not in written, f"{secret[:12]}... leaked into the logs"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Not Found: /calendar/Ab3_x-9Q.ics", "Not Found: /calendar/[token].ics"),
        ('"GET /calendar/Ab3_x-9Q.ics?v=2 HTTP/1.1" 200', '"GET /calendar/[token].ics?[redacted] HTTP/1.1" 200'),
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [token]"),
        ("Not Found: /api/v1/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln-_/", "Not Found: /api/v1/[jwt]/"),
    ],
)
def test_the_filter_masks_calendar_tokens_and_jwts(line, expected):
    assert redact(line) == expected


def test_gunicorn_logs_no_token_jwt_query_email_phone_or_name(transactional_db, tmp_path, patient, feed_tokens):
    """The web server as deployed (gunicorn.conf.py), on a free loopback port, on the test database."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request
    from pathlib import Path

    from django.db import connection

    live, rotated = feed_tokens
    jwt = _jwt(UserFactory(username="logged.user"))
    root = Path(__file__).resolve().parents[2]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with open(error_log, "w") as stderr:
        server = subprocess.Popen(
            [str(gunicorn), "clinic.wsgi:application", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--access-logfile", str(access_log), "--error-logfile", "-"],
            cwd=root, env=env, stdout=stderr, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"

            def get(path: str, **headers) -> int:
                request = urllib.request.Request(base + path, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return response.status
                except urllib.error.HTTPError as error:
                    return error.code

            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, error_log.read_text()
                try:
                    get("/lookup/warming-up/")
                    break
                except OSError:
                    assert time.monotonic() < deadline, "gunicorn did not start in 60 s"
                    time.sleep(0.2)

            assert get(f"/calendar/{live}.ics") == 200
            assert get(f"/calendar/{rotated}.ics") == 404
            # A search for a surname (redirected to the login page, whose ?next= repeats it).
            assert get(f"/admin/patients/patient/?q={patient.legal_last_name}&e={patient.email}") == 200
            assert get(f"/api/v1/sessions/?token={jwt}", Authorization=f"Bearer {jwt}") == 403
            assert get(f"/lookup/{jwt}/") == 404
            assert get(f"/lookup/{patient.phone}/{patient.email}/") == 404
        finally:
            server.terminate()
            server.wait(timeout=15)

    access, errors = access_log.read_text(), error_log.read_text()
    lines = access.splitlines()
    # Every request is there (so the scan below scans something), its path masked, its query string gone.
    assert len(lines) >= 7, access
    assert sum('"GET /calendar/[token].ics HTTP/1.1" 200' in line for line in lines) == 1, access
    assert sum('"GET /calendar/[token].ics HTTP/1.1" 404' in line for line in lines) == 1, access
    assert '"GET /admin/patients/patient/ HTTP/1.1" 302' in access
    assert "Not Found: /calendar/[token].ics" in errors  # Django's own 404 warning, from inside gunicorn
    secrets = (live, rotated, jwt, jwt.split(".")[1], patient.email, patient.phone, patient.legal_last_name, "?q=")
    for secret in secrets:
        assert secret not in access, f"{secret[:12]}... in gunicorn's access log"
        assert secret not in errors, f"{secret[:12]}... in gunicorn's error log"
