"""Twenty patients race for the last seat, each on its own PostgreSQL connection."""

import datetime as dt

import pytest

from clinic.errors import DomainError
from programs import services as journey
from scheduling import services
from scheduling.models import Booking, Session
from tests.factories import PatientFactory
from tests.programs.test_concurrency import race
from tests.scheduling.conftest import make_series

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_bookings_for_the_last_seat_exactly_one_succeeds(iop, clinician, today):
    series = make_series(iop, clinician, starts_on=today + dt.timedelta(days=1), capacity=3, books_enrolled=False,
                         rule="FREQ=WEEKLY;BYDAY=TU", start_time=dt.time(16))  # fmt: skip
    session = Session.objects.filter(series=series).first()
    patients = [PatientFactory() for _ in range(22)]
    for p in patients:
        journey.enroll_in_iop(patient=p, program=iop, start_on=today, enrolled_by=clinician)
    for p in patients[:2]:
        services.book_session(session=session, patient=p)

    outcomes = race(*[lambda p=p: services.book_session(session=session, patient=p) for p in patients[2:]])

    wins = [o for o in outcomes if isinstance(o, Booking)]
    losses = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(wins) == 1 and len(losses) == 19
    assert {error.code for error in losses} == {"session_full"}
    session.refresh_from_db()
    assert session.booked_count == 3 == session.bookings.active().count()
