"""Planning the outbox: set-based, idempotent, called by the services that create and cancel targets."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from programs import services as program_services
from programs.models import AftercareCheckIn, Discharge
from reminders import services
from reminders.models import Reason, Reminder, ReminderStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_discharge_plans_reminders_for_its_checkins_once_committed(make_checkin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        checkin = make_checkin(time_zone="America/Chicago")
    assert len(callbacks) == 1
    rows = Reminder.objects.filter(checkin=checkin)
    assert {(r.kind, r.channel) for r in rows} == {
        (kind, channel) for kind in ("day_before", "morning_of") for channel in ("sms", "email", "push")
    }
    # In the patient's own zone: 10:00 the day before, 08:30 the morning of.
    chicago = ZoneInfo("America/Chicago")
    morning = rows.get(kind="morning_of", channel="sms")
    assert morning.due_at.astimezone(chicago).time() == dt.time(8, 30)
    assert morning.due_at.astimezone(chicago).date() == checkin.due_on
    assert morning.event_at.astimezone(chicago) == dt.datetime.combine(
        checkin.due_on + dt.timedelta(days=1), dt.time(0), tzinfo=chicago
    )
    assert all(r.status == ReminderStatus.PENDING for r in rows)
    # Sent at its due time; one already due when planned is sendable from then on, not "late".
    assert all(r.send_after == r.due_at or r.due_at < r.send_after <= r.created_at for r in rows)


def test_planning_is_idempotent_and_the_sweep_fills_gaps(make_checkin):
    checkin = make_checkin()
    services.plan_for(target="checkin", ids=[checkin.pk])
    services.plan_for(target="checkin", ids=[checkin.pk])
    assert Reminder.objects.filter(checkin=checkin).count() == 6
    Reminder.objects.filter(checkin=checkin, channel="email").delete()
    assert services.sweep()["checkin"] >= 6
    assert Reminder.objects.filter(checkin=checkin).count() == 6
    assert len({r.idempotency_key for r in Reminder.objects.all()}) == Reminder.objects.count()


def test_reversed_discharge_cancels_pending_reminders_in_the_same_transaction(make_checkin):
    checkin = make_checkin()
    services.plan_for(target="checkin", ids=[checkin.pk])
    program_services.reverse_discharge(
        discharge=Discharge.objects.get(aftercare_plan__checkins=checkin),
        reason="Discharged the wrong patient",
        reversed_by=UserFactory(),
    )
    rows = Reminder.objects.filter(checkin=checkin)
    assert {(r.status, r.status_reason) for r in rows} == {(ReminderStatus.CANCELLED, Reason.TARGET_GONE)}
    # The sweep neither revives them nor plans new ones for a cancelled check-in.
    services.sweep()
    assert set(rows.values_list("status", flat=True)) == {ReminderStatus.CANCELLED}


def test_sweep_cancels_reminders_of_checkins_changed_elsewhere(make_checkin):
    checkin = make_checkin()
    services.plan_for(target="checkin", ids=[checkin.pk])
    AftercareCheckIn.objects.filter(pk=checkin.pk).update(status=AftercareCheckIn.Status.COMPLETED)
    assert services.sweep()["cancelled"] == 6


def test_past_checkins_get_no_reminders(make_checkin, today):
    checkin = make_checkin(due_on=today - dt.timedelta(days=3))
    services.plan_for(target="checkin", ids=[checkin.pk])
    assert not Reminder.objects.filter(checkin=checkin).exists()


def test_the_database_refuses_a_reminder_without_target_or_with_a_duplicate_key(make_checkin):
    checkin = make_checkin()
    services.plan_for(target="checkin", ids=[checkin.pk])
    existing = Reminder.objects.filter(checkin=checkin).first()
    fields = {f: getattr(existing, f) for f in ("patient_id", "kind", "channel", "due_at", "event_at", "send_after")}
    with pytest.raises(IntegrityError, match="reminder_active_has_one_target"), transaction.atomic():
        Reminder.objects.create(**fields, idempotency_key="orphan")
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(**fields, checkin=checkin, idempotency_key=existing.idempotency_key)
