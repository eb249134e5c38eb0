"""The rules checked just before a reminder is sent (never only at planning time: consent,
opt-outs and the patient's wishes can change between the two)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings

from patients.models import Channel, Patient
from reminders.models import Reason


@dataclass(frozen=True)
class Decision:
    action: str  # "send", "defer", "suppress", "cancel"
    reason: str = ""
    until: dt.datetime | None = None


SEND = Decision("send")


def quiet_hours_end(*, now: dt.datetime, patient: Patient) -> dt.datetime | None:
    """When the patient's quiet hours end, if ``now`` falls inside them (in the patient's own zone)."""
    start, end = patient.quiet_hours_start, patient.quiet_hours_end
    if start == end:
        return None
    zone = ZoneInfo(patient.time_zone)
    local = now.astimezone(zone)
    clock = local.time()
    if start > end:  # wraps midnight, the usual 21:00-08:00
        if clock >= start:
            day = local.date() + dt.timedelta(days=1)
        elif clock < end:
            day = local.date()
        else:
            return None
    elif start <= clock < end:
        day = local.date()
    else:
        return None
    # Wall-clock end in the patient's zone; zoneinfo resolves a DST gap or fold.
    return dt.datetime.combine(day, end, tzinfo=zone).astimezone(dt.UTC)


def channel_rules(*, channel: str, patient: Patient, opted_out: bool, has_devices: bool) -> Decision:
    """Consent, channel preference, confidential communication, address, opt-out."""
    if not patient.has_messaging_consent:
        return Decision("suppress", Reason.NO_CONSENT)
    allowed = {
        Channel.SMS: patient.sms_allowed,
        Channel.EMAIL: patient.email_allowed,
        Channel.PUSH: patient.push_allowed,
    }
    if not allowed[channel]:
        return Decision("suppress", Reason.CHANNEL_NOT_ALLOWED)
    # Confidential communication: the phone or mailbox may be shared, and staff record
    # the details in free text the pipeline cannot interpret. We therefore use neither
    # SMS nor e-mail for such a patient; only push to the app they registered, with a
    # text that names nothing (see content.render). Staff follow the instructions by hand.
    if patient.confidential_communication and channel in (Channel.SMS, Channel.EMAIL):
        return Decision("suppress", Reason.CONFIDENTIAL)
    if channel == Channel.SMS:
        if not patient.phone:
            return Decision("suppress", Reason.NO_ADDRESS)
        if opted_out:
            return Decision("suppress", Reason.OPTED_OUT)
    if channel == Channel.EMAIL and not patient.email:
        return Decision("suppress", Reason.NO_ADDRESS)
    if channel == Channel.PUSH and not has_devices:
        return Decision("suppress", Reason.NO_ADDRESS)
    return SEND


def timing_rules(*, now: dt.datetime, event_at: dt.datetime, patient: Patient) -> Decision:
    """Too late, or inside quiet hours: defer to their end unless that is after the event."""
    if now >= event_at:
        return Decision("suppress", Reason.TOO_LATE)
    resume = quiet_hours_end(now=now, patient=patient)
    if resume is None:
        return SEND
    if resume >= event_at:
        return Decision("suppress", Reason.QUIET_HOURS)
    return Decision("defer", until=resume)


def sms_window_starts(*, now: dt.datetime, patient: Patient) -> tuple[dt.datetime, dt.datetime]:
    """Start of the patient's local day and of the rolling 7-day window, for the SMS caps."""
    zone = ZoneInfo(patient.time_zone)
    local = now.astimezone(zone)
    day_start = dt.datetime.combine(local.date(), dt.time(0, 0), tzinfo=zone)
    return day_start, now - dt.timedelta(days=7)


def local_day_end(*, now: dt.datetime, patient: Patient) -> dt.datetime:
    zone = ZoneInfo(patient.time_zone)
    return dt.datetime.combine(now.astimezone(zone).date() + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone)


def merge_horizon(*, now: dt.datetime) -> dt.datetime:
    """The latest due time a text may have to ride along in a merged message sent at ``now``."""
    return now + dt.timedelta(minutes=settings.REMINDERS_MERGE_EARLY_MINUTES)
