"""Settings for the test suite: the real PostgreSQL and Redis, a throwaway key, fast hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-key-never-used-outside-the-suite")
os.environ.setdefault("REDIS_URL", "redis://localhost:6379/15")
# The test client speaks plain HTTP; production redirects to HTTPS (see check --deploy test).
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from clinic.settings import *  # noqa: F403

# Hashing passwords slowly is a production virtue and a test-suite cost.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests serve no static files; whitenoise would warn about a missing STATIC_ROOT.
STATIC_ROOT = None

# pytest-django empties the database between transactional tests with `flush`, as the owner;
# this lets that flush (and only it) empty the history tables (clinic/management/commands/flush.py).
CLINIC_FLUSH_EMPTIES_HISTORY = True
