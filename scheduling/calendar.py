"""A patient's private iCalendar feed. Discreet by design (42 CFR Part 2).

Anyone who sees the phone's calendar sees these entries, so they name no
program, treatment, session kind or diagnosis: a neutral "Appointment", the
site's name and address, the room, and the number to call.
"""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Event

from clinic import clock
from patients.models import Patient
from scheduling import selectors

DISCREET_TITLE = "Appointment"
PRODID = "-//Clinic//Appointments//EN"


def build_calendar(*, patient: Patient, now: dt.datetime | None = None) -> bytes:
    now = now or clock.now()
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Appointments")
    for booking in selectors.upcoming_bookings(patient=patient, now=now):
        session = booking.session
        site = session.series.program.site
        event = Event()
        # The booking's public UUID: stable across refreshes, and reveals nothing.
        event.add("uid", f"{booking.public_id}@appointments")
        event.add("dtstamp", now)
        event.add("dtstart", booking.starts_at)
        event.add("dtend", booking.ends_at)
        event.add("summary", DISCREET_TITLE)
        event.add("location", ", ".join(part for part in (site.name, site.address, session.room) if part))
        if site.phone:
            event.add("description", f"To change or cancel, call {site.phone}.")
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()
