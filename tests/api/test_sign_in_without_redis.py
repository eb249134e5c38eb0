"""Issue 11, defect 11: while Redis restarts, sign-in answers 503 with Retry-After (never a 500), requests
with a valid token keep working, and sign-in works again once Redis is back.

The test runs its own redis-server on a free port and points the cache (the sign-in throttle's
counters) at it, so stopping it disturbs nobody else's Redis.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
import redis
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.reliability]

PASSWORD = "correct-horse-battery-staple"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    def __init__(self, port: int, directory) -> None:
        self.port = port
        self.command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", str(directory), "--daemonize", "no"]  # fmt: skip
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(settings, tmp_path):
    # A missing redis-server is a broken machine, not a reason to pass quietly.
    assert shutil.which("redis-server"), "this test starts its own redis-server; install redis-server"
    server = RedisServer(_free_port(), tmp_path)
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{server.port}/0",
            "KEY_PREFIX": "clinic",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
    try:
        yield server
    finally:
        server.stop()


def _sign_in(client: APIClient):
    return client.post("/api/v1/auth/token/", {"username": "alex.patient", "password": PASSWORD}, format="json")


def test_sign_in_is_a_503_while_redis_restarts_and_works_again_after(own_redis, patient_user):
    signed_in = _sign_in(APIClient())
    assert signed_in.status_code == 200
    app = APIClient()
    app.credentials(HTTP_AUTHORIZATION=f"Bearer {signed_in.json()['access']}")

    own_redis.stop()
    refused = _sign_in(APIClient())
    assert refused.status_code == 503
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "sign_in_unavailable"
    assert "try again" in refused.json()["error"]["message"]
    refresh = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": signed_in.json()["refresh"]}, format="json")
    assert refresh.status_code == 503
    # A valid access token needs no Redis: the app keeps working for a signed-in patient.
    assert app.get("/api/v1/me/").status_code == 200

    own_redis.start()
    again = _sign_in(APIClient())
    assert again.status_code == 200 and again.json()["access"]
