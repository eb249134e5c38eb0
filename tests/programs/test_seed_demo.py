import datetime as dt

import pytest
from django.core.management import call_command
from django.db.models import Max, Min

from patients.models import Patient
from programs.models import AftercarePlan, Placement, StayExtension, Transition, TransitionKind
from programs.selectors import census
from scheduling import selectors as schedule
from scheduling.models import AttendanceRecord, Booking, Session, SessionSeries

pytestmark = pytest.mark.django_db


def _snapshot():
    return {
        model.__name__: (model.objects.count(), model.objects.aggregate(m=Max("updated_at"))["m"])
        for model in (
            Patient,
            Placement,
            Transition,
            AftercarePlan,
            StayExtension,
            SessionSeries,
            Session,
            Booking,
            AttendanceRecord,
        )
    }


def test_seed_demo_builds_every_phase_and_a_second_run_changes_nothing(today):
    call_command("seed_demo", "--no-progress")
    first = _snapshot()

    call_command("seed_demo", "--no-progress")

    assert _snapshot() == first
    assert Patient.objects.filter(mrn__startswith="DEMO-").count() == 40
    assert Transition.objects.filter(kind=TransitionKind.STEP_DOWN).exists()
    assert Transition.objects.filter(kind=TransitionKind.STEP_UP).exists()
    assert AftercarePlan.objects.exists() and StayExtension.objects.exists()
    rows = census(on=today)
    assert sum(r.patients for r in rows) == Placement.objects.on(today).count() > 20
    assert all(r.beds_occupied <= r.beds_in_service for r in rows)
    # Schedules: twelve weeks of sessions, past attendance, and patients to worry about.
    span = Session.objects.aggregate(first=Min("local_date"), last=Max("local_date"))
    assert (span["last"] - span["first"]).days >= 7 * 12 - 7
    assert Booking.objects.exclude(attendance="").filter(session__local_date__lt=today).exists()
    last_week = today - dt.timedelta(days=7)
    assert schedule.below_minimum(basis="attended", week_of=last_week)
    assert schedule.consecutive_absences()


def test_seed_demo_scales_up(today):
    call_command("seed_demo", "--no-progress", "--patients", "90")
    assert Patient.objects.count() == 90
