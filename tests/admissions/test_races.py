"""A reservation and an admission racing for one bed on two real connections: exactly one wins."""

from __future__ import annotations

import datetime as dt

import pytest

from admissions import services
from admissions.models import BedHold, ReferralSource, Reservation
from clinic.errors import DomainError
from programs import services as journey
from programs.models import Placement
from tests.factories import PatientFactory
from tests.programs.test_concurrency import race

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.reliability]


@pytest.fixture
def waiting(residential, clinician, day):
    referral = services.create_referral(
        program=residential,
        source=ReferralSource.SELF,
        referred_on=day,
        created_by=clinician,
        first_name="Nia",
        last_name="Okafor",
        date_of_birth=dt.date(1990, 2, 3),
    )
    services.start_screening(referral=referral, by=clinician)
    return services.accept_referral(referral=referral, by=clinician, reason="ok", mrn="M-1", confirm_new_person=True)


@pytest.mark.parametrize("attempt", range(3))
def test_a_reservation_and_an_admission_for_one_bed_exactly_one_wins(waiting, bed, clinician, day, instant, attempt):
    walk_in = PatientFactory()
    expires = instant + dt.timedelta(days=2)

    outcomes = race(
        lambda: services.reserve(referral=waiting, bed=bed, start_on=day, expires_at=expires, reserved_by=clinician),
        lambda: journey.admit_to_residential(patient=walk_in, bed=bed, admitted_on=day, admitted_by=clinician),
    )

    wins = [o for o in outcomes if isinstance(o, Reservation | Placement)]
    losses = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    assert losses[0].code == "bed_unavailable"
    assert Reservation.objects.filter(bed=bed).count() + Placement.objects.filter(bed=bed).count() == 1
    assert BedHold.objects.filter(bed=bed).count() == 1


def test_two_reservations_racing_for_one_bed_exactly_one_wins(residential, bed, clinician, day, instant):
    referrals = []
    for name in ("A", "B"):
        referral = services.create_referral(
            program=residential,
            source=ReferralSource.SELF,
            referred_on=day,
            created_by=clinician,
            first_name="Kim",
            last_name=name,
            date_of_birth=dt.date(1991, 1, 1),
        )
        services.start_screening(referral=referral, by=clinician)
        referrals.append(
            services.accept_referral(
                referral=referral, by=clinician, reason="ok", mrn=f"M-{name}", confirm_new_person=True
            )
        )
    expires = instant + dt.timedelta(days=2)

    outcomes = race(
        *[
            (lambda r=r: services.reserve(referral=r, bed=bed, start_on=day, expires_at=expires, reserved_by=clinician))
            for r in referrals
        ]
    )

    assert sum(isinstance(o, Reservation) for o in outcomes) == 1
    assert sum(isinstance(o, DomainError) for o in outcomes) == 1
    assert Reservation.objects.filter(bed=bed).count() == 1
