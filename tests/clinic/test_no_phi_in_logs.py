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
