"""Reads behind the shift's worklists (issue 12): each row with the columns that decide it.

Every "today" here is the program's own local date, computed in SQL from one instant
(``clinic.clock.now()``, passed as a parameter): a board spanning New York and Auckland
judges each stay on its own calendar, in one query whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import DateField, DateTimeField, ExpressionWrapper, F, Func, Q, QuerySet, Value
from django.db.models.functions import Cast

from clinic import clock
from programs import selectors
from programs.models import AftercareCheckIn, Discharge, Placement, PlacementKind
from programs.selectors import APPROACHING_DAYS, CHECKIN_GRACE_DAYS


def local_date(zone_path: str, now: dt.datetime) -> Cast:
    """The date at ``now`` in the IANA zone held by ``zone_path`` (PostgreSQL's ``timezone(zone, instant)``)."""
    instant = Value(now, output_field=DateTimeField())
    return Cast(Func(F(zone_path), instant, function="timezone", output_field=DateTimeField()), DateField())


def _plus_days(expression, days: int) -> ExpressionWrapper:
    return ExpressionWrapper(expression + Value(days), output_field=DateField())


def _sites(queryset: QuerySet, sites, path: str) -> QuerySet:
    return queryset if sites is None else queryset.filter(**{f"{path}__in": sites})


def stays_in_care(*, sites=None, now: dt.datetime | None = None) -> QuerySet[Placement]:
    """Residential stays in force on their program's local today, with that date and the program's limits."""
    now = now or clock.now()
    stays = (
        Placement.objects.not_cancelled()
        .filter(kind=PlacementKind.RESIDENTIAL)
        .annotate(
            local_on=local_date("program__time_zone", now),
            min_reached_on=ExpressionWrapper(
                F("start_on") + F("program__residential_min_days"), output_field=DateField()
            ),
            max_end_on=ExpressionWrapper(F("start_on") + F("program__residential_max_days"), output_field=DateField()),
        )
        .filter(start_on__lte=F("local_on"))
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=F("local_on")))
    )
    return _sites(stays, sites, "program__site")


def stays_due_step_down(*, sites=None, now: dt.datetime | None = None) -> QuerySet[Placement]:
    """Stays past their program's minimum length on the program's local today: a step-down decision is due."""
    return stays_in_care(sites=sites, now=now).filter(min_reached_on__lte=F("local_on"))


def stays_nearing_discharge(*, sites=None, now: dt.datetime | None = None) -> QuerySet[Placement]:
    """Stays whose planned discharge, or the program maximum, is within a week (or already passed)."""
    soon = _plus_days(F("local_on"), APPROACHING_DAYS)
    return stays_in_care(sites=sites, now=now).filter(Q(planned_end_on__lte=soon) | Q(max_end_on__lte=soon))


@dataclass(frozen=True)
class StayRow:
    """A stay on a worklist, as on the program's local today."""

    stay: Placement
    on: dt.date
    max_end_on: dt.date

    @property
    def days_in_care(self) -> int:
        """Day N of the stay (the admission day is day 1)."""
        return (self.on - self.stay.start_on).days + 1

    @property
    def past_minimum_by(self) -> int:
        """Days past the program minimum (0 on the day it is reached; negative before)."""
        return (self.on - self.stay.start_on).days - self.stay.program.residential_min_days

    @property
    def days_left(self) -> int:
        """Days to the planned discharge (negative once it has passed)."""
        return (self.stay.planned_end_on - self.on).days

    @property
    def days_to_maximum(self) -> int:
        return (self.max_end_on - self.on).days

    @property
    def past_planned_end(self) -> bool:
        """Still in the bed after the planned discharge: not plainly active, someone must act."""
        return self.stay.planned_end_on < self.on

    @property
    def ends_at_maximum(self) -> bool:
        """The program maximum comes before (or with) the planned discharge."""
        return self.max_end_on <= self.stay.planned_end_on


def stay_rows(queryset: QuerySet[Placement]) -> list[StayRow]:
    """Rows of a stay worklist in one query, the most urgent first (earliest planned discharge)."""
    stays = queryset.select_related("patient", "program__site", "bed").order_by("planned_end_on", "start_on", "id")
    return [StayRow(stay=stay, on=stay.local_on, max_end_on=stay.max_end_on) for stay in stays]


# --- aftercare check-ins -------------------------------------------------------------------------


def _open_checkins(*, sites, now: dt.datetime | None) -> QuerySet[AftercareCheckIn]:
    checkins = AftercareCheckIn.objects.filter(
        status=AftercareCheckIn.Status.SCHEDULED, plan__status="active"
    ).annotate(local_on=local_date("plan__program__time_zone", now or clock.now()))
    return _sites(checkins, sites, "plan__program__site")


def checkins_due(*, sites=None, now: dt.datetime | None = None) -> QuerySet[AftercareCheckIn]:
    """Open check-ins due from the program's local today to a week ahead."""
    return _open_checkins(sites=sites, now=now).filter(
        due_on__gte=F("local_on"), due_on__lte=_plus_days(F("local_on"), 7)
    )


def checkins_missed(*, sites=None, now: dt.datetime | None = None) -> QuerySet[AftercareCheckIn]:
    """Open check-ins more than the grace days late on the program's local today: someone should call."""
    return _open_checkins(sites=sites, now=now).filter(due_on__lt=_plus_days(F("local_on"), -CHECKIN_GRACE_DAYS))


@dataclass(frozen=True)
class CheckInRow:
    checkin: AftercareCheckIn
    on: dt.date

    @property
    def days_late(self) -> int:
        """Days past the due date (0 or less when not yet due)."""
        return (self.on - self.checkin.due_on).days


def checkin_rows(queryset: QuerySet[AftercareCheckIn]) -> list[CheckInRow]:
    checkins = queryset.select_related("plan__patient", "plan__program__site").order_by("due_on", "id")
    return [CheckInRow(checkin=checkin, on=checkin.local_on) for checkin in checkins]


# --- admissions and discharges of the week ---------------------------------------------------------


def admission_rows(*, start: dt.date, end: dt.date, sites=None, now: dt.datetime | None = None) -> list[Placement]:
    """The residential admissions the dashboard counts (``admissions_between``), with each program's local today."""
    stays = (
        selectors.admissions_between(start=start, end=end, sites=sites)
        .filter(kind=PlacementKind.RESIDENTIAL)
        .annotate(local_on=local_date("program__time_zone", now or clock.now()))
    )
    return list(stays.select_related("patient", "program__site", "bed").order_by("start_on", "id"))


def discharge_rows(*, start: dt.date, end: dt.date, sites=None) -> list[Discharge]:
    """The discharges the dashboard counts (``discharges_between``), with the stay or enrollment they ended."""
    discharges = selectors.discharges_between(start=start, end=end, sites=sites).select_related(
        "ended_placement__patient", "ended_placement__program__site", "ended_placement__bed"
    )
    return list(discharges.order_by("effective_on", "id"))
