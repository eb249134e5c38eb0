"""Times on staff pages (issue 12): the user's zone or the program's, the zone when it differs, one date format."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from clinic import clock, localtime
from clinic.access import Role
from clinic.models import AuditEvent
from tests.factories import SiteFactory, staff_member

pytestmark = pytest.mark.django_db

# 02:00 UTC on Wednesday Jan 13: still 9 p.m. on Tuesday Jan 12 in New York, 6 p.m. in Los Angeles.
INSTANT = dt.datetime(2027, 1, 13, 2, 0, tzinfo=dt.UTC)


def test_an_instant_in_the_readers_own_zone_has_no_abbreviation():
    with timezone.override(ZoneInfo("America/New_York")):
        assert localtime.when(INSTANT, "America/New_York") == "Jan. 12, 2027, 9 p.m."
        assert localtime.when(INSTANT) == "Jan. 12, 2027, 9 p.m."


def test_an_instant_in_another_zone_says_which():
    with timezone.override(ZoneInfo("America/New_York")):
        assert localtime.when(INSTANT, "America/Los_Angeles") == "Jan. 12, 2027, 6 p.m. PST"
        assert localtime.when(INSTANT, "America/Los_Angeles", with_date=False) == "6 p.m. PST"


def test_a_date_is_the_locales_and_an_instants_date_is_the_zones():
    assert localtime.day(dt.date(2026, 12, 2)) == "Dec. 2, 2026"
    with timezone.override(ZoneInfo("America/New_York")):
        assert localtime.day(INSTANT) == "Jan. 12, 2027"  # UTC's date is already the 13th
    assert localtime.day(INSTANT, "UTC") == "Jan. 13, 2027"


def test_a_users_zone_is_the_one_most_of_their_sites_share(site):
    west = SiteFactory(name="Harbor", code="harbor", time_zone="America/Los_Angeles")
    west2 = SiteFactory(name="Bay", code="bay", time_zone="America/Los_Angeles")
    user = staff_member(role=Role.CLINICIAN, sites=[site, west, west2], username="wes.t")
    assert localtime.zone_of_user(user) == "America/Los_Angeles"
    assert localtime.zone_of_user(staff_member(role=Role.CLINICIAN, username="no.site")) == "UTC"


@time_machine.travel(INSTANT, tick=False)
def test_stock_admin_columns_follow_the_users_zone(client, site):
    """The audit list's own "at" column: in the reader's zone (New York), not UTC's next day."""
    reader = staff_member(role=Role.PROGRAM_ADMIN, sites=[site], username="pat.admin")
    client.force_login(reader)  # recorded at INSTANT

    page = client.get(reverse("admin:clinic_auditevent_changelist")).content.decode()

    assert AuditEvent.objects.filter(user=reader, action="login", at=INSTANT).exists()
    assert "Jan. 12, 2027, 9 p.m." in page and "Jan. 13, 2027" not in page


@time_machine.travel(INSTANT, tick=False)
def test_today_does_not_change_with_the_readers_zone():
    with timezone.override(ZoneInfo("America/Los_Angeles")):
        assert clock.today() == dt.date(2027, 1, 13)  # the installation's (UTC) date; programs use local_today


def test_staff_forms_use_the_browsers_date_picker(client, superuser, site):
    client.force_login(superuser)

    page = client.get(reverse("admin:scheduling_closure_add")).content.decode()

    assert 'type="date"' in page and "vDateField" not in page  # not the stock ISO text box
