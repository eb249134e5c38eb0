"""The figures on the admin's front page, each with the link to the list behind it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse

from clinic import access, clock
from programs import selectors
from programs.models import PlacementKind, Program, Site

CHART_DAYS = 30


@dataclass
class Figure:
    label: str
    value: int | str
    url: str
    tone: str = ""  # "warn" draws the eye; "" is neutral
    detail: str = ""


@dataclass
class Dashboard:
    sites: list[Site]
    census: list[dict] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    chart: dict = field(default_factory=dict)
    # Staff admin panel (issue 6): sessions and attendance
    schedule: list[Figure] = field(default_factory=list)
    sessions_today: list = field(default_factory=list)


def _changelist(app: str, model: str, **params) -> str:
    url = reverse(f"admin:{app}_{model}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def build(*, user, today: dt.date) -> Dashboard:
    sites = list(access.visible_sites(user).order_by("name"))
    board = Dashboard(sites=sites)
    week_start = today - dt.timedelta(days=today.weekday())
    week_end = week_start + dt.timedelta(days=7)

    for row in selectors.census(on=today, sites=sites):
        program = row.program
        model = "residentialstay" if program.is_residential else "iopenrollment"
        board.census.append(
            {
                "program": program,
                "patients": row.patients,
                "beds_occupied": row.beds_occupied,
                "beds_in_service": row.beds_in_service,
                "occupancy": row.occupancy_percent,
                "url": _changelist("programs", model, program__id__exact=program.pk, worklist="active"),
            }
        )

    # Residential admissions only: the figure links to the residential stays' list, which holds no
    # IOP enrollments (on a week with a direct IOP enrollment the two disagreed; issue 11).
    admissions = (
        selectors.admissions_between(start=week_start, end=week_end, sites=sites)
        .filter(kind=PlacementKind.RESIDENTIAL)
        .count()
    )
    discharges = selectors.discharges_between(start=week_start, end=week_end, sites=sites).count()
    approaching = selectors.stays_approaching_end(on=today, sites=sites).count()
    step_down = selectors.stays_due_step_down_decision(on=today, sites=sites).count()
    due = selectors.checkins_due(on=today, sites=sites).count()
    missed = selectors.checkins_missed(on=today, sites=sites).count()
    board.figures += [
        Figure(
            "Admissions this week", admissions, _changelist("programs", "residentialstay", worklist="admitted_week")
        ),
        Figure("Discharges this week", discharges, _changelist("programs", "discharge", worklist="week")),
        Figure(
            "Stays nearing planned discharge or program maximum",
            approaching,
            _changelist("programs", "residentialstay", worklist="approaching"),
            "warn" if approaching else "",
            f"within {selectors.APPROACHING_DAYS} days",
        ),
        Figure(
            "Due a step-down decision",
            step_down,
            _changelist("programs", "residentialstay", worklist="step_down_due"),
            "warn" if step_down else "",
            "past the program minimum",
        ),
        Figure(
            "Aftercare check-ins due",
            due,
            _changelist("programs", "aftercarecheckin", worklist="due"),
            "",
            "next 7 days",
        ),
        Figure(
            "Aftercare check-ins missed",
            missed,
            _changelist("programs", "aftercarecheckin", worklist="missed"),
            "warn" if missed else "",
            f"over {selectors.CHECKIN_GRACE_DAYS} days late",
        ),
    ]
    board.schedule, board.sessions_today = _schedule(sites=sites, today=today)
    # Figures from other apps (the reminders app's delivery health and staff follow-up items) plug in here.
    for provider in FIGURE_PROVIDERS:
        board.figures += provider(user=user, sites=sites, today=today)
    board.chart = _chart(
        selectors.daily_census(start=today - dt.timedelta(days=CHART_DAYS - 1), end=today, sites=sites)
    )
    return board


# --- Staff admin panel (issue 6): sessions and attendance ------------------------------------------
# Figure providers from apps built separately: ``provider(user=, sites=, today=) -> list[Figure]``,
# registered with ``register_figures`` from an AppConfig.ready(). Each figure must link to a list
# filtered by a WorklistFilter that calls the same selector (tests/clinic/test_dashboard.py checks).
# Left for the reminders app: "Reminder delivery health" (due, sent today, failed) and
# "Open staff follow-up items".
FIGURE_PROVIDERS: list = []


def register_figures(provider) -> None:
    if provider not in FIGURE_PROVIDERS:
        FIGURE_PROVIDERS.append(provider)


def _schedule(*, sites: list[Site], today: dt.date) -> tuple[list[Figure], list]:
    from scheduling import selectors as schedule

    programs = Program.objects.filter(site__in=sites)
    sessions = list(schedule.sessions_today(sites=sites))
    now = clock.now()
    for session in sessions:
        session.started = session.starts_at <= now
    awaiting = schedule.sessions_awaiting_attendance(sites=sites).count()
    below_planned = schedule.iop_below_minimum(basis="scheduled", programs=programs).count()  # local weeks
    last_week = today - dt.timedelta(days=7)
    below_attended = schedule.iop_below_minimum(basis="attended", week_of=last_week, programs=programs).count()
    absences = schedule.iop_consecutive_absences(programs=programs).count()
    figures = [
        Figure("Today's sessions", len(sessions), _changelist("scheduling", "session", worklist="today"),
               "", "at your sites"),
        Figure("Sessions awaiting attendance", awaiting, _changelist("scheduling", "session", worklist="awaiting"),
               "warn" if awaiting else "", f"started in the last {schedule.AWAITING_ATTENDANCE_DAYS} days"),
        Figure("IOP below weekly minimum, scheduled this week", below_planned,
               _changelist("programs", "iopenrollment", worklist="below_minimum_scheduled"),
               "warn" if below_planned else "", "hours booked this week, full weeks only"),
        Figure("IOP below weekly minimum, attended last week", below_attended,
               _changelist("programs", "iopenrollment", worklist="below_minimum_attended"),
               "warn" if below_attended else "", f"week of {schedule.week_start(last_week):%b %-d}"),
        Figure("Consecutive absences", absences,
               _changelist("programs", "iopenrollment", worklist="consecutive_absences"),
               "warn" if absences else "", f"last {schedule.ABSENCE_RUN} recorded sessions missed"),
    ]  # fmt: skip
    return figures, sessions


def _chart(rows: list[tuple[dt.date, int, int]], width: int = 600, height: int = 160) -> dict:
    """Polyline points for an inline SVG: no chart library and nothing loaded from elsewhere."""
    top = max([max(r, o) for _, r, o in rows] + [1])
    step = width / max(len(rows) - 1, 1)

    def points(index: int) -> str:
        return " ".join(f"{i * step:.1f},{height - row[index] / top * (height - 10):.1f}" for i, row in enumerate(rows))

    return {
        "width": width,
        "height": height,
        "residential": points(1),
        "outpatient": points(2),
        "max": top,
        "first": rows[0][0] if rows else None,
        "last": rows[-1][0] if rows else None,
        "today_residential": rows[-1][1] if rows else 0,
        "today_outpatient": rows[-1][2] if rows else 0,
    }
