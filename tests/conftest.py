"""Personas and shared fixtures. Tests run against the real PostgreSQL (and Redis where they need it)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import time_machine

from clinic import clock
from clinic.access import Role
from tests.factories import BedFactory, PatientFactory, ProgramFactory, SiteFactory, UserFactory, staff_member


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "instant(when): run the test and its fixtures from this instant (ISO 8601 with offset), the clock ticking",
    )


@pytest.fixture(autouse=True)
def _chosen_instant(request):
    """A test marked `@pytest.mark.instant("2027-01-06T17:00:00Z")` runs from that instant, fixtures included.

    Autouse, so it travels before the test's other fixtures build their data ("tomorrow",
    "next Monday") from `clinic.clock`. Unmarked tests run at the real instant, which CI
    moves with faketime (see the README): they must hold at every instant.
    """
    marker = request.node.get_closest_marker("instant")
    if marker is None:
        yield None
        return
    with time_machine.travel(dt.datetime.fromisoformat(marker.args[0]), tick=True) as traveller:
        yield traveller


@pytest.fixture
def today() -> dt.date:
    """Today's date as the application sees it (`clinic.clock`), at the instant the test runs or travels to."""
    return clock.today()


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


# --- Security (issue 7): personas with roles and sites ---------------------------------------
@pytest.fixture
def other_site(db):
    return SiteFactory(name="Lakeview Center", code="lakeview")


@pytest.fixture
def site_clinician(site):
    return staff_member(role=Role.CLINICIAN, sites=[site], username="marcus.clinician")


@pytest.fixture
def front_desk(site):
    return staff_member(role=Role.FRONT_DESK, sites=[site], username="lena.frontdesk")


@pytest.fixture
def program_admin(site):
    return staff_member(role=Role.PROGRAM_ADMIN, sites=[site], username="priya.programadmin")


@pytest.fixture
def ur_coordinator(site):
    """Utilization review (issue 15): payer work and the clinical summary, no clinical actions."""
    return staff_member(role=Role.UR_COORDINATOR, sites=[site], username="uma.urcoordinator")


@pytest.fixture
def colleague_elsewhere(other_site):
    """A clinician who works only at another site."""
    return staff_member(role=Role.CLINICIAN, sites=[other_site], username="omar.lakeview")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


if os.environ.get("CLINIC_MUTATION_RUN"):
    # `make mutation`: each mutant's run reuses the test database the runner migrated once.
    from tests.mutation.db import django_db_setup  # noqa: F401
