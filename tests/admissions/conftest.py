"""Admissions tests choose their instant: a Wednesday at noon in New York, where the test sites are."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from admissions import services
from admissions.models import ReferralSource

INSTANT = dt.datetime(2027, 3, 10, 17, 0, tzinfo=dt.UTC)  # 12:00 in New York, 17:00 UTC: one date everywhere used


@pytest.fixture(autouse=True)
def instant():
    with time_machine.travel(INSTANT, tick=True):
        yield INSTANT


@pytest.fixture
def day(instant) -> dt.date:
    return instant.date()


@pytest.fixture
def refer(site_clinician, residential, day):
    """Make a referral (to the residential program unless told) and move it as far as asked."""

    def make(*, program=None, patient=None, upto="new", mrn="MRN-REF-1", **details):
        details.setdefault("first_name", "Nia")
        details.setdefault("last_name", "Okafor")
        details.setdefault("date_of_birth", dt.date(1990, 2, 3))
        referral = services.create_referral(
            program=program or residential,
            source=ReferralSource.HOSPITAL,
            referred_on=day - dt.timedelta(days=3),
            created_by=site_clinician,
            patient=patient,
            **details,
        )
        if upto in ("screening", "accepted"):
            referral = services.start_screening(referral=referral, by=site_clinician)
        if upto == "accepted":
            referral = services.accept_referral(
                referral=referral, by=site_clinician, reason="Meets criteria", mrn=mrn, confirm_new_person=True
            )
        return referral

    return make
