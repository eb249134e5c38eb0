"""The waitlist figures on the admin's front page (registered with ``clinic.dashboard.register_figures``).

Each opens its worklist (``admissions.admin_worklists``), not the stock referral or reservation list.
"""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from admissions import selectors
from clinic import clock
from clinic.dashboard import Figure
from programs.models import Program


def figures(*, user, sites, today: dt.date) -> list[Figure]:
    now = clock.now()
    waiting = selectors.waiting(sites=sites).count()
    expiring = selectors.reservations_expiring(now=now, sites=sites).count()
    not_contacted = selectors.referrals_not_contacted(now=now, sites=sites).count()
    return [
        Figure("Waiting for admission", waiting, reverse("admin:admissions_worklist_waiting")),
        Figure(
            "Reservations expiring in 48 h",
            expiring,
            reverse("admin:admissions_worklist_expiring"),
            "warn" if expiring else "",
        ),
        Figure(
            "Referrals not contacted in 2 days",
            not_contacted,
            reverse("admin:admissions_worklist_not_contacted"),
            "warn" if not_contacted else "",
        ),
    ]


def forecast(*, sites, today: dt.date, days: int) -> list[tuple[dt.date, int, int]]:
    """(day, residential, outpatient) expected after today: planned discharges kept, held reservations admitted."""
    programs = list(Program.objects.filter(site__in=sites, is_active=True))
    rows = selectors.census_over_time(
        programs=programs,
        start=today + dt.timedelta(days=1),
        end=today + dt.timedelta(days=days),
        today=today,
        now=clock.now(),
    )
    by_day: dict[dt.date, list[int]] = {}
    for row in rows:
        counts = by_day.setdefault(row.day, [0, 0])
        counts[0 if row.residential else 1] += row.expected
    return [(day, residential, outpatient) for day, (residential, outpatient) in sorted(by_day.items())]
