"""The one clock of the application.

Every "now" and "today" the application uses comes from here, so a test (or a
`faketime` run of the whole suite, see the README) moves all of them at once.
Queries that compare with the present take the instant as a parameter from
`now()`; the few that must use PostgreSQL's own clock (leases shared between
workers) say so where they do.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone


def now() -> dt.datetime:
    """The current instant, aware, in UTC."""
    return timezone.now()


def today() -> dt.date:
    """Today's date in the installation's zone (settings.TIME_ZONE, UTC by default).

    Prefer `local_today(zone)` wherever a site, program or patient zone is known:
    "today" for a group in Los Angeles is not UTC's today.
    """
    # The default zone, not the active one: staff requests activate the user's zone for display
    # (clinic.localtime), and "today" must not change with who is asking.
    return timezone.localdate(now(), timezone.get_default_timezone())


def local_today(zone: str | ZoneInfo) -> dt.date:
    """Today's date in an IANA zone (a program's or a patient's)."""
    return local_now(zone).date()


def local_now(zone: str | ZoneInfo) -> dt.datetime:
    """The current instant as a wall-clock time in an IANA zone."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return now().astimezone(tz)
