"""The figures on the admin's front page, each with the link to the list behind it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse

from clinic import access, clock
from programs import selectors, worklist_selectors
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
    # Issue 12: started sessions still without attendance, most recent first.
    groups_to_record: list = field(default_factory=list)


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
        board.census.append(
            {
                "program": program,
                "patients": row.patients,
                "beds_occupied": row.beds_occupied,
                "beds_in_service": row.beds_in_service,
                "occupancy": row.occupancy_percent,
                # The census card opens the program's own list (issue 12): a residential program's bed
                # board, an IOP program's roster; no stock changelist.
                "url": reverse("admin:programs_bed_board_program", args=[program.public_id])
                if program.is_residential
                else reverse("admin:programs_worklist_iop_roster", args=[program.public_id]),
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
    # The worklists (issue 12) judge each program on its own local today; the figures count the same rows.
    approaching = worklist_selectors.stays_nearing_discharge(sites=sites).count()
    step_down = worklist_selectors.stays_due_step_down(sites=sites).count()
    due = worklist_selectors.checkins_due(sites=sites).count()
    missed = worklist_selectors.checkins_missed(sites=sites).count()
    board.figures += [
        Figure("Admissions this week", admissions, reverse("admin:programs_worklist_admissions")),
        Figure("Discharges this week", discharges, reverse("admin:programs_worklist_discharges")),
        Figure(
            "Stays nearing planned discharge or program maximum",
            approaching,
            reverse("admin:programs_worklist_nearing_discharge"),
            "warn" if approaching else "",
            f"within {selectors.APPROACHING_DAYS} days",
        ),
        Figure(
            "Due a step-down decision",
            step_down,
            reverse("admin:programs_worklist_step_down"),
            "warn" if step_down else "",
            "past the program minimum",
        ),
        Figure(
            "Aftercare check-ins due",
            due,
            reverse("admin:programs_worklist_checkins", args=["due"]),
            "",
            "next 7 days",
        ),
        Figure(
            "Aftercare check-ins missed",
            missed,
            reverse("admin:programs_worklist_checkins", args=["missed"]),
            "warn" if missed else "",
            f"over {selectors.CHECKIN_GRACE_DAYS} days late",
        ),
    ]
    board.schedule, board.sessions_today = _schedule(sites=sites, today=today)
    board.groups_to_record = _groups_to_record(sites=sites)
    # Figures from other apps (the reminders app's delivery health and staff follow-up items) plug in here.
    for provider in FIGURE_PROVIDERS:
        board.figures += provider(user=user, sites=sites, today=today)
    past = selectors.daily_census(start=today - dt.timedelta(days=CHART_DAYS - 1), end=today, sites=sites)
    # The forecast after today (admissions, issue 14) continues the chart, drawn dashed.
    ahead = [row for forecast in CHART_FORECASTS for row in forecast(sites=sites, today=today, days=FORECAST_DAYS)]
    board.chart = _chart(past)
    if ahead and past:
        board.chart = _chart(past, forecast=ahead)
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


# ``forecast(sites=, today=, days=) -> [(day, residential, outpatient), ...]`` for the days after today,
# registered by the app that can forecast (admissions) from its AppConfig.ready().
FORECAST_DAYS = 14
CHART_FORECASTS: list = []


def register_chart_forecast(forecast) -> None:
    if forecast not in CHART_FORECASTS:
        CHART_FORECASTS.append(forecast)


def _schedule(*, sites: list[Site], today: dt.date) -> tuple[list[Figure], list]:
    from scheduling import selectors as schedule

    programs = Program.objects.filter(site__in=sites)
    sessions = list(schedule.sessions_today(sites=sites))
    now = clock.now()
    for session in sessions:
        session.started = session.starts_at <= now
    awaiting = schedule.sessions_awaiting_attendance(sites=sites).count()
    below_planned = schedule.iop_below_minimum(basis="scheduled", programs=programs).count()  # local weeks
    below_attended = schedule.iop_below_minimum(basis="attended", weeks_back=1, programs=programs).count()
    absences = schedule.iop_consecutive_absences(programs=programs).count()
    figures = [
        Figure("Today's sessions", len(sessions), reverse("admin:scheduling_worklist_sessions", args=["today"]),
               "", "at your sites"),
        Figure("Sessions awaiting attendance", awaiting,
               reverse("admin:scheduling_worklist_sessions", args=["awaiting"]),
               "warn" if awaiting else "", f"started in the last {schedule.AWAITING_ATTENDANCE_DAYS} days"),
        Figure("IOP below weekly minimum, scheduled this week", below_planned,
               reverse("admin:programs_worklist_below_minimum", args=["scheduled"]),
               "warn" if below_planned else "", "hours booked this week, full weeks only"),
        Figure("IOP below weekly minimum, attended last week", below_attended,
               reverse("admin:programs_worklist_below_minimum", args=["attended"]),
               "warn" if below_attended else "", "the last complete week"),
        Figure("Consecutive absences", absences,
               reverse("admin:programs_worklist_missed_sessions"),
               "warn" if absences else "", f"last {schedule.ABSENCE_RUN} recorded sessions missed"),
    ]  # fmt: skip
    return figures, sessions


GROUPS_TO_RECORD = 10


def _groups_to_record(*, sites: list[Site]) -> list:
    """Sessions of the last week that started and still lack attendance (the "awaiting" figure's list)."""
    from scheduling import selectors as schedule

    awaiting = schedule.sessions_awaiting_attendance(sites=sites, now=clock.now())
    return list(awaiting.select_related("series__program", "facilitator").order_by("-starts_at")[:GROUPS_TO_RECORD])


def _chart(rows: list[tuple[dt.date, int, int]], width: int = 600, height: int = 160, forecast=()) -> dict:
    """Polyline points for an inline SVG: no chart library and nothing loaded from elsewhere.

    ``forecast`` rows (the days after the last one) continue the lines on the same scale, drawn dashed.
    """
    top = max([max(r, o) for _, r, o in [*rows, *forecast]] + [1])
    step = width / max(len(rows) - 1, 1)

    def points(index: int, series=rows, offset: int = 0) -> str:
        return " ".join(
            f"{(offset + i) * step:.1f},{height - row[index] / top * (height - 10):.1f}" for i, row in enumerate(series)
        )

    extra = {}
    if forecast and rows:
        ahead = [rows[-1], *forecast]  # from today on, so the dashed line joins the solid one
        extra = {
            "forecast_residential": points(1, ahead, len(rows) - 1),
            "forecast_outpatient": points(2, ahead, len(rows) - 1),
            "forecast_last": forecast[-1][0],
            "view_width": round((len(rows) - 1 + len(forecast)) * step),
        }
    return {
        **extra,
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
