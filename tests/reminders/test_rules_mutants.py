"""The send rules' exact boundaries, decided in the patient's own zone (mutation testing, issue 18).

Each rule is the module's whole answer, a ``Decision`` of "send", "defer" (until when) or
"suppress" (with the reason staff see), checked at the minute on either side of every boundary.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from patients.models import Channel
from reminders.models import Reason
from reminders.rules import Decision, channel_rules, local_day_end, quiet_hours_end, sms_window_starts, timing_rules
from tests.factories import PatientFactory

UTC = dt.UTC
LA = ZoneInfo("America/Los_Angeles")


def local(day: dt.date, hour: int, minute: int = 0, zone=LA) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)


def patient(**fields):
    fields.setdefault("time_zone", "America/Los_Angeles")
    return PatientFactory.build(**fields)


DAY = dt.date(2027, 1, 13)  # a Wednesday in winter (PST, UTC-8)


@pytest.mark.parametrize(
    ("hour", "minute", "ends"),
    [
        (20, 59, None),
        (21, 0, local(DAY + dt.timedelta(days=1), 8)),
        (23, 59, local(DAY + dt.timedelta(days=1), 8)),
        (0, 0, local(DAY, 8)),
        (7, 59, local(DAY, 8)),
        (8, 0, None),
        (12, 0, None),
    ],
)
def test_quiet_hours_that_wrap_midnight_start_at_start_and_end_at_end(hour, minute, ends):
    p = patient()  # 21:00-08:00, the default
    got = quiet_hours_end(now=local(DAY, hour, minute).astimezone(UTC), patient=p)
    assert got == ends
    if ends is not None:
        assert got.utcoffset() == dt.timedelta(0)  # an instant in UTC, as everything is stored


@pytest.mark.parametrize(
    ("hour", "minute", "ends"),
    [
        (12, 59, None),
        (13, 0, local(DAY, 15)),
        (14, 59, local(DAY, 15)),
        (15, 0, None),
        (23, 0, None),
    ],
)
def test_quiet_hours_within_one_day_start_at_start_and_end_at_end(hour, minute, ends):
    p = patient(quiet_hours_start=dt.time(13, 0), quiet_hours_end=dt.time(15, 0))
    assert quiet_hours_end(now=local(DAY, hour, minute).astimezone(UTC), patient=p) == ends


def test_equal_start_and_end_mean_no_quiet_hours():
    p = patient(quiet_hours_start=dt.time(9, 0), quiet_hours_end=dt.time(9, 0))
    for hour in (0, 9, 12, 23):
        assert quiet_hours_end(now=local(DAY, hour).astimezone(UTC), patient=p) is None


def test_quiet_hours_end_at_the_local_wall_clock_across_a_dst_change():
    # 2027-03-14: clocks in Los Angeles go forward at 02:00; quiet hours from the 13th end at 08:00 PDT.
    p = patient()
    got = quiet_hours_end(now=local(dt.date(2027, 3, 13), 22).astimezone(UTC), patient=p)
    assert got == dt.datetime(2027, 3, 14, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "channel", "opted_out", "has_devices", "decision"),
    [
        ({"messaging_consent_given_at": None}, Channel.SMS, False, True, Decision("suppress", Reason.NO_CONSENT)),
        ({"sms_allowed": False}, Channel.SMS, False, True, Decision("suppress", Reason.CHANNEL_NOT_ALLOWED)),
        ({"email_allowed": False}, Channel.EMAIL, False, True, Decision("suppress", Reason.CHANNEL_NOT_ALLOWED)),
        ({"push_allowed": False}, Channel.PUSH, False, True, Decision("suppress", Reason.CHANNEL_NOT_ALLOWED)),
        ({"confidential_communication": True}, Channel.SMS, False, True, Decision("suppress", Reason.CONFIDENTIAL)),
        ({"confidential_communication": True}, Channel.EMAIL, False, True, Decision("suppress", Reason.CONFIDENTIAL)),
        ({"confidential_communication": True}, Channel.PUSH, False, True, Decision("send")),
        ({"phone": ""}, Channel.SMS, False, True, Decision("suppress", Reason.NO_ADDRESS)),
        ({}, Channel.SMS, True, True, Decision("suppress", Reason.OPTED_OUT)),
        ({}, Channel.EMAIL, True, False, Decision("send")),  # an SMS opt-out says nothing about e-mail
        ({"email": ""}, Channel.EMAIL, False, True, Decision("suppress", Reason.NO_ADDRESS)),
        ({}, Channel.PUSH, False, False, Decision("suppress", Reason.NO_ADDRESS)),
        ({}, Channel.SMS, False, False, Decision("send")),
        ({"phone": ""}, Channel.EMAIL, False, False, Decision("send")),
    ],
)
def test_channel_rules_decide_each_case_with_its_reason(fields, channel, opted_out, has_devices, decision):
    p = patient(**fields)
    assert channel_rules(channel=channel, patient=p, opted_out=opted_out, has_devices=has_devices) == decision


def test_timing_a_reminder_at_or_after_its_event_is_too_late():
    p = patient()
    event = local(DAY, 12).astimezone(UTC)
    assert timing_rules(now=event, event_at=event, patient=p) == Decision("suppress", Reason.TOO_LATE)
    before = event - dt.timedelta(minutes=1)
    assert timing_rules(now=before, event_at=event, patient=p) == Decision("send")


def test_timing_inside_quiet_hours_defers_to_their_end_unless_the_event_comes_first():
    p = patient()
    now = local(DAY, 22).astimezone(UTC)
    morning = local(DAY + dt.timedelta(days=1), 8).astimezone(UTC)
    later = morning + dt.timedelta(minutes=1)
    assert timing_rules(now=now, event_at=later, patient=p) == Decision("defer", until=morning)
    # The event at the very minute quiet hours end: the reminder would arrive with it, too late.
    assert timing_rules(now=now, event_at=morning, patient=p) == Decision("suppress", Reason.QUIET_HOURS)


def test_sms_caps_count_from_the_patients_local_midnight_and_a_rolling_week():
    p = patient()
    # 2027-01-14 03:30 UTC is still the 13th (19:30) in Los Angeles.
    now = dt.datetime(2027, 1, 14, 3, 30, tzinfo=UTC)
    day_start, week_start = sms_window_starts(now=now, patient=p)
    assert day_start == local(DAY, 0)
    assert week_start == now - dt.timedelta(days=7)


def test_the_local_day_ends_at_the_patients_next_midnight():
    p = patient()
    now = dt.datetime(2027, 1, 14, 3, 30, tzinfo=UTC)  # the 13th, 19:30 in Los Angeles
    assert local_day_end(now=now, patient=p) == local(DAY + dt.timedelta(days=1), 0)
