"""Times and dates as staff read them (issue 12): local time, the locale's format, the zone when it matters.

Everything is stored in UTC. On a staff page a time is shown

- in the zone it belongs to (a group's start in its program's zone) or else in the user's zone, the
  zone of the sites they work at, which ``StaffTimeZoneMiddleware`` activates for the request, so the
  stock admin's own columns and read-only fields follow it too;
- with the zone's abbreviation only when it differs from the user's ("6 p.m. PST" for a Pacific group
  read in New York, "6 p.m." in Los Angeles);
- in the locale's formats (``DATE_FORMAT``, ``DATETIME_FORMAT``, ``TIME_FORMAT``): one date format on
  every page. ISO 8601 is for exports only.

Templates use the filters of ``clinic_time`` (``{% load clinic_time %}``); Python (messages, admin
columns) uses ``day``, ``when`` and ``admin_column`` here.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone

from clinic import access

SESSION_KEY = "clinic_time_zone"


def _zone(zone: str | dt.tzinfo | None) -> dt.tzinfo:
    if zone is None:
        return timezone.get_current_timezone()
    if isinstance(zone, dt.tzinfo):
        return zone
    return ZoneInfo(zone)


def zone_of_user(user) -> str:
    """The IANA zone a staff member reads times in: the zone most of their sites share.

    Ties go to the first site by name; a user with no site reads the installation's zone.
    """
    zones = Counter(access.visible_sites(user).order_by("name").values_list("time_zone", flat=True))
    if not zones:
        return settings.TIME_ZONE
    return zones.most_common(1)[0][0]


def remember_zone(sender, request, user, **kwargs) -> None:
    """At login: keep the user's zone in the session, so later requests do not look it up."""
    if request is not None and hasattr(request, "session") and access.is_staff_member(user):
        request.session[SESSION_KEY] = zone_of_user(user)


class StaffTimeZoneMiddleware:
    """Activates the signed-in staff member's zone for the staff panel (stock admin columns follow it).

    The panel only: the API answers in UTC whoever calls it (DRF renders instants in the active zone).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.panel_prefix = None

    def __call__(self, request):
        if self.panel_prefix is None:
            self.panel_prefix = reverse("admin:index")
        user = getattr(request, "user", None)
        in_panel = request.path.startswith(self.panel_prefix)
        if in_panel and user is not None and user.is_authenticated and access.is_staff_member(user):
            name = request.session.get(SESSION_KEY)
            if name is None:  # a session from before this was kept: look it up once
                name = request.session[SESSION_KEY] = zone_of_user(user)
            try:
                timezone.activate(ZoneInfo(name))
            except (ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def differs_from_user(value: dt.datetime, zone: str | dt.tzinfo | None) -> bool:
    """Whether ``zone`` reads ``value`` differently from the user's zone (offset or abbreviation)."""
    here = value.astimezone(timezone.get_current_timezone())
    there = value.astimezone(_zone(zone))
    return here.utcoffset() != there.utcoffset() or here.tzname() != there.tzname()


def day(value: dt.date | dt.datetime | None, zone: str | dt.tzinfo | None = None) -> str:
    """A date in the locale's format; for an instant, its date in ``zone`` (default: the user's)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = local_date(value, zone)
    return formats.date_format(value, "DATE_FORMAT")


def local_date(value: dt.datetime, zone: str | dt.tzinfo | None = None) -> dt.date:
    """The date an instant falls on in ``zone`` (default: the user's)."""
    return value.astimezone(_zone(zone)).date()


def when(value: dt.datetime | None, zone: str | dt.tzinfo | None = None, *, with_date: bool = True) -> str:
    """An instant in ``zone`` (default: the user's) in the locale's format, with the zone when not the user's."""
    if value is None:
        return ""
    local = value.astimezone(_zone(zone))
    text = formats.date_format(local, "DATETIME_FORMAT" if with_date else "TIME_FORMAT")
    if zone is not None and differs_from_user(value, zone):
        text = f"{text} {local.tzname()}"
    return text


def admin_column(
    field: str,
    *,
    zone: Callable[[object], str] | None = None,
    description: str | None = None,
    with_date: bool = True,
) -> Callable:
    """A ``list_display`` callable showing a datetime field in a row's zone (``zone(obj)``) or the user's."""

    def column(obj) -> str:
        return when(getattr(obj, field), zone(obj) if zone else None, with_date=with_date)

    column.__name__ = field  # the column's CSS class: field-starts_at, column-starts_at
    # What ``admin.display`` sets, without importing the admin into a module models use.
    column.short_description = description or field.replace("_", " ")
    column.admin_order_field = field
    return column
