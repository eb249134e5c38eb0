"""The census over time, past and forecast, on a small clinic where every number is counted by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from admissions import selectors, services
from clinic.errors import DomainError
from programs import services as journey
from tests.factories import BedFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(residential, iop, site_clinician, refer, day, instant):
    """Today is D (Wednesday 2027-03-10). Residential has beds A, B, C; the evening IOP seats 12.

    - Alex: bed A from D-10, stepped down to IOP on D-3 (planned IOP end D+5).
    - Sam: bed B from D-5, planned discharge D+25.
    - Kim: accepted today, bed C reserved from D+2 to D+32 (expires D+3 at 22:00 UTC).
    - Lee: accepted today, waiting without a reservation.
    """
    a, b, c = (BedFactory(program=residential, label=label) for label in ("A", "B", "C"))
    alex, sam = PatientFactory(legal_first_name="Alex"), PatientFactory(legal_first_name="Sam")
    stay = journey.admit_to_residential(
        patient=alex, bed=a, admitted_on=day - dt.timedelta(days=10), admitted_by=site_clinician
    )
    journey.step_down(
        stay=stay,
        to_program=iop,
        on=day - dt.timedelta(days=3),
        reason="Stable",
        decided_by=site_clinician,
        planned_end_on=day + dt.timedelta(days=5),
    )
    journey.admit_to_residential(patient=sam, bed=b, admitted_on=day - dt.timedelta(days=5), admitted_by=site_clinician)
    kim = refer(upto="accepted", first_name="Kim", mrn="M-KIM")
    reservation = services.reserve(
        referral=kim,
        bed=c,
        start_on=day + dt.timedelta(days=2),
        expires_at=dt.datetime.combine(day + dt.timedelta(days=3), dt.time(22), tzinfo=dt.UTC),
        reserved_by=site_clinician,
    )
    refer(upto="accepted", first_name="Lee", mrn="M-LEE")
    return {"reservation": reservation}


def _series(rows, program):
    return {row.day: row for row in rows if row.program_id == program.pk}


def test_past_days_and_the_step_down_day(clinic, residential, iop, day, instant):
    rows = selectors.census_over_time(
        programs=[residential, iop], start=day - dt.timedelta(days=12), end=day, today=day, now=instant
    )
    res, out = _series(rows, residential), _series(rows, iop)
    expected_residential = {-12: 0, -11: 0, -10: 1, -6: 1, -5: 2, -4: 2, -3: 1, -1: 1, 0: 1}
    for offset, patients in expected_residential.items():
        assert res[day + dt.timedelta(days=offset)].patients == patients, offset
    expected_iop = {-4: 0, -3: 1, 0: 1}
    for offset, patients in expected_iop.items():
        assert out[day + dt.timedelta(days=offset)].patients == patients, offset
    # The step-down day: Alex counted once, in IOP (two patients in all: Sam and Alex).
    step_down_day = day - dt.timedelta(days=3)
    assert res[step_down_day].patients + out[step_down_day].patients == 2
    assert not any(row.forecast for row in rows)
    assert all(row.reserved == 0 for row in rows if row.day < day)
    assert res[day - dt.timedelta(days=1)].waiting == 0 and res[day].waiting == 2


def test_the_forecast(clinic, residential, iop, day, instant):
    rows = selectors.census_over_time(
        programs=[residential, iop],
        start=day + dt.timedelta(days=1),
        end=day + dt.timedelta(days=8),
        today=day,
        now=instant,
    )
    res, out = _series(rows, residential), _series(rows, iop)
    d = lambda n: day + dt.timedelta(days=n)  # noqa: E731
    assert all(row.forecast for row in rows)
    # Sam stays in bed B all week (planned discharge D+25); Kim's reservation holds C from D+2.
    assert [res[d(n)].patients for n in range(1, 9)] == [1] * 8
    assert [res[d(n)].reserved for n in range(1, 9)] == [0, 1, 1, 1, 1, 1, 1, 1]
    # Waiting: Kim and Lee on D+1; once Kim's reservation begins, only Lee.
    assert [res[d(n)].waiting for n in range(1, 4)] == [2, 1, 1]
    assert res[d(1)].free == 2 and res[d(2)].free == 1  # 3 beds - Sam - Kim's reservation
    # Alex's IOP enrollment ends as planned on D+5.
    assert [out[d(n)].patients for n in range(1, 9)] == [1, 1, 1, 1, 0, 0, 0, 0]
    assert out[d(6)].free == 12
    totals = selectors.totals(rows)
    assert [t.patients for t in totals[:5]] == [2, 2, 2, 2, 1]
    assert totals[1].free_beds == 1 and totals[1].reserved == 1


def test_an_expired_reservation_holds_nothing_in_the_forecast(clinic, residential, day):
    after_expiry = clinic["reservation"].expires_at + dt.timedelta(minutes=1)
    rows = selectors.census_over_time(
        programs=[residential],
        start=day + dt.timedelta(days=4),
        end=day + dt.timedelta(days=5),
        today=day,
        now=after_expiry,
    )
    assert [row.reserved for row in rows] == [0, 0]


def test_an_overdue_stay_is_forecast_to_leave_tomorrow(residential, site_clinician, day, instant):
    bed = BedFactory(program=residential)
    journey.admit_to_residential(
        patient=PatientFactory(),
        bed=bed,
        admitted_on=day - dt.timedelta(days=40),
        admitted_by=site_clinician,
        planned_discharge_on=day - dt.timedelta(days=2),
    )
    rows = selectors.census_over_time(
        programs=[residential], start=day - dt.timedelta(days=3), end=day + dt.timedelta(days=2), today=day, now=instant
    )
    assert [row.patients for row in rows] == [1, 1, 1, 1, 0, 0]


@pytest.mark.parametrize("days", [1, 14, 366])
def test_one_query_whatever_the_range(clinic, residential, iop, day, instant, days, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = selectors.census_over_time(
            programs=[residential, iop],
            start=day - dt.timedelta(days=days // 2),
            end=day - dt.timedelta(days=days // 2) + dt.timedelta(days=days - 1),
            today=day,
            now=instant,
        )
    assert len(rows) == 2 * days


def test_a_range_over_366_days_or_backwards_is_refused(residential, day, instant):
    with pytest.raises(DomainError) as too_long:
        selectors.census_over_time(
            programs=[residential], start=day, end=day + dt.timedelta(days=366), today=day, now=instant
        )
    assert too_long.value.code == "invalid_range"
    with pytest.raises(DomainError):
        selectors.census_over_time(
            programs=[residential], start=day, end=day - dt.timedelta(days=1), today=day, now=instant
        )
