"""Quiet hours to the minute, in the patient's own zone (issue 18: each boundary is pinned).

The rule reads only the instant it is given and the patient's zone and window, so these tests
name their instants outright and hold at any real hour.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from patients.models import Patient
from reminders.models import Reason
from reminders.rules import quiet_hours_end, timing_rules

UTC = dt.UTC
NEW_YORK = "America/New_York"


def local(day: str, clock: str, zone: str = NEW_YORK) -> dt.datetime:
    """A wall-clock instant in ``zone`` (aware, in UTC)."""
    naive = dt.datetime.fromisoformat(f"{day}T{clock}")
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def patient(start: str = "21:00", end: str = "08:00", zone: str = NEW_YORK) -> Patient:
    return Patient(
        time_zone=zone, quiet_hours_start=dt.time.fromisoformat(start), quiet_hours_end=dt.time.fromisoformat(end)
    )


# The usual window, 21:00-08:00, wraps midnight. A Wednesday in January (no DST nearby).
@pytest.mark.parametrize(
    ("clock", "ends_at"),
    [
        ("20:59", None),  # one minute before: send
        ("20:59:59", None),
        ("21:00", ("2027-01-07", "08:00")),  # the first quiet minute: wait for tomorrow morning
        ("23:59", ("2027-01-07", "08:00")),
        ("00:00", ("2027-01-06", "08:00")),  # after midnight: this morning
        ("07:59", ("2027-01-06", "08:00")),  # the last quiet minute
        ("07:59:59", ("2027-01-06", "08:00")),
        ("08:00", None),  # quiet hours are over
        ("12:00", None),
    ],
)
def test_the_wrapping_window_starts_at_21_00_and_ends_at_08_00_to_the_minute(clock, ends_at):
    # 00:00-07:59 on the 6th is the night of the 5th; 20:59-23:59 on the 6th is that evening.
    day = "2027-01-06"
    expected = local(*ends_at) if ends_at else None
    assert quiet_hours_end(now=local(day, clock), patient=patient()) == expected


@pytest.mark.parametrize(
    ("clock", "quiet"),
    [("12:59", False), ("13:00", True), ("14:30", True), ("15:59", True), ("16:00", False), ("23:00", False)],
)
def test_a_window_that_does_not_cross_midnight_holds_between_its_ends(clock, quiet):
    # A patient who works nights and sleeps 13:00-16:00.
    ends = quiet_hours_end(now=local("2027-01-06", clock), patient=patient("13:00", "16:00"))
    assert ends == (local("2027-01-06", "16:00") if quiet else None)


def test_equal_start_and_end_mean_no_quiet_hours():
    for clock in ("00:00", "03:00", "21:00", "23:59"):
        assert quiet_hours_end(now=local("2027-01-06", clock), patient=patient("00:00", "00:00")) is None


@pytest.mark.parametrize(
    ("zone", "expected_utc"),
    [
        # 21:00 UTC is 16:00 in New York (awake), 05:00 next day in Singapore (asleep until 08:00 there).
        (NEW_YORK, None),
        ("Asia/Singapore", dt.datetime(2027, 1, 7, 0, 0, tzinfo=UTC)),
        ("Europe/London", dt.datetime(2027, 1, 7, 8, 0, tzinfo=UTC)),
    ],
)
def test_the_window_is_read_in_the_patients_zone_not_utc(zone, expected_utc):
    now = dt.datetime(2027, 1, 6, 21, 0, tzinfo=UTC)
    assert quiet_hours_end(now=now, patient=patient(zone=zone)) == expected_utc


def test_the_night_new_york_springs_forward_ends_at_08_00_edt():
    # 2027-03-14: clocks jump from 02:00 EST to 03:00 EDT. The night is one hour shorter, and
    # 08:00 the next morning is 12:00 UTC (EDT), not 13:00 (EST).
    p = patient()
    assert quiet_hours_end(now=local("2027-03-13", "20:59"), patient=p) is None
    assert quiet_hours_end(now=local("2027-03-13", "21:00"), patient=p) == dt.datetime(2027, 3, 14, 12, 0, tzinfo=UTC)
    assert quiet_hours_end(now=local("2027-03-14", "03:30"), patient=p) == dt.datetime(2027, 3, 14, 12, 0, tzinfo=UTC)
    assert quiet_hours_end(now=local("2027-03-14", "07:59"), patient=p) == dt.datetime(2027, 3, 14, 12, 0, tzinfo=UTC)
    assert quiet_hours_end(now=local("2027-03-14", "08:00"), patient=p) is None


def test_the_night_new_york_falls_back_ends_at_08_00_est():
    # 2027-11-07: 01:00-02:00 happens twice. Both 01:30s are quiet; the night ends at 08:00 EST = 13:00 UTC.
    p = patient()
    morning = dt.datetime(2027, 11, 7, 13, 0, tzinfo=UTC)
    assert quiet_hours_end(now=dt.datetime(2027, 11, 7, 5, 30, tzinfo=UTC), patient=p) == morning  # 01:30 EDT
    assert quiet_hours_end(now=dt.datetime(2027, 11, 7, 6, 30, tzinfo=UTC), patient=p) == morning  # 01:30 EST
    assert quiet_hours_end(now=dt.datetime(2027, 11, 7, 12, 59, tzinfo=UTC), patient=p) == morning  # 07:59 EST
    assert quiet_hours_end(now=morning, patient=p) is None
    assert quiet_hours_end(now=dt.datetime(2027, 11, 7, 0, 59, tzinfo=UTC), patient=p) is None  # 20:59 EDT on the 6th
    assert quiet_hours_end(now=dt.datetime(2027, 11, 7, 1, 0, tzinfo=UTC), patient=p) == morning  # 21:00 EDT


@pytest.mark.parametrize(
    ("clock", "action", "until"),
    [
        ("20:59", "send", None),
        ("21:00", "defer", ("2027-01-07", "08:00")),
        ("07:59", "defer", ("2027-01-07", "08:00")),
        ("08:00", "send", None),
    ],
)
def test_a_reminder_inside_quiet_hours_waits_for_their_end(clock, action, until):
    day = "2027-01-07" if clock < "12:00" else "2027-01-06"
    decision = timing_rules(now=local(day, clock), event_at=local("2027-01-07", "18:00"), patient=patient())
    assert (decision.action, decision.until) == (action, local(*until) if until else None)


def test_a_reminder_whose_quiet_hours_end_at_or_after_the_event_is_dropped():
    p = patient()
    at_eight = timing_rules(now=local("2027-01-06", "22:00"), event_at=local("2027-01-07", "08:00"), patient=p)
    assert (at_eight.action, at_eight.reason) == ("suppress", Reason.QUIET_HOURS)
    a_minute_later = timing_rules(now=local("2027-01-06", "22:00"), event_at=local("2027-01-07", "08:01"), patient=p)
    assert (a_minute_later.action, a_minute_later.until) == ("defer", local("2027-01-07", "08:00"))
    too_late = timing_rules(now=local("2027-01-07", "18:00"), event_at=local("2027-01-07", "18:00"), patient=p)
    assert (too_late.action, too_late.reason) == ("suppress", Reason.TOO_LATE)
