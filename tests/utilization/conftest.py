"""A small clinic for utilization review, at a chosen instant.

Every test here runs at Tuesday 16 March 2027, 16:00 UTC (12:00 in New York, two days after
the change to daylight time on Sunday 14 March), so "today", the step-down day and the DST
change are the same whenever and wherever the suite runs.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from clinic.access import Role
from programs import services as journey
from scheduling import services as schedule
from scheduling.models import Booking, SessionKind
from tests.factories import BedFactory, PatientFactory, ProgramFactory, staff_member
from utilization import services as ur
from utilization.models import Payer, ProgramBilling

INSTANT = dt.datetime(2027, 3, 16, 16, 0, tzinfo=dt.UTC)
TODAY = dt.date(2027, 3, 16)


def day(n: int) -> dt.date:
    """Day ``n`` of March 2027."""
    return dt.date(2027, 3, n)


@pytest.fixture(autouse=True)
def _at_the_instant():
    with time_machine.travel(INSTANT, tick=True):
        yield


@pytest.fixture
def today() -> dt.date:
    return TODAY


@pytest.fixture
def ur_user(site):
    return staff_member(role=Role.UR_COORDINATOR, sites=[site], username="uma.ur")


@pytest.fixture
def blue(db):
    return Payer.objects.create(name="Blue Harbor Health", kind=Payer.Kind.COMMERCIAL)


@pytest.fixture
def self_pay(db):
    return Payer.objects.create(name="Self-pay", kind=Payer.Kind.SELF_PAY, requires_authorization=False)


@pytest.fixture
def codes(residential, iop):
    ProgramBilling.objects.create(program=residential, revenue_code="1002", hcpcs_code="H0019")
    ProgramBilling.objects.create(program=iop, revenue_code="0905", hcpcs_code="S9480", iop_billable_minutes=180)


@pytest.fixture
def weekday_track(iop, clinician):
    """The IOP meets every weekday 09:00-12:00 New York time (180 minutes)."""
    series = schedule.create_series(
        program=iop,
        name="Morning group",
        kind=SessionKind.GROUP_THERAPY,
        rule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        start_time=dt.time(9, 0),
        duration_minutes=180,
        facilitator=clinician,
        capacity=12,
        starts_on=day(1),
    )
    schedule.generate_sessions(series_ids=[series.pk], from_on=day(1), until=day(31))
    return series


def attend(patient, on: dt.date, minutes: int, attendance: str = "present") -> None:
    """The booking of ``patient`` on local day ``on`` carries this attendance (as record_attendance leaves it)."""
    updated = Booking.objects.active().filter(patient=patient, session__local_date=on)
    assert updated.update(attendance=attendance, minutes_attended=minutes) == 1


def admit(patient, bed, on, by, **kwargs):
    return journey.admit_to_residential(patient=patient, bed=bed, admitted_on=on, admitted_by=by, **kwargs)


def approve(auth, *, number, units, start, end, by, next_review_on=None, status="approved"):
    return ur.record_decision(
        authorization=auth,
        status=status,
        number=number,
        approved_units=units,
        start_on=start,
        end_on=end,
        decided_on=auth.requested_on,
        decided_by=by,
        next_review_on=next_review_on,
    )


@pytest.fixture
def alex_journey(patient, bed, iop, residential, blue, clinician, weekday_track, codes):
    """Alex: covered by Blue Harbor; residential from Mar 8, stepped down to the IOP on Mar 12.
    Residential authorized Mar 8-10 only (Mar 11 is not covered); IOP authorized Mar 12-31."""
    coverage = ur.add_coverage(
        patient=patient, payer=blue, effective_on=day(1), member_id="BH-1001", created_by=clinician
    )
    stay = admit(patient, bed, day(8), clinician)
    journey.step_down(stay=stay, to_program=iop, on=day(12), reason="Stable", decided_by=clinician)
    # A step-down recorded after the fact books only sessions to come; the groups since are a backfill.
    schedule.generate_sessions(series_ids=[weekday_track.pk], from_on=day(12), until=day(31))
    res = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=residential.asam_level, requested_units=5,
        start_on=day(8), end_on=day(12), requested_by=clinician, requested_on=day(8),
    )  # fmt: skip
    approve(res, number="AUTH-R1", units=3, start=day(8), end=day(10), by=clinician, status="partial")
    iop_auth = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=iop.asam_level, requested_units=12,
        start_on=day(12), end_on=day(31), requested_by=clinician, requested_on=day(11),
    )  # fmt: skip
    approve(iop_auth, number="AUTH-I1", units=12, start=day(12), end=day(31), by=clinician, next_review_on=day(17))
    attend(patient, day(12), 180)
    attend(patient, day(15), 120, "late")  # too few minutes for a billable IOP day
    attend(patient, day(16), 180)
    return {"coverage": coverage, "stay": stay, "residential_auth": res, "iop_auth": iop_auth}


@pytest.fixture
def sam_self_pay(other_patient, residential, self_pay, clinician):
    """Sam pays for himself (no authorization needed); in residential since Mar 14."""
    ur.add_coverage(patient=other_patient, payer=self_pay, effective_on=day(1), created_by=clinician)
    return admit(other_patient, BedFactory(program=residential, label="201-A"), day(14), clinician)


__all__ = ["INSTANT", "TODAY", "PatientFactory", "ProgramFactory", "admit", "approve", "attend", "day"]
