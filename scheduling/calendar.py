"""A patient's private iCalendar feed. Discreet by design (42 CFR Part 2).

Anyone who sees the phone's calendar sees these entries, so they name no
program, treatment, session kind, site, room or diagnosis: a neutral "Appointment",
the site's discreet name and street address, and the number to call, exactly as
the reminders say them (``reminders.content.sender_for``: the site's messaging profile).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from icalendar import Calendar, Event

from clinic import clock
from patients.models import Patient
from reminders.content import sender_for
from scheduling import selectors

DISCREET_TITLE = gettext_noop("Appointment")
PRODID = "-//Clinic//Appointments//EN"


def build_calendar(*, patient: Patient, now: dt.datetime | None = None) -> bytes:
    """The feed in the patient's language (issue 13)."""
    with translation.override(patient.preferred_language or settings.LANGUAGE_CODE):
        return _build_calendar(patient=patient, now=now)


def _build_calendar(*, patient: Patient, now: dt.datetime | None = None) -> bytes:
    now = now or clock.now()
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", gettext("Appointments"))
    for booking in selectors.upcoming_bookings(patient=patient, now=now):
        session = booking.session
        sender = sender_for(session.series.program.site)
        event = Event()
        # The booking's public UUID: stable across refreshes, and reveals nothing.
        event.add("uid", f"{booking.public_id}@appointments")
        event.add("dtstamp", now)
        event.add("dtstart", booking.starts_at)
        event.add("dtend", booking.ends_at)
        event.add("summary", gettext(DISCREET_TITLE))
        event.add("location", ", ".join(part for part in (sender.name, sender.place) if part))
        if sender.phone:
            event.add("description", gettext("To change or cancel, call %(phone)s.") % {"phone": sender.phone})
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()
