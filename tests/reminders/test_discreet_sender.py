"""What patients see outside the app names no site, program or room (issue 11, defect 3).

A site called "Hope Recovery Center" runs an "Evening IOP" whose group meets in the
"Group therapy room". Every channel (SMS, e-mail subject and body, push) and the calendar
feed say the site's discreet name and its street address; the staff-typed values they use
are checked for revealing words when they are saved in the admin.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from icalendar import Calendar

from clinic import clock
from programs import services as journey
from programs.models import Site
from reminders import dispatch
from reminders.content import FORBIDDEN_WORDS, sender_for
from reminders.models import PushDevice, SiteMessagingProfile
from scheduling import services as schedule
from tests.factories import ProgramFactory, SiteFactory
from tests.scheduling.conftest import make_series

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
# A Tuesday afternoon in New York, outside quiet hours; the appointment is at 18:00 the same day.
INSTANT = dt.datetime(2026, 12, 1, 15, 0, tzinfo=NEW_YORK)
SITE_NAME = "Hope Recovery Center"
ROOM = "Group therapy room"
SERIES = "Evening relapse prevention"


@pytest.fixture
def hope(db):
    return SiteFactory(name=SITE_NAME, code="hope", address="3 Pine Street, Springfield\nBuilding B",
                       phone="+14155550100")  # fmt: skip


@pytest.fixture
def evening_iop(hope):
    return ProgramFactory(site=hope, iop=True, name="Evening IOP")


def _revealing(text: str, program) -> list[str]:
    lowered = text.lower()
    names = [SITE_NAME, ROOM, SERIES, program.name, "Building B"]
    return [word for word in (*FORBIDDEN_WORDS, *names) if word.lower() in lowered]


def _book(evening_iop, clinician, patient):
    make_series(evening_iop, clinician, name=SERIES, room=ROOM, rule="FREQ=DAILY;COUNT=1",
                starts_on=INSTANT.date(), start_time=dt.time(18, 0), duration_minutes=60)  # fmt: skip
    journey.enroll_in_iop(patient=patient, program=evening_iop, start_on=INSTANT.date(), enrolled_by=clinician)


@pytest.mark.parametrize("with_profile", [True, False], ids=["site-profile", "default-sender"])
def test_every_channel_says_the_discreet_name_and_a_street_address(
    with_profile, hope, evening_iop, clinician, patient, settings, locmem_channels
):
    settings.REMINDERS_CHANNELS = ["sms", "email", "push"]
    if with_profile:
        SiteMessagingProfile.objects.create(site=hope, display_name="Pine Street Health", reply_phone="+14155550199")
    PushDevice.objects.create(patient=patient, token="device-1", platform="ios")
    with time_machine.travel(INSTANT, tick=False):
        _book(evening_iop, clinician, patient)  # the 24 h reminder is overdue: it goes now, on every channel
        now = clock.now()
        dispatch.Dispatcher(now=now).deliver(dispatch.claim_due(limit=100, now=now))

    assert sorted(message.channel for message in locmem_channels) == ["email", "push", "sms"]
    name, phone = ("Pine Street Health", "+14155550199") if with_profile else ("Appointments", "+14155550100")
    for message in locmem_channels:
        text = "\n".join((message.subject, message.title, message.body))
        assert _revealing(text, evening_iop) == [], f"{message.channel}: {text!r}"
        assert name in text, f"{message.channel}: {text!r}"
        if message.channel != "push":
            assert "3 Pine Street, Springfield" in text and phone in text, f"{message.channel}: {text!r}"
    email = next(m for m in locmem_channels if m.channel == "email")
    assert email.subject == f"Reminder from {name}: Tue 1 Dec"


@pytest.mark.parametrize("with_profile", [True, False], ids=["site-profile", "default-sender"])
def test_the_calendar_feed_says_the_discreet_name_and_a_street_address(
    with_profile, client, hope, evening_iop, clinician, patient
):
    if with_profile:
        SiteMessagingProfile.objects.create(site=hope, display_name="Pine Street Health", place="3 Pine Street")
    with time_machine.travel(INSTANT, tick=False):
        _book(evening_iop, clinician, patient)
        token = schedule.issue_calendar_feed(patient=patient)
        response = client.get(f"/calendar/{token}.ics")

    assert response.status_code == 200
    [event] = Calendar.from_ical(response.content).walk("VEVENT")
    expected = "Pine Street Health, 3 Pine Street" if with_profile else "Appointments, 3 Pine Street, Springfield"
    assert str(event["LOCATION"]) == expected
    assert str(event["SUMMARY"]) == "Appointment"
    assert str(event["DESCRIPTION"]) == "To change or cancel, call +14155550100."
    assert _revealing(response.content.decode(), evening_iop) == []


def test_a_revealing_value_saved_before_the_check_is_never_sent(hope):
    # Written around the admin (raw data from before this check): dropped at send time, not shown.
    SiteMessagingProfile.objects.create(site=hope, display_name="Hope Recovery", place="Recovery House, 3 Pine St")
    Site.objects.filter(pk=hope.pk).update(phone="Call the detox line")
    hope.refresh_from_db()

    sender = sender_for(hope)

    assert (sender.name, sender.place, sender.phone) == ("Appointments", "", "")


# --- checked when saved ---------------------------------------------------------------------------


def _errors(response) -> dict[str, list[str]]:
    form = response.context["adminform"].form
    return {field: list(messages) for field, messages in form.errors.items()}


def test_the_admin_refuses_a_messaging_profile_that_reveals_the_care(client, superuser, hope):
    client.force_login(superuser)
    url = reverse("admin:reminders_sitemessagingprofile_add")

    revealing = {"display_name": "Pine Street Rehab", "place": "Hope Recovery Center, 3 Pine St",
                 "reply_phone": "Counselor: 555-0100"}  # fmt: skip
    response = client.post(url, {"site": hope.pk, **revealing})

    assert response.status_code == 200
    errors = _errors(response)
    assert '"rehab"' in errors["display_name"][0]
    assert '"recovery"' in errors["place"][0] and SITE_NAME in errors["place"][0]
    assert '"counsel"' in errors["reply_phone"][0]
    assert not SiteMessagingProfile.objects.exists()

    response = client.post(url, {"site": hope.pk, "display_name": "Pine Street Health", "place": "3 Pine Street",
                                 "reply_phone": "+14155550199"})  # fmt: skip
    assert response.status_code == 302
    assert SiteMessagingProfile.objects.get().display_name == "Pine Street Health"


def test_the_admin_refuses_a_site_address_or_phone_that_reveals_the_care(client, superuser, hope):
    client.force_login(superuser)
    url = reverse("admin:programs_site_change", args=[hope.pk])
    data = {"name": SITE_NAME, "code": "hope", "time_zone": "America/New_York",
            "address": "Hope Recovery Center, 3 Pine Street", "phone": "Detox line +14155550100"}  # fmt: skip

    response = client.post(url, data)

    assert response.status_code == 200
    errors = _errors(response)
    assert '"recovery"' in errors["address"][0] and '"Hope Recovery Center"' in errors["address"][0]
    assert '"detox"' in errors["phone"][0]
    hope.refresh_from_db()
    assert hope.address.startswith("3 Pine Street")

    # The site's own name may say what it likes: patients never see it.
    response = client.post(url, {**data, "address": "3 Pine Street, Springfield", "phone": "+14155550100"})
    assert response.status_code == 302


def test_the_sender_settings_are_checked_at_start_up(settings):
    from django.core import checks

    assert [m for m in checks.run_checks() if m.id == "reminders.E001"] == []

    settings.REMINDERS_EMAIL_FROM = "Hope Recovery <noreply@hoperecovery.org>"
    settings.REMINDERS_DEFAULT_DISPLAY_NAME = "Pine Street Rehab"

    found = [m for m in checks.run_checks() if m.id == "reminders.E001"]
    [display_name, email_from] = sorted(found, key=lambda m: m.msg)
    assert display_name.msg.startswith("REMINDERS_DEFAULT_DISPLAY_NAME") and '"rehab"' in display_name.msg
    assert email_from.msg.startswith("REMINDERS_EMAIL_FROM") and '"recovery"' in email_from.msg
