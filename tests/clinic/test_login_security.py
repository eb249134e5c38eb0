"""Logins and hardening: lockout, two-factor, idle sessions, CORS, headers, check --deploy."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"
LOGIN = "/admin/login/"


def _login(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/", **extra})


def test_repeated_failures_lock_the_account_even_against_the_right_password(client):
    UserFactory(username="sam.staff")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "sam.staff", "wrong-guess-123").status_code == 200
    assert _login(client, "sam.staff", "wrong-guess-123").status_code == 429
    locked = _login(client, "sam.staff")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_few_failures_then_the_right_password_logs_in(client):
    UserFactory(username="sam.staff")
    _login(client, "sam.staff", "wrong-guess-123")
    assert _login(client, "sam.staff").status_code == 302
    assert "_auth_user_id" in client.session


@pytest.fixture
def enrolled_staff(db):
    user = UserFactory(username="otp.staff", is_superuser=True)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user, device


def _code(device) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_staff_with_a_device_need_the_code_and_others_do_not(client, enrolled_staff):
    _, device = enrolled_staff
    assert _login(client, "otp.staff").status_code == 200  # the form asks for the code
    assert "_auth_user_id" not in client.session
    assert _login(client, "otp.staff", otp_token=_code(device)).status_code == 302
    assert client.get("/admin/").status_code == 200

    client.logout()
    wrong = "111111" if _code(device) == "000000" else "000000"
    assert _login(client, "otp.staff", otp_token=wrong).status_code == 200
    assert "_auth_user_id" not in client.session

    UserFactory(username="plain.staff", is_superuser=True)
    assert _login(client, "plain.staff").status_code == 302


def test_an_admin_session_of_an_enrolled_user_opened_without_the_code_is_sent_to_log_in(client, enrolled_staff):
    client.force_login(enrolled_staff[0])  # as a session opened by another login form would be
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


def test_staff_sessions_expire_when_idle(client):
    """Each request moves the expiry on; a session left alone for SESSION_COOKIE_AGE is gone."""
    idle = settings.SESSION_COOKIE_AGE
    assert 0 < idle <= 60 * 60
    start = dt.datetime(2027, 1, 6, 14, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        UserFactory(username="sam.staff", is_superuser=True)
        assert _login(client, "sam.staff").status_code == 302
        assert client.get("/admin/").status_code == 200
        # Active: a request a minute before each expiry keeps the session alive, well past one idle period.
        for _ in range(3):
            traveller.shift(dt.timedelta(seconds=idle - 60))
            assert client.get("/admin/").status_code == 200
        # Idle: one second past the age since the last request, the next one is sent to log in.
        traveller.shift(dt.timedelta(seconds=idle + 1))
        response = client.get("/admin/")
        assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


def test_cors_answers_only_configured_origins(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.clinic.example"]
    preflight = {"access-control-request-method": "GET"}
    allowed = client.options("/api/v1/me/", headers={"origin": "https://app.clinic.example", **preflight})
    assert allowed["Access-Control-Allow-Origin"] == "https://app.clinic.example"
    other = client.options("/api/v1/me/", headers={"origin": "https://evil.example", **preflight})
    assert "Access-Control-Allow-Origin" not in other


def test_security_headers_on_https_responses(client):
    response = client.get(LOGIN, secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_check_deploy_passes_with_production_settings():
    root = Path(__file__).resolve().parents[2]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("DEBUG", "SECURE_", "SESSION_", "CSRF_", "PYTEST", "DJANGO_SETTINGS", "DJANGO_ALLOW_ASYNC")
        )
    }
    env.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        SECRET_KEY="k3y-" + "x7Q9!vR2#mL5$pZ8&wT4" * 3,
        ALLOWED_HOSTS="clinic.example.org",
        CORS_ALLOWED_ORIGINS="https://app.clinic.example.org",
        # Two database roles (issue 11): the application's owns nothing.
        DATABASE_OWNER_URL="postgres://clinic_owner@localhost:5432/clinic",
        DATABASE_URL="postgres://clinic_app@localhost:5432/clinic",
    )
    result = _check_deploy(root, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

    # The application connecting as the schema's owner is a deployment mistake.
    del env["DATABASE_OWNER_URL"]
    result = _check_deploy(root, env)
    assert result.returncode != 0
    assert "clinic.W101" in result.stdout + result.stderr


def _check_deploy(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
