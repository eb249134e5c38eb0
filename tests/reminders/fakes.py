"""Local stand-ins for the providers, speaking their real wire protocols on loopback.

They let the real HTTP and SMTP client code run. Like a provider with idempotency
support, the SMS fake turns a POST carrying a key it has already accepted into the
same message. Both HTTP fakes also record every POST as it came, repeats included
(``ProviderLog.posts``), so a test can count how often a key was sent, not only how
many messages the provider made of it.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


@dataclass
class ProviderLog:
    # Every authenticated POST in arrival order, repeats included: its key, what it carried and
    # the answer ("created", "repeat" for an already accepted key, or the failure played).
    posts: list[dict] = field(default_factory=list)
    created: list[dict] = field(default_factory=list)  # one per distinct message the provider made
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return len(self.posts)

    @property
    def repeats(self) -> int:
        """POSTs whose idempotency key the provider had already accepted."""
        return sum(1 for post in self.posts if post["answer"] == "repeat")

    def per_key(self) -> Counter:
        """How many times each key was POSTed, whatever the answer."""
        return Counter(post["key"] for post in self.posts)

    def repeats_per_key(self) -> Counter:
        return Counter(post["key"] for post in self.posts if post["answer"] == "repeat")

    def created_per_key(self) -> Counter:
        """Distinct messages per key: what the patient receives from a provider that honours the key."""
        return Counter(m["key"] for m in self.created)


class _Server:
    def __init__(self, handler_cls) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.httpd.daemon_threads = True
        self.httpd.fake = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): exactly the case under test


class FakeTwilio(_Server):
    """POST /2010-04-01/Accounts/{sid}/Messages.json, HTTP basic auth, form body."""

    def __init__(self, *, sid="AC_test", token="secret", delay=0.0, behaviour=None) -> None:
        super().__init__(_TwilioHandler)
        self.sid, self.token, self.delay = sid, token, delay
        # behaviour(request_number, form) -> "ok" | "500" | "429" | "400" | "timeout" (accept, then answer too late)
        self.behaviour = behaviour or (lambda n, form: "ok")
        self.log = ProviderLog()
        self.by_key: dict[str, str] = {}
        self.counter = itertools.count(1)


class _TwilioHandler(_Handler):
    def do_POST(self) -> None:
        fake: FakeTwilio = self.server.fake
        length = int(self.headers.get("Content-Length", 0))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        expected_auth = "Basic " + base64.b64encode(f"{fake.sid}:{fake.token}".encode()).decode()
        if self.path != f"/2010-04-01/Accounts/{fake.sid}/Messages.json" or self.headers["Authorization"] != (
            expected_auth
        ):
            self._json(401, {"code": 20003, "message": "Authenticate"})
            return
        key = self.headers.get("Idempotency-Key", "")
        with fake.log.lock:
            number = next(fake.counter)
            mode = fake.behaviour(number, form)
            if key in fake.by_key:
                sid = fake.by_key[key]
                mode = "repeat"
            elif mode in ("ok", "timeout"):
                sid = f"SM{number:032d}"
                fake.by_key[key] = sid
                fake.log.created.append(
                    {"key": key, "to": form.get("To"), "from": form.get("From"), "body": form.get("Body"), "sid": sid}
                )
            answer = "created" if mode == "ok" else mode  # "timeout": created, answered too late
            fake.log.posts.append({"key": key, "to": form.get("To"), "from": form.get("From"), "answer": answer})
        if fake.delay:
            time.sleep(fake.delay)
        if mode in ("500", "429", "400"):
            self._json(int(mode), {"code": 1, "message": f"fake {mode}"})
        elif mode == "timeout":
            time.sleep(1.0)  # longer than the client's read timeout in the tests
            self._json(201, {"sid": sid, "status": "queued"})
        else:
            self._json(201, {"sid": sid, "status": "queued"})


class FakeFcm(_Server):
    """POST /v1/projects/{project}/messages:send with a bearer token."""

    def __init__(self, *, project="clinic-test", token="fcm-token") -> None:
        super().__init__(_FcmHandler)
        self.project, self.token = project, token
        self.log = ProviderLog()


class _FcmHandler(_Handler):
    def do_POST(self) -> None:
        fake: FakeFcm = self.server.fake
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if self.headers.get("Authorization") != f"Bearer {fake.token}":
            self._json(401, {"error": {"status": "UNAUTHENTICATED"}})
            return
        if self.path != f"/v1/projects/{fake.project}/messages:send":
            self._json(404, {"error": {"status": "NOT_FOUND"}})
            return
        message = body["message"]
        if message["token"].startswith("dead-"):
            self._json(404, {"error": {"status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}})
            return
        key = message["data"]["reminder"]
        with fake.log.lock:
            # FCM has no idempotency: a repeated key is a second notification on the phone.
            seen = any(post["key"] == key and post["token"] == message["token"] for post in fake.log.posts)
            fake.log.posts.append({"key": key, "token": message["token"], "answer": "repeat" if seen else "created"})
            name = f"projects/{fake.project}/messages/{len(fake.log.created) + 1}"
            fake.log.created.append({"key": key, "token": message["token"], **message})
        self._json(200, {"name": name})


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _SmtpHandler:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": envelope.rcpt_tos, "data": envelope.content.decode()})
        return "250 OK"


class FakeSmtp:
    """A real SMTP server (aiosmtpd) on loopback."""

    def __init__(self) -> None:
        self.handler = _SmtpHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=free_port())

    @property
    def messages(self) -> list[dict]:
        return self.handler.messages

    @property
    def port(self) -> int:
        return self.controller.port

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
