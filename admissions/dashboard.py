"""The waitlist worklist on the admin's front page (registered with ``clinic.dashboard.register_figures``)."""

from __future__ import annotations

import datetime as dt

from admissions import selectors
from clinic import clock
from clinic.dashboard import Figure, _changelist


def figures(*, user, sites, today: dt.date) -> list[Figure]:
    now = clock.now()
    waiting = selectors.waiting(sites=sites).count()
    expiring = selectors.reservations_expiring(now=now, sites=sites).count()
    not_contacted = selectors.referrals_not_contacted(now=now, sites=sites).count()
    return [
        Figure("Waiting for admission", waiting, _changelist("admissions", "referral", worklist="waiting")),
        Figure(
            "Reservations expiring in 48 h",
            expiring,
            _changelist("admissions", "reservation", worklist="expiring"),
            "warn" if expiring else "",
        ),
        Figure(
            "Referrals not contacted in 2 days",
            not_contacted,
            _changelist("admissions", "referral", worklist="not_contacted"),
            "warn" if not_contacted else "",
        ),
    ]
