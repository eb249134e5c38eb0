"""Where the bench runs: its own database, and the environment of every process it starts."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

# Only the bench's own processes ever see this key; tokens minted with it are worthless elsewhere.
BENCH_SECRET_KEY = "bench-only-key-never-used-outside-make-bench"


def bench_database_url() -> str:
    """BENCH_DATABASE_URL, or DATABASE_URL's database with ``_bench`` appended (clinic -> clinic_bench)."""
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        return explicit
    # The bench wipes and seeds its own database, so it connects as the owner (issue 11's roles).
    base = os.environ.get("DATABASE_OWNER_URL") or os.environ.get(
        "DATABASE_URL", "postgres://postgres@localhost:5432/clinic"
    )
    parts = urlsplit(base)
    name = parts.path.lstrip("/") or "clinic"
    if not name.endswith("_bench"):
        name = f"{name}_bench"
    return urlunsplit(parts._replace(path=f"/{name}"))


def bench_environment() -> dict[str, str]:
    """Production-like settings (DEBUG off) on the bench database, plain HTTP on loopback, raw views on."""
    env = dict(os.environ)
    env.pop("DATABASE_OWNER_URL", None)
    env.update(
        DATABASE_URL=bench_database_url(),
        DJANGO_SETTINGS_MODULE="clinic.settings",
        SECRET_KEY=BENCH_SECRET_KEY,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        SECURE_SSL_REDIRECT="0",
        BENCH_VIEWS="1",
        # Tokens are minted once before the load; they must outlive the run.
        JWT_ACCESS_MINUTES="240",
        LOG_LEVEL="WARNING",
    )
    return env


def setup_django() -> None:
    """Point this process at the bench database and start Django (before any model import)."""
    os.environ.update(bench_environment())
    os.environ.pop("DATABASE_OWNER_URL", None)
    import django

    django.setup()


@dataclass(frozen=True)
class Scale:
    """The dataset's size: 1.0 is the issue's provider (20 sites, 5,000 patients, 500 series)."""

    factor: float

    @property
    def sites(self) -> int:
        return max(2, round(20 * self.factor))

    @property
    def patients(self) -> int:
        return max(100, round(5000 * self.factor))

    @property
    def series(self) -> int:
        # At least the three tracks of every IOP program (two per site).
        return max(6 * self.sites, round(500 * self.factor))

    weeks: int = 12

    def describe(self) -> str:
        return f"{self.sites} sites, {self.patients:,} patients, {self.series} series, {self.weeks} weeks"
