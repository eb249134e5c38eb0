"""The census's figures, counted by hand on a small clinic (mutation testing, issue 18).

Riverside: residential beds 101-A (occupied), 101-B (free), 101-C (out of service), and an IOP.
Lakeview: its own residential program with one patient. An inactive program is not counted.
"""

import datetime as dt

import pytest

from programs import selectors, services
from programs.models import Bed
from tests.factories import BedFactory, PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db
D = dt.timedelta


@pytest.fixture
def clinic(site, other_site, residential, iop, bed, other_bed, site_clinician, colleague_elsewhere, today):
    BedFactory(program=residential, label="101-C", status=Bed.Status.OUT_OF_SERVICE)
    stepped = PatientFactory(legal_first_name="Alex")
    stay = services.admit_to_residential(
        patient=stepped, bed=other_bed, admitted_on=today - D(10), admitted_by=site_clinician
    )
    services.step_down(stay=stay, to_program=iop, on=today - D(2), reason="Stable", decided_by=site_clinician)
    staying = PatientFactory(legal_first_name="Sam")
    services.admit_to_residential(patient=staying, bed=bed, admitted_on=today - D(5), admitted_by=site_clinician)
    lakeview = ProgramFactory(site=other_site, name="Lakeview Residential")
    services.admit_to_residential(
        patient=PatientFactory(),
        bed=BedFactory(program=lakeview, label="L-1"),
        admitted_on=today - D(1),
        admitted_by=colleague_elsewhere,
    )
    ProgramFactory(site=site, name="Closed unit", is_active=False)
    # Opened later, one of each level: by level first, then by name ("Willow IOP" before "Residential 3.5").
    ProgramFactory(site=site, name="Zinnia House")
    ProgramFactory(site=site, iop=True, name="Willow IOP")
    return {"lakeview": lakeview}


def _figures(rows):
    return {r.program.name: (r.patients, r.beds_in_service, r.beds_occupied) for r in rows}


def test_census_counts_patients_and_beds_in_service_per_active_program(clinic, today):
    rows = selectors.census(on=today)
    assert _figures(rows) == {
        # Two beds in service (101-C is out of service), one occupied; Alex has left for the IOP.
        "Residential 3.5": (1, 2, 1),
        "Evening IOP": (1, 0, 0),
        "Lakeview Residential": (1, 1, 1),
        "Zinnia House": (0, 0, 0),
        "Willow IOP": (0, 0, 0),
    }
    # Site by name (Lakeview before Riverside), then ASAM level (2.1 IOP before 3.5 residential), then name.
    assert [r.program.name for r in rows] == [
        "Lakeview Residential",
        "Evening IOP",
        "Willow IOP",
        "Residential 3.5",
        "Zinnia House",
    ]


def test_census_on_the_step_down_day_counts_the_patient_once_in_the_new_track(clinic, residential, iop, today):
    on_the_day = _figures(selectors.census(on=today - D(2)))
    assert on_the_day["Residential 3.5"] == (1, 2, 1)
    assert on_the_day["Evening IOP"] == (1, 0, 0)
    the_day_before = _figures(selectors.census(on=today - D(3)))
    assert the_day_before["Residential 3.5"] == (2, 2, 2)
    assert the_day_before["Evening IOP"] == (0, 0, 0)


def test_census_of_some_sites_leaves_out_the_others(clinic, site, other_site, today):
    assert set(_figures(selectors.census(on=today, sites=[site]))) == {
        "Residential 3.5",
        "Evening IOP",
        "Zinnia House",
        "Willow IOP",
    }
    assert set(_figures(selectors.census(on=today, sites=[other_site]))) == {"Lakeview Residential"}


def test_daily_census_series_across_the_step_down(clinic, today):
    rows = selectors.daily_census(start=today - D(4), end=today)
    assert rows == [
        (today - D(4), 2, 0),
        (today - D(3), 2, 0),
        (today - D(2), 1, 1),  # the step-down day: once, in the IOP
        (today - D(1), 2, 1),  # Lakeview's admission
        (today, 2, 1),
    ]


def test_daily_census_of_one_site(clinic, site, other_site, today):
    assert selectors.daily_census(start=today - D(1), end=today, sites=[site]) == [
        (today - D(1), 1, 1),
        (today, 1, 1),
    ]
    assert selectors.daily_census(start=today, end=today, sites=[other_site]) == [(today, 1, 0)]


def test_active_stays_are_the_residential_placements_in_force(clinic, site, today):
    assert selectors.active_stays(on=today).count() == 2
    assert [p.patient.legal_first_name for p in selectors.active_stays(on=today, sites=[site])] == ["Sam"]
    assert selectors.active_stays(on=today - D(3), sites=[site]).count() == 2


def test_census_rows_come_with_their_site_in_one_query(clinic, site, other_site, today, django_assert_num_queries):
    """The dashboard groups the cards by site: reading each row's site costs no query per program."""
    with django_assert_num_queries(1):
        rows = selectors.census(on=today)
        sites = [row.program.site.name for row in rows]
    assert len(rows) == 5
    assert sites == [other_site.name] + [site.name] * 4


def test_census_orders_programs_of_one_site_and_level_by_name_not_by_when_they_opened(clinic, site, today):
    ProgramFactory(site=site, name="Aspen House")  # opened last, first by name among Riverside's residential ones
    assert [r.program.name for r in selectors.census(on=today)] == [
        "Lakeview Residential",
        "Evening IOP",
        "Willow IOP",
        "Aspen House",
        "Residential 3.5",
        "Zinnia House",
    ]
