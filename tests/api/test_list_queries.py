"""Every list endpoint runs the same number of queries for 5 rows as for 50 (no N+1), audit insert included."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from programs import services as journey
from scheduling import services as schedule
from scheduling.models import SessionKind
from scheduling.services import Mark
from tests.factories import BedFactory, PatientFactory

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/patients/",
    "/api/v1/programs/",
    "/api/v1/beds/",
    "/api/v1/episodes/",
    "/api/v1/residential-stays/",
    "/api/v1/iop-enrollments/",
    "/api/v1/transitions/",
    "/api/v1/discharges/",
    "/api/v1/session-series/",
    "/api/v1/sessions/",
    "/api/v1/bookings/",
    "/api/v1/compliance/below-minimum/?basis=attended&include_partial_weeks=true",
    "/api/v1/compliance/consecutive-absences/?n=1",
]


def _add_patients(count, *, site, residential, iop, clinician, today, group):
    """Each admitted five weeks ago, stepped down to IOP three days ago; every other one discharged today,
    the others marked absent from the evening group two days ago (so each is a run of absences)."""
    for index in range(count):
        patient = PatientFactory(registered_site=site)
        bed = BedFactory(program=residential)
        stay = journey.admit_to_residential(
            patient=patient, bed=bed, admitted_on=today - dt.timedelta(days=35), admitted_by=clinician
        )
        transition = journey.step_down(
            stay=stay, to_program=iop, on=today - dt.timedelta(days=3), reason="Stable", decided_by=clinician
        )
        if index % 2:
            journey.discharge(episode=stay.episode, on=today, disposition="completed", decided_by=clinician)
        else:
            schedule.book_session(session=_one_off_session(iop, clinician, today, index), patient=patient)
            missed = group.sessions.get(local_date=today - dt.timedelta(days=2))
            # Booked before it started, as the track's enrolment would have; then marked absent.
            before_it_started = dt.datetime.combine(today - dt.timedelta(days=3), dt.time(12, 0), tzinfo=dt.UTC)
            with time_machine.travel(before_it_started, tick=False):
                schedule.book_session(session=missed, patient=patient)
            schedule.record_attendance(session=missed, marks=[Mark(patient.pk, "absent")], recorded_by=clinician)
        assert transition.pk


def _one_off_session(iop, clinician, today, index):
    series = schedule.create_series(
        program=iop,
        name=f"Counselling {index}",
        kind=SessionKind.INDIVIDUAL_COUNSELLING,
        rule="FREQ=DAILY",
        start_time=dt.time(8, 0),
        duration_minutes=10,
        facilitator=clinician,
        capacity=1,
        starts_on=today + dt.timedelta(days=2 + index),
        ends_on=today + dt.timedelta(days=2 + index),
        books_enrolled=False,
    )
    return series.sessions.get()


def _counts(api) -> dict[str, tuple[int, int]]:
    """Per list: (queries, rows returned)."""
    result = {}
    for url in LISTS:
        separator = "&" if "?" in url else "?"
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"{url}{separator}page_size=100")
        assert response.status_code == 200, (url, response.json())
        result[url] = (len(queries), len(response.json()["results"]))
    return result


def test_list_queries_do_not_grow_with_the_rows(api, site, residential, iop, site_clinician, program_admin, today):
    group = schedule.create_series(
        program=iop, name="Group", kind=SessionKind.GROUP_THERAPY, rule="FREQ=DAILY", start_time=dt.time(18, 0),
        duration_minutes=60, facilitator=site_clinician, capacity=200, starts_on=today - dt.timedelta(days=3),
    )  # fmt: skip
    schedule.generate_sessions(series_ids=[group.pk], from_on=today - dt.timedelta(days=3))  # the past ones too
    api.force_authenticate(program_admin)
    _add_patients(5, site=site, residential=residential, iop=iop, clinician=site_clinician, today=today, group=group)
    _counts(api)  # the role and permissions are then cached on the user object, as within any one request
    small = _counts(api)
    _add_patients(45, site=site, residential=residential, iop=iop, clinician=site_clinician, today=today, group=group)
    large = _counts(api)

    for url in LISTS:
        assert large[url][0] == small[url][0], f"{url}: {small[url][0]} queries for 5 patients, {large[url][0]} for 50"
    # The lists of patient data really did grow (bookings fill the 100-row page at both sizes).
    for url in LISTS[:1] + LISTS[2:8] + LISTS[11:12]:
        assert large[url][1] > small[url][1], url
    assert small["/api/v1/bookings/"][1] == large["/api/v1/bookings/"][1] == 100
    # Consecutive absences: real runs at both sizes (the patients still in IOP, each absent last time).
    absences = "/api/v1/compliance/consecutive-absences/?n=1"
    assert (small[absences][1], large[absences][1]) == (3, 3 + 23)
    print("\nqueries per list (5 / 50 patients):")
    for url in LISTS:
        print(f"  {url}: {small[url][0]} / {large[url][0]} queries, {small[url][1]} / {large[url][1]} rows")
