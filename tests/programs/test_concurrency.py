"""Races between real, separate PostgreSQL connections (one per thread)."""

import datetime as dt
import threading

import pytest
from django.db import connection

from clinic.errors import DomainError
from programs import services
from programs.models import Placement, Transition
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls):
    """Run the calls at the same moment, each on its own connection; return results and domain errors."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            outcomes[i] = call()
        except DomainError as error:
            outcomes[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def test_two_admissions_to_one_bed_exactly_one_wins(bed, clinician, today):
    first, second = PatientFactory(), PatientFactory()

    outcomes = race(
        lambda: services.admit_to_residential(patient=first, bed=bed, admitted_on=today, admitted_by=clinician),
        lambda: services.admit_to_residential(patient=second, bed=bed, admitted_on=today, admitted_by=clinician),
    )

    wins = [o for o in outcomes if isinstance(o, Placement)]
    losses = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(wins) == 1 and len(losses) == 1
    assert losses[0].code == "bed_unavailable"
    assert Placement.objects.filter(bed=bed).count() == 1


def test_two_step_downs_of_one_stay_exactly_one_wins(patient, bed, iop, clinician, today):
    stay = services.admit_to_residential(
        patient=patient, bed=bed, admitted_on=today - dt.timedelta(days=20), admitted_by=clinician
    )

    outcomes = race(
        *[
            lambda: services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)
            for _ in range(2)
        ]
    )

    assert sum(isinstance(o, Transition) for o in outcomes) == 1
    assert sum(isinstance(o, DomainError) for o in outcomes) == 1
    assert Placement.objects.filter(patient=patient).count() == 2
