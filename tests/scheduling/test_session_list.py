"""The session list (issue 12): today and later in the program's local time, nearest first, times in local
time with the zone when it is not the reader's, facilitators by name."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.access import Role
from scheduling import services
from tests.factories import ProgramFactory, SiteFactory, staff_member
from tests.scheduling.conftest import enroll_with_history, make_series

pytestmark = pytest.mark.django_db

# 23:30 on Tuesday Jan 12 in Los Angeles, when it is already Wednesday Jan 13 in UTC (and in New York).
LATE_EVENING = "2027-01-13T07:30:00+00:00"
LA_TODAY = dt.date(2027, 1, 12)


@pytest.fixture
def pacific(db):
    site = SiteFactory(name="Harbor Campus", code="harbor", time_zone="America/Los_Angeles")
    return ProgramFactory(site=site, iop=True, name="Harbor Evening IOP")


@pytest.fixture
def evening_group(pacific):
    """A daily 18:00 Pacific group with its facilitator, from Monday Jan 11 to Sunday Jan 17."""
    facilitator = staff_member(
        role=Role.CLINICIAN, sites=[pacific.site], username="dana.f", first_name="Dana", last_name="Fisher"
    )
    series = make_series(
        pacific, facilitator, rule="FREQ=DAILY", duration_minutes=90, starts_on=dt.date(2027, 1, 11),
        ends_on=dt.date(2027, 1, 17),
    )  # fmt: skip
    services.generate_sessions(series_ids=[series.pk], from_on=dt.date(2027, 1, 11))
    return series


@pytest.fixture
def pacific_clinician(pacific):
    return staff_member(role=Role.CLINICIAN, sites=[pacific.site], username="lee.pacific")


@pytest.fixture
def eastern_reader(pacific, site):
    """A program admin working at an Eastern site and the Pacific one: reads times in New York's zone."""
    other = SiteFactory(name="Bay Annex", code="bay", time_zone="America/New_York")
    return staff_member(role=Role.PROGRAM_ADMIN, sites=[pacific.site, site, other], username="sam.east")


def _list(client, **params):
    response = client.get(reverse("admin:scheduling_session_changelist"), params)
    assert response.status_code == 200
    return response


def _dates(response) -> list[dt.date]:
    return [session.local_date for session in response.context["cl"].result_list]


@pytest.mark.instant(LATE_EVENING)
def test_the_list_opens_on_the_programs_today_and_later_nearest_first(client, pacific_clinician, evening_group):
    client.force_login(pacific_clinician)

    dates = _dates(_list(client))

    # The 18:00 group of Jan 12 is still today in Los Angeles, though UTC's today is Jan 13.
    assert dates[0] == LA_TODAY
    assert dates == [LA_TODAY + dt.timedelta(days=n) for n in range(6)]


@pytest.mark.instant(LATE_EVENING)
def test_past_sessions_are_one_tap_away_most_recent_first(client, pacific_clinician, evening_group):
    client.force_login(pacific_clinician)

    response = _list(client, when="past")

    assert _dates(response) == [dt.date(2027, 1, 11)]
    assert [session.local_date for session in response.context["cl"].queryset][:1] == [dt.date(2027, 1, 11)]
    assert "?when=past" in response.content.decode()  # the filter offers it
    assert len(_dates(_list(client, when="all"))) == 7


@pytest.mark.instant(LATE_EVENING)
def test_a_dashboard_worklist_is_not_cut_to_today(client, pacific, pacific_clinician, evening_group, patient):
    enroll_with_history(patient=patient, program=pacific, start_on=dt.date(2027, 1, 11), enrolled_by=pacific_clinician)
    client.force_login(pacific_clinician)

    # Awaiting attendance: sessions that started, most recent first, yesterday's included.
    dates = _dates(_list(client, worklist="awaiting"))

    assert dates == [LA_TODAY, dt.date(2027, 1, 11)]


@pytest.mark.instant(LATE_EVENING)
def test_times_are_in_the_programs_zone_and_say_so_to_a_reader_elsewhere(
    client, pacific_clinician, eastern_reader, evening_group
):
    client.force_login(eastern_reader)
    page = _list(client).content.decode()
    assert "Jan. 12, 2027, 6 p.m. PST" in page  # 02:00 UTC, 9 p.m. in New York: the group's own time
    assert "Dana Fisher" in page and "dana.f" not in page

    client.force_login(pacific_clinician)
    page = _list(client).content.decode()
    assert "Jan. 12, 2027, 6 p.m.<" in page  # the reader's own zone: no abbreviation
    assert "PST" not in page


@pytest.mark.instant(LATE_EVENING)
def test_the_list_costs_the_same_queries_for_more_sessions(client, pacific, pacific_clinician, evening_group):
    client.force_login(pacific_clinician)
    _list(client)
    with CaptureQueriesContext(connection) as few:
        assert len(_dates(_list(client))) == 6
    more = make_series(
        pacific, evening_group.facilitator, name="Morning group", rule="FREQ=DAILY", start_time=dt.time(9, 0),
        duration_minutes=60, starts_on=dt.date(2027, 1, 11), ends_on=dt.date(2027, 1, 31),
    )  # fmt: skip
    services.generate_sessions(series_ids=[more.pk], from_on=dt.date(2027, 1, 11))
    with CaptureQueriesContext(connection) as many:
        assert len(_dates(_list(client))) == 6 + 20  # Jan 12 to 31
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.instant(LATE_EVENING)
def test_the_api_still_answers_in_utc_to_a_staff_session(client, pacific_clinician, evening_group):
    client.force_login(pacific_clinician)  # the panel would read Los Angeles time

    sessions = client.get("/api/v1/sessions/", {"program": str(evening_group.program.public_id)}).json()["results"]

    assert sessions and all(s["starts_at"].endswith("Z") or s["starts_at"].endswith("+00:00") for s in sessions)
