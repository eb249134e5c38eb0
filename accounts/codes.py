"""Making, hashing and reading the codes (no database here)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

# No 0/O, 1/I/L: read aloud at a desk or typed from a text, they are easy to confuse.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
HALF = 4


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(2 * HALF))
    return f"{raw[:HALF]}-{raw[HALF:]}"


def normalize(code: str) -> str:
    """What a person typed, as the code it is meant to be: case, spaces and dashes do not matter."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _keyed(label: str, text: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{label}:{text}".encode(), hashlib.sha256).hexdigest()


def code_hash(code: str) -> str:
    return _keyed("accounts.code", normalize(code))


def lookup_hash(code: str) -> str:
    return _keyed("accounts.lookup", normalize(code)[:HALF])


def looks_like_a_code(code: str) -> bool:
    text = normalize(code)
    return len(text) == 2 * HALF and all(ch in ALPHABET for ch in text)


def login_key(login: str) -> str:
    """A throttle key for a typed login that does not keep the login itself (it may be an e-mail)."""
    return _keyed("accounts.login", login.strip().lower())
