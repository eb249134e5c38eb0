"""Races between separate PostgreSQL connections (one per thread): exactly one of the racers may win."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.db import connection

from clinic.errors import DomainError
from programs import services as journey
from programs.models import Placement, Transition
from scheduling import services
from scheduling.models import Booking, Session
from tests.factories import BedFactory, PatientFactory
from tests.scheduling.conftest import make_series

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

RACERS = 50
ROUNDS = 5


def race(calls) -> tuple[list, float]:
    """Start every call at one barrier, each on its own connection; return outcomes and the wall time."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = call()
        except DomainError as error:
            outcomes[i] = error
        except Exception as error:  # an unexpected error is an outcome the test reports
            outcomes[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes, time.perf_counter() - started


def test_fifty_bookings_for_the_last_seat(iop, clinician, today, report):
    capacity = 4
    series = make_series(iop, clinician, starts_on=today + dt.timedelta(days=1), capacity=capacity,
                         books_enrolled=False, rule="FREQ=WEEKLY;BYDAY=TU", start_time=dt.time(16))  # fmt: skip
    session = Session.objects.filter(series=series).first()
    patients = PatientFactory.create_batch(capacity - 1 + RACERS)
    for p in patients:
        journey.enroll_in_iop(patient=p, program=iop, start_on=today, enrolled_by=clinician)
    for p in patients[: capacity - 1]:
        services.book_session(session=session, patient=p)

    outcomes, seconds = race([lambda p=p: services.book_session(session=session, patient=p)
                              for p in patients[capacity - 1 :]])  # fmt: skip

    wins = [o for o in outcomes if isinstance(o, Booking)]
    codes = Counter(getattr(o, "code", type(o).__name__) for o in outcomes if not isinstance(o, Booking))
    session.refresh_from_db()
    active = session.bookings.active().count()
    ok = (
        len(wins) == 1 and codes == Counter({"session_full": RACERS - 1}) and session.booked_count == capacity == active
    )
    report(
        "50 parallel bookings for the last seat",
        f"{RACERS} threads, one connection each, booking the last of {capacity} seats at one barrier",
        f"{len(wins)} booked, refusals {dict(codes)}; seat counter {session.booked_count}/{capacity}, "
        f"{active} active bookings; {seconds * 1000:.0f} ms",
        ok,
    )
    assert ok


def test_two_admissions_to_one_bed(residential, clinician, today, report):
    wins, codes, rounds = 0, Counter(), []
    for i in range(ROUNDS):
        bed = BedFactory(program=residential, label=f"R{i}")
        first, second = PatientFactory(), PatientFactory()
        outcomes, _ = race(
            [lambda p=p, bed=bed: journey.admit_to_residential(patient=p, bed=bed, admitted_on=today,
                                                               admitted_by=clinician)
             for p in (first, second)]
        )  # fmt: skip
        won = sum(isinstance(o, Placement) for o in outcomes)
        wins += won
        codes.update(getattr(o, "code", type(o).__name__) for o in outcomes if not isinstance(o, Placement))
        rounds.append(won == 1 and Placement.objects.filter(bed=bed).count() == 1)
        assert rounds[-1], outcomes
    report(
        "Two admissions to one bed",
        f"{ROUNDS} rounds, two patients admitted to the same free bed at once",
        f"{wins} admissions in {ROUNDS} rounds (one per bed), refusals {dict(codes)}",
        all(rounds),
    )


def test_two_step_downs_of_one_stay(iop, residential, clinician, today, report):
    wins, codes, rounds = 0, Counter(), []
    for i in range(ROUNDS):
        patient = PatientFactory()
        bed = BedFactory(program=residential, label=f"S{i}")
        stay = journey.admit_to_residential(patient=patient, bed=bed, admitted_on=today - dt.timedelta(days=20),
                                            admitted_by=clinician)  # fmt: skip
        outcomes, _ = race(
            [lambda stay=stay: journey.step_down(stay=stay, to_program=iop, on=today, reason="Stable",
                                                 decided_by=clinician)
             for _ in range(2)]
        )  # fmt: skip
        won = sum(isinstance(o, Transition) for o in outcomes)
        wins += won
        codes.update(getattr(o, "code", type(o).__name__) for o in outcomes if not isinstance(o, Transition))
        rounds.append(won == 1 and Placement.objects.filter(patient=patient).count() == 2)
        assert rounds[-1], outcomes
    report(
        "Two step-downs of one stay",
        f"{ROUNDS} rounds, the same residential stay stepped down to IOP twice at once",
        f"{wins} step-downs in {ROUNDS} rounds (one per stay, two placements each), refusals {dict(codes)}",
        all(rounds),
    )
