"""Personas and shared fixtures. Tests run against the real PostgreSQL (and Redis where they need it)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import BedFactory, PatientFactory, ProgramFactory, SiteFactory, UserFactory


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def clinician(db):
    return UserFactory(username="dana.clinician", first_name="Dana", last_name="Ortiz")


@pytest.fixture
def site(db):
    return SiteFactory(name="Riverside Campus", code="riverside")


@pytest.fixture
def residential(site):
    return ProgramFactory(site=site, name="Residential 3.5")


@pytest.fixture
def iop(site):
    return ProgramFactory(site=site, iop=True, name="Evening IOP")


@pytest.fixture
def bed(residential):
    return BedFactory(program=residential, label="101-A")


@pytest.fixture
def other_bed(residential):
    return BedFactory(program=residential, label="101-B")


@pytest.fixture
def patient(db):
    return PatientFactory(legal_first_name="Alex", legal_last_name="Rivera")


@pytest.fixture
def other_patient(db):
    return PatientFactory(legal_first_name="Sam", legal_last_name="Chen")
