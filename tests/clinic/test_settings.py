"""The servers refuse to start without a SECRET_KEY; only manage.py falls back to development settings."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bare_env() -> dict[str, str]:
    drop = ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "PYTEST", "DJANGO_ALLOW_ASYNC")
    return {key: value for key, value in os.environ.items() if not key.startswith(drop)}


def test_the_web_server_refuses_to_start_without_a_secret_key():
    env = {**_bare_env(), "DJANGO_SETTINGS_MODULE": "clinic.settings"}
    done = subprocess.run(
        [sys.executable, "-c", "import clinic.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "Set the SECRET_KEY environment variable." in done.stderr


def test_manage_py_runs_in_a_bare_checkout_with_development_settings():
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=_bare_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "using development settings" in done.stderr
