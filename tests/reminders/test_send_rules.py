"""The rules applied just before sending, on the real database with a fixed clock."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from patients.services import revoke_messaging_consent
from programs.models import AftercareCheckIn
from reminders import dispatch, services
from reminders.content import SMS_MAX_CHARS
from reminders.models import PushDevice, Reason, Reminder, ReminderStatus, SmsOptOut
from tests.reminders.conftest import reminder_for

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def deliver(now: dt.datetime) -> dispatch.BatchResult:
    return dispatch.Dispatcher(now=now).deliver(dispatch.claim_due(limit=100, now=now))


def at(day: dt.date, hour: int, minute: int = 0, zone: str = "America/New_York") -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.fixture
def planned(make_checkin, today, locmem_channels):
    def make(**patient_fields):
        checkin = make_checkin(due_on=today + dt.timedelta(days=2), **patient_fields)
        services.plan_for(target="checkin", ids=[checkin.pk], now=at(today, 9))
        return checkin

    return make


def test_due_reminders_go_out_on_every_allowed_channel(planned, today, locmem_channels):
    checkin = planned()
    PushDevice.objects.create(patient=checkin.plan.patient, token="device-1", platform="ios")
    result = deliver(at(today + dt.timedelta(days=1), 10, 5))  # day_before is due at 10:00
    assert result.sent == 3
    assert {m.channel for m in locmem_channels} == {"sms", "email", "push"}
    sms = reminder_for(checkin, channel="sms", kind="day_before")
    assert sms.status == ReminderStatus.SENT and sms.provider_message_id and sms.attempts == 1
    assert sms.sent_at is not None and sms.lease_expires_at is None
    # Nothing is due twice: a second pass (another beat) sends nothing.
    assert deliver(at(today + dt.timedelta(days=1), 10, 6)).sent == 0
    assert len(locmem_channels) == 3


@pytest.mark.parametrize(
    ("setup", "channel", "reason"),
    [
        (lambda p: revoke_messaging_consent(patient=p), "sms", Reason.NO_CONSENT),
        (lambda p: type(p).objects.filter(pk=p.pk).update(sms_allowed=False), "sms", Reason.CHANNEL_NOT_ALLOWED),
        (lambda p: type(p).objects.filter(pk=p.pk).update(email=""), "email", Reason.NO_ADDRESS),
        (lambda p: None, "push", Reason.NO_ADDRESS),  # no registered device
        (lambda p: SmsOptOut.objects.create(phone=p.phone, keyword="STOP"), "sms", Reason.OPTED_OUT),
    ],
    ids=["revoked-consent", "sms-not-allowed", "no-email", "no-device", "opted-out"],
)
def test_send_time_rules_suppress_with_a_reason(planned, today, setup, channel, reason, locmem_channels):
    checkin = planned()
    setup(checkin.plan.patient)  # after planning: the rules are read at send time
    deliver(at(today + dt.timedelta(days=1), 10, 5))
    row = reminder_for(checkin, channel=channel, kind="day_before")
    assert (row.status, row.status_reason) == (ReminderStatus.SUPPRESSED, reason)
    assert channel not in {m.channel for m in locmem_channels}


def test_confidential_patients_get_only_a_neutral_push(planned, today, locmem_channels):
    checkin = planned(confidential_communication=True)
    PushDevice.objects.create(patient=checkin.plan.patient, token="device-1", platform="android")
    deliver(at(today + dt.timedelta(days=1), 10, 5))
    assert reminder_for(checkin, channel="sms", kind="day_before").status_reason == Reason.CONFIDENTIAL
    assert reminder_for(checkin, channel="email", kind="day_before").status_reason == Reason.CONFIDENTIAL
    [push] = locmem_channels
    assert push.channel == "push" and push.title == "Reminder"
    assert push.body == "You have a reminder. Open the app for details."


def test_a_target_gone_at_send_time_is_cancelled(planned, today, locmem_channels):
    checkin = planned()
    # Changed without going through cancel_for: the dispatcher's own re-check catches it.
    AftercareCheckIn.objects.filter(pk=checkin.pk).update(status=AftercareCheckIn.Status.CANCELLED)
    deliver(at(today + dt.timedelta(days=1), 10, 5))
    assert set(Reminder.objects.filter(checkin=checkin, kind="day_before").values_list("status_reason", flat=True)) == {
        Reason.TARGET_GONE
    }
    assert locmem_channels == []


def test_quiet_hours_follow_each_patients_own_time_zone(planned, today, settings, locmem_channels):
    settings.REMINDERS_CHANNELS = ["sms"]
    east = planned(time_zone="America/New_York")
    west = planned(time_zone="America/Los_Angeles")
    day_before = today + dt.timedelta(days=1)
    # 21:30 in New York is 18:30 in Los Angeles: one is inside quiet hours, the other is not.
    now = at(day_before, 21, 30, "America/New_York")
    Reminder.objects.filter(kind="day_before").update(send_after=now - dt.timedelta(minutes=1))
    result = deliver(now)
    assert (result.sent, result.deferred) == (1, 1)
    assert reminder_for(west, channel="sms", kind="day_before").status == ReminderStatus.SENT
    deferred = reminder_for(east, channel="sms", kind="day_before")
    assert deferred.status == ReminderStatus.PENDING and deferred.attempts == 0
    assert deferred.send_after == at(day_before + dt.timedelta(days=1), 8, 0, "America/New_York")


def test_quiet_hours_ending_after_the_event_suppress(planned, today, locmem_channels):
    checkin = planned()
    row = reminder_for(checkin, channel="sms", kind="day_before")
    due_day = today + dt.timedelta(days=1)
    # An appointment at 07:30: a reminder due at 22:30 the night before would only go at 08:00, too late.
    Reminder.objects.filter(pk=row.pk).update(
        send_after=at(due_day, 22, 0), event_at=at(due_day + dt.timedelta(1), 7, 30)
    )
    deliver(at(due_day, 22, 30))
    row.refresh_from_db()
    assert (row.status, row.status_reason) == (ReminderStatus.SUPPRESSED, Reason.QUIET_HOURS)


def test_same_day_texts_are_merged_into_one_message(make_checkin, today, settings, locmem_channels):
    settings.REMINDERS_CHANNELS = ["sms"]
    first = make_checkin(due_on=today + dt.timedelta(days=2))
    second = make_checkin(due_on=today + dt.timedelta(days=2), patient=None)
    # The same patient with two check-ins on one day (two programs' aftercare).
    patient = first.plan.patient
    type(second.plan).objects.filter(pk=second.plan_id).update(patient=patient)
    services.plan_for(target="checkin", ids=[first.pk, second.pk], now=at(today, 9))
    deliver(at(today + dt.timedelta(days=1), 10, 5))
    [message] = locmem_channels
    assert len(message.body) <= SMS_MAX_CHARS and "reminders for" in message.body
    rows = Reminder.objects.filter(kind="day_before")
    assert set(rows.values_list("status", flat=True)) == {ReminderStatus.SENT}
    assert rows.filter(merged_into__isnull=False).count() == 1
    assert len(set(rows.values_list("provider_message_id", flat=True))) == 1


def test_at_most_one_text_a_day_and_three_a_week(planned, today, settings, locmem_channels):
    settings.REMINDERS_CHANNELS = ["sms"]
    checkin = planned()
    patient = checkin.plan.patient
    day_before = today + dt.timedelta(days=1)
    deliver(at(day_before, 10, 5))
    assert len(locmem_channels) == 1
    # A reminder planned later the same day (a new appointment) would be a second text that day.
    late = reminder_for(checkin, channel="sms", kind="morning_of")
    Reminder.objects.filter(pk=late.pk).update(send_after=at(day_before, 15), due_at=at(day_before, 15))
    sent = reminder_for(checkin, channel="sms", kind="day_before")
    Reminder.objects.filter(pk=sent.pk).update(cleared_at=at(day_before, 10, 5))
    deliver(at(day_before, 15, 1))
    late.refresh_from_db()
    assert (late.status, late.status_reason) == (ReminderStatus.SUPPRESSED, Reason.DAILY_CAP)
    # Weekly: three texts on three earlier days of the last seven, a fourth day is refused.
    Reminder.objects.filter(pk=late.pk).update(status="sent", status_reason="", sent_at=timezone.now())
    for days_ago, row in ((3, late), (5, sent)):
        Reminder.objects.filter(pk=row.pk).update(cleared_at=at(day_before - dt.timedelta(days=days_ago), 10))
    third = planned()  # another check-in of the same patient, on another day
    type(third.plan).objects.filter(pk=third.plan_id).update(patient=patient)
    Reminder.objects.filter(checkin=third).update(patient=patient)
    Reminder.objects.filter(pk=reminder_for(third, channel="sms", kind="day_before").pk).update(
        status="sent", sent_at=timezone.now(), cleared_at=at(day_before - dt.timedelta(days=1), 10)
    )
    fourth = reminder_for(third, channel="sms", kind="morning_of")
    deliver(at(today + dt.timedelta(days=2), 8, 35))
    fourth.refresh_from_db()
    assert (fourth.status, fourth.status_reason) == (ReminderStatus.SUPPRESSED, Reason.WEEKLY_CAP)
    assert len(locmem_channels) == 1


def test_a_claimed_row_is_invisible_to_a_second_claim_and_its_lease_expiry_hands_it_over(planned, today):
    planned()
    now = at(today + dt.timedelta(days=1), 10, 5)
    first = dispatch.claim_due(limit=100, now=now)
    assert len(first) == 3
    assert dispatch.claim_due(limit=100, now=now) == []  # a second beat, or the same task delivered twice
    later = now + dt.timedelta(seconds=dispatch.settings.REMINDERS_LEASE_SECONDS + 1)
    second = dispatch.claim_due(limit=100, now=later)
    assert sorted(pk for pk, _ in second) == sorted(pk for pk, _ in first)
    assert all(attempt == 2 for _, attempt in second)
    # The first worker, back from the dead, cannot record over the newer claim (fenced on the attempt).
    stale = dispatch._Held(Reminder.objects.get(pk=first[0][0]), first[0][1])
    assert dispatch._fenced(stale, status=ReminderStatus.SENT, sent_at=now) is False
