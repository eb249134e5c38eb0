"""The utilization-review worklists (issue 12): the five UR figures open these tabs, not the stock lists.

Reviews due, authorizations ending, days not covered, denials awaiting follow-up and stepped down without an
authorization: each row with what decides the job (payer, authorization number, units used and left, the
dates that matter, read against the program's local today) and the step it needs, which is one of the
authorization admin's own forms (request, record the payer's decision, record a concurrent review, here also
an appeal) calling ``utilization.services`` and coming back here. Membership is the selectors' (the figures
count the same rows); a role that may not take a step gets no button, and the step's URL answers 403.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest
from django.urls import path, reverse

from clinic import access, clock
from clinic.models import AuditCategory
from clinic.worklist import Flag, Row, Worklist, action_for, day, days, list_view, register_titles, tabs_of
from programs.models import Placement, Program
from utilization import roles, selectors
from utilization.models import (
    Authorization,
    AuthorizationStatus,
    ConcurrentReview,
    Coverage,
    PlacementUnderReview,
    ReviewOutcome,
)

VIEW = "utilization.view_authorization"
REQUEST = "utilization.add_authorization"
DECIDE = "utilization.change_authorization"
REVIEW = "utilization.add_concurrentreview"

URL = "admin:utilization_worklist"

LISTS = {
    # which: (title, intro, empty)
    "reviews-due": (
        "UR reviews due",
        "Approved authorizations whose next concurrent review is due today or tomorrow, or overdue: call the "
        "payer, then record the review (more units, pending, denied, peer-to-peer).",
        "No concurrent review is due today or tomorrow.",
    ),
    "ending": (
        "Authorizations ending",
        f"Approved authorizations ending within {selectors.ENDING_SOON_DAYS} days while the patient is still in "
        "that level of care: ask for more units and record the review.",
        f"No authorization ends within {selectors.ENDING_SOON_DAYS} days.",
    ),
    "days-not-covered": (
        "Levels of care with days not covered",
        "Levels of care with days in care that need an authorization and have none approved: request one, or "
        "record the payer's decision on the request already made.",
        "Every day in care is covered or needs no authorization.",
    ),
    "denials": (
        "Denials awaiting follow-up",
        f"Denials over {selectors.DENIAL_FOLLOW_UP_DAYS} days old with no appeal, peer-to-peer or later approval "
        "and no change of level since: appeal or ask for a peer-to-peer, and record it.",
        "Every denial has been followed up.",
    ),
    "needs-authorization": (
        "Stepped down, needs authorization",
        "Patients stepped down to an outpatient level whose coverage needs an authorization and none is "
        "requested or approved: request it.",
        "Every step-down has its authorization requested.",
    ),
}

register_titles({URL: lambda which: LISTS[which][0] if which in LISTS else None})


def worklist_url(which: str) -> str:
    return reverse(URL, args=[which])


def _relative(on: dt.date, today: dt.date) -> str:
    """A date as a UR coordinator plans with it: the date, and how far it is from the program's today."""
    gap = (on - today).days
    if gap == 0:
        when = "today"
    elif gap == 1:
        when = "tomorrow"
    elif gap > 1:
        when = f"in {days(gap)}"
    else:
        when = f"{days(-gap)} ago"
    return f"{day(on)} ({when})"


def _usage(auth: Authorization) -> str:
    if auth.units_approved is None:
        return "—"
    left = auth.units_approved - auth.units_used
    return f"{auth.units_used} of {auth.units_approved} {auth.unit_kind}, {max(left, 0)} left"


def _number(auth: Authorization) -> str:
    """The authorization as the payer knows it: its number (or the request's date), level and payer."""
    number = auth.number or f"requested {day(auth.requested_on)}"
    return f"{number} (ASAM {auth.asam_level}) · {auth.coverage.payer.name}"


def _form_url(name: str, pk: int | None = None, **initial) -> str:
    url = reverse(f"admin:utilization_authorization_{name}", args=[pk] if pk is not None else [])
    return f"{url}?{urlencode(initial)}" if initial else url


# --- Lists of authorizations: reviews due, ending, denials ------------------------------------------


def _level_program() -> Coalesce:
    """The program of the authorization's level of care in its episode (the latest such placement)."""
    placements = Placement.objects.filter(episode=OuterRef("episode"), cancelled_at__isnull=True).order_by(
        "-start_on", "-id"
    )
    at_level = placements.filter(program__asam_level=OuterRef("asam_level"))
    return Coalesce(Subquery(at_level.values("program_id")[:1]), Subquery(placements.values("program_id")[:1]))


def _authorizations(request: HttpRequest, which: str, today: dt.date) -> list[Authorization]:
    select = {"reviews-due": selectors.reviews_due, "ending": selectors.ending_soon}
    if which == "denials":
        chosen = selectors.denials_without_follow_up(on=today)
        # What the payer gave as the reason: the denying review's note, else the decision's (the last note).
        denied_review = ConcurrentReview.objects.filter(
            authorization=OuterRef("pk"), outcome=ReviewOutcome.DENIED
        ).order_by("-reviewed_on", "-id")
        chosen = chosen.annotate(denial_note=Subquery(denied_review.values("notes")[:1]))
        order = ["denied_on", "id"]
    else:
        chosen = select[which](on=today)
        order = ["next_review_on", "id"] if which == "reviews-due" else ["covered_through", "id"]
    chosen = selectors.with_units_used(access.scope_queryset(chosen, user=request.user), on=today)
    return list(
        chosen.annotate(level_program_id=_level_program()).select_related("patient", "coverage__payer").order_by(*order)
    )


def _programs(ids) -> dict[int, Program]:
    return Program.objects.select_related("site").in_bulk(set(ids))


def _authorization_rows(request: HttpRequest, which: str, back: str, today: dt.date) -> list[Row]:
    user = request.user
    authorizations = _authorizations(request, which, today)
    programs = _programs(auth.level_program_id for auth in authorizations)
    may_review = user.has_perm(REVIEW)
    see_notes = roles.can_see_authorization_notes(user)
    rows = []
    for auth in authorizations:
        program = programs[auth.level_program_id]
        local_today = clock.local_today(program.time_zone)
        flags: list[Flag] = []
        if which == "denials":
            reason = auth.denial_note or (auth.notes.splitlines()[-1] if auth.notes else "")
            cells = [
                _number(auth),
                _relative(auth.denied_on, local_today),
                (reason or "no reason recorded") if see_notes else "—",
            ]
            initial = {"outcome": ReviewOutcome.APPEALED}
            actions = action_for(may_review, "Appeal or follow up", _form_url("review", auth.pk, **initial), back=back)
        else:
            through = auth.covered_through
            cells = [
                _number(auth),
                _usage(auth),
                _relative(through, local_today),
                _relative(auth.next_review_on, local_today) if auth.next_review_on else "none set",
            ]
            if auth.next_review_on and auth.next_review_on < local_today:
                flags.append(Flag("Review overdue"))
            if through < local_today:
                flags.append(Flag("Approved days have run out"))
            elif auth.units_approved is not None and auth.units_used >= auth.units_approved:
                flags.append(Flag(f"Approved {auth.unit_kind} used up"))
            actions = action_for(may_review, "Record review", _form_url("review", auth.pk), back=back)
        rows.append(
            Row(patient=auth.patient, program=program, cells=cells, flags=flags, actions=actions, key=str(auth.pk))
        )
    return rows


# --- Lists of levels of care: days not covered, needs authorization ---------------------------------


def _primary_payers(placements: list[Placement], today: dt.date) -> dict[int, Coverage]:
    """Each patient's primary coverage in force today (rank 1 first), in one query."""
    coverages = (
        Coverage.objects.filter(patient__in={p.patient_id for p in placements}, effective_on__lte=today)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .select_related("payer")
        .order_by("patient_id", "rank")
        .distinct("patient_id")
    )
    return {coverage.patient_id: coverage for coverage in coverages}


def _pending_requests(placements: list[Placement]) -> dict[tuple[int, str], Authorization]:
    """Requests still awaiting the payer for each placement's episode and level, the latest first, one query."""
    requested = Authorization.objects.filter(
        episode__in={p.episode_id for p in placements}, status=AuthorizationStatus.REQUESTED
    ).order_by("-requested_on", "-id")
    pending: dict[tuple[int, str], Authorization] = {}
    for auth in requested:
        pending.setdefault((auth.episode_id, auth.asam_level), auth)
    return pending


def _placement_rows(request: HttpRequest, which: str, back: str, today: dt.date) -> list[Row]:
    user = request.user
    if which == "days-not-covered":
        uncovered = selectors.uncovered_days_by_placement(on=today)
        chosen = PlacementUnderReview.objects.filter(pk__in=list(uncovered))
    else:
        uncovered = {}
        chosen = selectors.needs_authorization(on=today)
    placements = list(
        access.scope_queryset(chosen, user=user).select_related("patient", "program__site").order_by("start_on", "id")
    )
    payers = _primary_payers(placements, today)
    pending = _pending_requests(placements) if which == "days-not-covered" else {}
    may_request, may_decide = user.has_perm(REQUEST), user.has_perm(DECIDE)
    rows = []
    for placement in placements:
        program = placement.program
        local_today = clock.local_today(program.time_zone)
        coverage = payers.get(placement.patient_id)
        payer = coverage.payer.name if coverage else "no coverage in force"
        count, first = uncovered.get(placement.pk, (0, placement.start_on))
        # The request form filled in: the episode, its level, the first day to cover and the primary coverage.
        request_url = _form_url(
            "add", episode=placement.episode_id, asam_level=program.asam_level, start_on=first,
            **({"coverage": coverage.pk} if coverage else {}),
        )  # fmt: skip
        flags: list[Flag] = []
        if which == "days-not-covered":
            waiting = pending.get((placement.episode_id, program.asam_level))
            if waiting is not None:
                state = f"requested {day(waiting.requested_on)}, awaiting the payer"
                actions = action_for(may_decide, "Record decision", _form_url("decision", waiting.pk), back=back)
            else:
                state = "none requested"
                actions = action_for(may_request, "Request authorization", request_url, back=back)
            cells = [payer, f"{days(count)}, from {day(first)}", state]
            if placement.ended_on is None:
                flags.append(Flag("Still in care"))
        else:
            in_level = f"Day {(local_today - placement.start_on).days + 1}"
            cells = [payer, _relative(placement.start_on, local_today), in_level]
            actions = action_for(may_request, "Request authorization", request_url, back=back)
        rows.append(
            Row(
                patient=placement.patient, program=program, cells=cells, flags=flags, actions=actions,
                key=str(placement.public_id),
            )
        )  # fmt: skip
    return rows


COLUMNS = {
    # The payer goes with the authorization's number: one column fewer for a tablet's width.
    "reviews-due": ["Authorization", "Units", "Approved through", "Review due"],
    "ending": ["Authorization", "Units", "Ends", "Next review"],
    "denials": ["Authorization", "Denied", "Payer's reason"],
    "days-not-covered": ["Payer", "Not covered", "Authorization"],
    "needs-authorization": ["Payer", "Stepped down", "In this level"],
}


def ur_worklist(request: HttpRequest, which: str) -> Worklist:
    if which not in LISTS:
        raise Http404("No such list.")
    title, intro, empty = LISTS[which]
    back = worklist_url(which)
    # The same "today" as the dashboard's figures, so a figure and its list count the same rows.
    today = clock.today()
    if which in ("days-not-covered", "needs-authorization"):
        rows = _placement_rows(request, which, back, today)
    else:
        rows = _authorization_rows(request, which, back, today)
    return Worklist(
        slug=f"ur-{which}",
        title=title,
        intro=intro,
        columns=COLUMNS[which],
        rows=rows,
        empty=empty,
        tabs=tabs_of(LISTS, URL, which),
    )


def authorization_worklist_urls(model_admin: admin.ModelAdmin) -> list:
    """Hooked into the authorizations' admin URLs, before the stock "<path:object_id>/" pages."""
    return [
        path(
            "worklist/<str:which>/",
            list_view(model_admin, permission=VIEW, build=ur_worklist, category=AuditCategory.PAYER),
            name="utilization_worklist",
        )
    ]
