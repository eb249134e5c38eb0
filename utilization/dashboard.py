"""The UR figures on the admin's front page (registered with ``clinic.dashboard.register_figures``).

Each opens its worklist (``utilization.admin_worklists``), not the stock authorization or placement list,
and is counted over the same rows that list shows (the selector, scoped to what the user may see).
"""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from clinic import access
from clinic.dashboard import Figure
from utilization import selectors


def _worklist(which: str) -> str:
    return reverse("admin:utilization_worklist", args=[which])


def figures(*, user, sites, today: dt.date) -> list[Figure]:
    if not user.has_perm("utilization.view_concurrentreview"):
        return []

    def count(queryset) -> int:
        return access.scope_queryset(queryset, user=user).count()

    due = count(selectors.reviews_due(on=today))
    ending = count(selectors.ending_soon(on=today))
    denials = count(selectors.denials_without_follow_up(on=today))
    uncovered = count(selectors.days_not_covered(on=today))
    needs = count(selectors.needs_authorization(on=today))

    def warn(n: int) -> str:
        return "warn" if n else ""

    return [
        Figure("UR reviews due", due, _worklist("reviews-due"), warn(due),
               "today or tomorrow"),
        Figure("Authorizations ending", ending, _worklist("ending"), warn(ending),
               f"within {selectors.ENDING_SOON_DAYS} days, patient still in that level"),
        Figure("Levels of care with days not covered", uncovered,
               _worklist("days-not-covered"), warn(uncovered),
               "days in care without an approved authorization"),
        Figure("Denials awaiting follow-up", denials, _worklist("denials"),
               warn(denials), f"no appeal or decision within {selectors.DENIAL_FOLLOW_UP_DAYS} days"),
        Figure("Stepped down, needs authorization", needs,
               _worklist("needs-authorization"), warn(needs),
               "IOP without an authorization requested"),
    ]  # fmt: skip
