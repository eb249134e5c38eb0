"""Days used against days approved, counted from the placements (residential, by the census rule) and from
attendance (IOP), on the step-down day and over the change to daylight time (Sunday 14 March 2027 in New York).
Today is Tuesday 16 March 2027 (tests/utilization/conftest.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from programs import services as journey
from scheduling import services as schedule
from tests.utilization.conftest import TODAY, admit, approve, attend, day
from utilization import selectors
from utilization import services as ur
from utilization.models import Authorization

pytestmark = pytest.mark.django_db


@pytest.fixture
def stepped_down_today(patient, bed, iop, residential, blue, clinician, weekday_track):
    """Admitted Mar 10 (before the DST change), stepped down today, Mar 16; both levels authorized."""
    coverage = ur.add_coverage(patient=patient, payer=blue, effective_on=day(1), member_id="B-1", created_by=clinician)
    stay = admit(patient, bed, day(10), clinician)
    journey.step_down(stay=stay, to_program=iop, on=TODAY, reason="Stable", decided_by=clinician)
    # This morning's group had started before the step-down was recorded: booked as a backfill of the day.
    schedule.generate_sessions(series_ids=[weekday_track.pk], from_on=TODAY, until=day(31))
    res = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=residential.asam_level, requested_units=14,
        start_on=day(10), end_on=day(23), requested_by=clinician, requested_on=day(10),
    )  # fmt: skip
    approve(res, number="R-14", units=14, start=day(10), end=day(23), by=clinician, next_review_on=day(18))
    iop_auth = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=iop.asam_level, requested_units=10,
        start_on=TODAY, end_on=day(31), requested_by=clinician, requested_on=day(15), unit_kind="sessions",
    )  # fmt: skip
    approve(iop_auth, number="I-10", units=10, start=TODAY, end=day(31), by=clinician)
    return stay, res, iop_auth


def _used(auth, on=TODAY):
    return selectors.with_units_used(Authorization.objects.filter(pk=auth.pk), on=on).get()


def test_on_the_step_down_day_residential_counts_up_to_yesterday_and_iop_from_attendance(stepped_down_today, patient):
    _, res, iop_auth = stepped_down_today
    # Mar 10..15 are census days in the bed (the DST change on the 14th is just another day); the 16th is IOP's.
    assert (_used(res).units_used, _used(res).units_approved) == (6, 14)
    assert _used(iop_auth).units_used == 0
    attend(patient, TODAY, 180)
    assert _used(iop_auth).units_used == 1
    # Yesterday's view: five bed days, nothing in IOP yet.
    assert _used(res, on=day(15)).units_used == 6 and _used(res, on=day(14)).units_used == 5


def test_iop_days_and_sessions_are_counted_from_attendance(alex_journey, patient):
    iop_auth = alex_journey["iop_auth"]  # days, from Mar 12
    # Attended Mar 12 (180), 15 (120, late) and 16 (180): three days with attendance.
    assert _used(iop_auth).units_used == 3
    attend(patient, day(15), 0, "absent")
    assert _used(iop_auth).units_used == 2


def test_units_used_for_every_open_episode_is_one_query(alex_journey, sam_self_pay):
    with CaptureQueriesContext(connection) as queries:
        rows = list(selectors.days_used_for_open_episodes(on=TODAY))
    assert len(queries) == 1
    by_number = {Authorization.objects.get(pk=r["pk"]).number: r for r in rows}
    assert by_number["AUTH-R1"]["units_used"] == 3  # Mar 8-10 of a stay Mar 8-11
    assert by_number["AUTH-I1"]["units_used"] == 3


def test_every_day_in_care_shows_the_authorization_that_covers_it(alex_journey, today):
    summary = selectors.episode_summary(episode=alex_journey["stay"].episode, on=today)
    days = {d.day: d.authorization_number for d in summary["days"]}
    assert days == {
        day(8): "AUTH-R1", day(9): "AUTH-R1", day(10): "AUTH-R1", day(11): None,
        day(12): "AUTH-I1", day(13): "AUTH-I1", day(14): "AUTH-I1", day(15): "AUTH-I1", day(16): "AUTH-I1",
    }  # fmt: skip
    assert (summary["days_in_care"], summary["days_covered"], summary["days_at_risk"]) == (9, 8, 1)
    assert summary["headline"] == "Auth 3 of 12 days, review due March 17, 2027"


def test_a_review_adding_days_extends_the_coverage_of_the_days(alex_journey, clinician, today):
    ur.record_review(
        authorization=alex_journey["residential_auth"], reviewed_on=day(11), outcome="approved_more",
        units_added=1, new_end_on=day(11), recorded_by=clinician,
    )  # fmt: skip
    summary = selectors.episode_summary(episode=alex_journey["stay"].episode, on=today)
    assert summary["days_at_risk"] == 0
    assert _used(alex_journey["residential_auth"]).units_approved == 4
