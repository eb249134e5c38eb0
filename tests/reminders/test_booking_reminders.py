"""Session bookings as reminder targets: planned with the booking, cancelled with it, re-checked at send time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F
from django.utils import timezone

from patients import services as patient_services
from programs import services as journey
from reminders import dispatch
from reminders.models import FollowUpItem, Reason, Reminder, ReminderStatus
from scheduling import services
from scheduling.models import Attendance, Booking, Session
from tests.scheduling.conftest import enroll_with_history, make_series, monday_weeks_ago

pytestmark = pytest.mark.django_db

HORIZON = dt.timedelta(hours=72)


@pytest.fixture
def daily_group(iop, clinician, today):
    """A daily evening group from today on, sessions generated for the horizon."""
    series = make_series(iop, clinician, rule="FREQ=DAILY", starts_on=today, duration_minutes=60)
    services.generate_sessions(series_ids=[series.pk], from_on=today)
    return series


@pytest.fixture
def booked(daily_group, patient, iop, clinician, today):
    journey.enroll_in_iop(patient=patient, program=iop, start_on=today - dt.timedelta(days=7), enrolled_by=clinician)
    return Booking.objects.active().filter(patient=patient).select_related("session")


def _deliver(now=None):
    now = now or timezone.now()
    return dispatch.Dispatcher(now=now).deliver(dispatch.claim_due(limit=100, now=now))


def _latest_planned(booked) -> Booking:
    """The booking furthest ahead inside the horizon: none of its reminders is due yet."""
    return max((b for b in booked if Reminder.objects.filter(booking=b).exists()), key=lambda b: b.session.starts_at)


def _make_due(reminders):
    """Only these reminders are in play: they become due, every other pending one is set aside."""
    ids = [r.pk for r in reminders]
    Reminder.objects.filter(status=ReminderStatus.PENDING).exclude(pk__in=ids).update(status=ReminderStatus.CANCELLED)
    Reminder.objects.filter(pk__in=ids).update(send_after=timezone.now() - dt.timedelta(minutes=1))


def test_enrolling_plans_24h_and_2h_reminders_for_sessions_inside_the_horizon_only(booked):
    now = timezone.now()
    # Today's session may already have started (after 18:00 in New York): it gets no reminders.
    inside = [b for b in booked if now < b.session.starts_at <= now + HORIZON]
    outside = [b for b in booked if b.session.starts_at > now + HORIZON]
    assert inside and outside, "the daily group should have sessions on both sides of the horizon"

    for booking in inside:
        rows = Reminder.objects.filter(booking=booking)
        assert {(r.kind, r.channel) for r in rows} == {(k, c) for k in ("24h", "2h") for c in ("sms", "email", "push")}
        assert {r.event_at for r in rows} == {booking.session.starts_at}
        assert all(f"{booking.session.starts_at:%Y%m%dT%H%MZ}" in r.idempotency_key for r in rows)
    assert not Reminder.objects.filter(booking__in=outside).exists()


def test_the_sweep_moves_the_window_along_without_duplicates(booked):
    later = timezone.now() + dt.timedelta(days=3)
    before = Reminder.objects.count()
    from reminders import services as reminder_services

    reminder_services.plan_for(target="booking", now=later)
    reminder_services.plan_for(target="booking", now=later)

    assert Reminder.objects.count() > before
    assert Reminder.objects.values("idempotency_key").distinct().count() == Reminder.objects.count()


def test_cancelling_a_booking_cancels_its_pending_reminders(booked):
    booking = _latest_planned(booked)

    services.cancel_booking(booking=booking)

    assert set(Reminder.objects.filter(booking=booking).values_list("status", "status_reason")) == {
        (ReminderStatus.CANCELLED, Reason.TARGET_GONE)
    }


def test_moving_a_session_replaces_its_reminders_with_ones_for_the_new_time(booked):
    booking = _latest_planned(booked)
    old_start = booking.session.starts_at
    # An hour earlier, so the new time stays inside the planning horizon at every instant
    # (an hour later can fall beyond it when the test runs shortly after 17:00 in New York).
    new_start = old_start - dt.timedelta(hours=1)

    services.move_session(session=booking.session, starts_at=new_start, reason="Room change")

    rows = Reminder.objects.filter(booking=booking)
    assert set(rows.filter(event_at=old_start).values_list("status", flat=True)) == {ReminderStatus.CANCELLED}
    assert rows.filter(event_at=new_start, status=ReminderStatus.PENDING).count() == 6


def test_discharge_cancels_the_reminders_of_future_sessions(booked, patient, clinician, today):
    episode = booked.first().placement.episode

    journey.discharge(episode=episode, on=today + dt.timedelta(days=1), disposition="completed", decided_by=clinician)

    future = Reminder.objects.filter(booking__patient=patient, event_at__gte=timezone.now() + dt.timedelta(days=1))
    assert future.exists()
    assert (
        not future.filter(status=ReminderStatus.PENDING)
        .filter(booking__session__local_date__gte=today + dt.timedelta(days=1))
        .exists()
    )


def test_send_time_recheck_catches_a_booking_cancelled_behind_the_planner(booked, locmem_channels):
    booking = _latest_planned(booked)
    reminders = list(Reminder.objects.filter(booking=booking, kind="24h"))
    _make_due(reminders)
    # Written around the services (no reminder cancellation): only the send-time check stands between.
    Booking.objects.filter(pk=booking.pk).update(cancelled_at=timezone.now(), cancel_reason="staff")

    _deliver()

    assert set(Reminder.objects.filter(pk__in=[r.pk for r in reminders]).values_list("status", flat=True)) == {
        ReminderStatus.CANCELLED
    }
    assert locmem_channels == []


def test_send_time_recheck_catches_a_session_moved_behind_the_planner(booked, locmem_channels):
    booking = _latest_planned(booked)
    reminders = list(Reminder.objects.filter(booking=booking, kind="24h"))
    _make_due(reminders)
    later = dt.timedelta(hours=2)
    Session.objects.filter(pk=booking.session_id).update(starts_at=F("starts_at") + later, ends_at=F("ends_at") + later)

    _deliver()

    assert set(Reminder.objects.filter(pk__in=[r.pk for r in reminders]).values_list("status", flat=True)) == {
        ReminderStatus.CANCELLED
    }
    assert locmem_channels == []


def test_a_revoked_consent_stops_the_next_reminder(booked, patient, locmem_channels):
    booking = _latest_planned(booked)
    reminders = list(Reminder.objects.filter(booking=booking, kind="24h", channel="email"))
    _make_due(reminders)

    patient_services.revoke_messaging_consent(patient=patient)
    _deliver()

    reminder = Reminder.objects.get(pk=reminders[0].pk)
    assert (reminder.status, reminder.status_reason) == (ReminderStatus.SUPPRESSED, Reason.NO_CONSENT)
    assert locmem_channels == []


# Noon in New York on a Wednesday: outside the patient's quiet hours (21:00-08:00), so the reminder may go.
@pytest.mark.instant("2027-01-06T17:00:00+00:00")
def test_a_due_booking_reminder_goes_out_discreetly(booked, patient, locmem_channels):
    booking = _latest_planned(booked)
    _make_due(list(Reminder.objects.filter(booking=booking, kind="24h", channel="email")))

    _deliver()

    assert len(locmem_channels) == 1
    text = (locmem_channels[0].subject + " " + locmem_channels[0].body).lower()
    for word in ("iop", "intensive", "outpatient", "therapy", "group", "evening", booking.session.series.name.lower()):
        assert word not in text


# --- missed sessions ------------------------------------------------------------------------


@pytest.fixture
def past_sessions(iop, patient, clinician, today):
    """Four past sessions of a group the patient has attended for three weeks."""
    start = monday_weeks_ago(today, 3)
    series = make_series(iop, clinician, starts_on=start)
    enroll_with_history(patient=patient, program=iop, start_on=start, enrolled_by=clinician)
    return list(Session.objects.filter(series=series, starts_at__lt=timezone.now()).order_by("starts_at")[:4])


def _mark(session, patient, attendance, clinician):
    services.record_attendance(
        session=session, marks=[services.Mark(patient_id=patient.pk, attendance=attendance)], recorded_by=clinician
    )


def test_the_second_absence_in_a_row_opens_one_staff_follow_up_and_sends_nothing(
    past_sessions, patient, clinician, locmem_channels
):
    first, second, third, _ = past_sessions
    _mark(first, patient, Attendance.ABSENT, clinician)
    assert not FollowUpItem.objects.exists()

    _mark(second, patient, Attendance.ABSENT, clinician)
    item = FollowUpItem.objects.get()
    assert (item.kind, item.patient, item.status) == (FollowUpItem.Kind.MISSED_SESSIONS, patient, "open")

    _mark(third, patient, Attendance.ABSENT, clinician)
    assert FollowUpItem.objects.count() == 1  # the third absence does not open a second item
    assert locmem_channels == []


def test_an_excused_absence_neither_counts_nor_breaks_the_run(past_sessions, patient, clinician):
    first, second, third, _ = past_sessions
    _mark(first, patient, Attendance.ABSENT, clinician)
    _mark(second, patient, Attendance.EXCUSED, clinician)
    assert not FollowUpItem.objects.exists()
    _mark(third, patient, Attendance.ABSENT, clinician)
    assert FollowUpItem.objects.count() == 1


def test_presence_breaks_the_run(past_sessions, patient, clinician):
    first, second, third, _ = past_sessions
    _mark(first, patient, Attendance.ABSENT, clinician)
    _mark(second, patient, Attendance.PRESENT, clinician)
    _mark(third, patient, Attendance.ABSENT, clinician)
    assert not FollowUpItem.objects.exists()


def test_the_sql_planner_writes_exactly_what_the_python_reference_plans(booked, make_checkin, today, settings):
    """``plan_for`` runs each target's ``plan_sql``; ``plan()`` is the readable reference it must equal, row for row."""
    from reminders import services as reminder_services
    from reminders.targets import TARGETS

    make_checkin(due_on=today + dt.timedelta(days=1), time_zone="America/Chicago")
    make_checkin(due_on=today + dt.timedelta(days=2), time_zone="Asia/Kolkata")  # a half-hour offset
    settings.REMINDERS_CHANNELS = ["sms", "email"]
    now = timezone.now()
    Reminder.objects.all().delete()
    for name, kind in TARGETS.items():
        expected = {
            (p.target_id, p.patient_id, p.kind, p.due_at, p.event_at, max(p.due_at, now), f"{p.key}:{channel}", channel)
            for p in kind.plan(ids=None, now=now)
            for channel in settings.REMINDERS_CHANNELS
        }
        assert expected, name
        assert reminder_services.plan_for(target=name, now=now) == len(expected)
        rows = Reminder.objects.filter(**{f"{kind.fk_field}__isnull": False})
        written = {
            (getattr(r, f"{kind.fk_field}_id"), r.patient_id, r.kind, r.due_at, r.event_at, r.send_after,
             r.idempotency_key, r.channel)
            for r in rows
        }  # fmt: skip
        assert written == expected, name
        assert {r.status for r in rows} == {ReminderStatus.PENDING}
        # Planning again offers the same rows and writes none.
        assert reminder_services.plan_for(target=name, now=now) == len(expected)
        assert rows.count() == len(expected)


def test_the_database_keeps_one_open_missed_sessions_item_per_patient_and_program(patient, iop, clinician):
    from django.db import IntegrityError, transaction

    from reminders import services as reminding

    first = FollowUpItem.objects.create(patient=patient, program=iop, kind=FollowUpItem.Kind.MISSED_SESSIONS)
    with pytest.raises(IntegrityError, match="followup_one_open_missed_sessions"), transaction.atomic():
        FollowUpItem.objects.create(patient=patient, program=iop, kind=FollowUpItem.Kind.MISSED_SESSIONS)

    reminding.resolve_follow_up(item=first, resolved_by=clinician)
    FollowUpItem.objects.create(patient=patient, program=iop, kind=FollowUpItem.Kind.MISSED_SESSIONS)
    assert FollowUpItem.objects.filter(status="open").count() == 1
