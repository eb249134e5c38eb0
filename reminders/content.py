"""Discreet reminder texts (42 CFR Part 2): a neutral name, the date, time, place and how to reply.

Never the program, level of care, diagnosis, session kind or anyone else's name:
a text or a push notification is read on a lock screen, an e-mail subject in a
shared inbox. ``FORBIDDEN_WORDS`` is checked by the tests against every template.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext, pgettext, pgettext_lazy
from django.utils.translation import gettext as _

from patients.models import Channel, Patient
from programs.models import Site
from reminders.sms import sms_safe
from reminders.targets import EventDetails

SMS_MAX_CHARS = 160
_START = dt.datetime.min.replace(tzinfo=dt.UTC)

# Words that would reveal the fact or the kind of care. Matched case-insensitively as substrings.
FORBIDDEN_WORDS = (
    "program", "treatment", "therapy", "therapist", "counsel", "group", "session", "iop", "outpatient",
    "inpatient", "residential", "rehab", "recovery", "sober", "substance", "alcohol", "drug", "opioid",
    "methadone", "detox", "addiction", "relapse", "aftercare", "diagnos", "mental", "psych", "behavioral",
    "asam", "level of care", "discharge", "intensive", "clinical",
)  # fmt: skip


@dataclass(frozen=True)
class Sender:
    name: str
    place: str
    phone: str


@dataclass(frozen=True)
class Rendered:
    channel: str
    body: str
    subject: str = ""
    title: str = ""


def sender_for(site: Site | None) -> Sender:
    """The neutral sender of a site: its messaging profile, never the site's or a program's own name.

    Used by every text a patient may see outside the app: SMS, e-mail, push, and the calendar feed.
    The staff-typed values are checked when they are saved (``check_discreet``); a value saved
    before that check, or written around it, is dropped here rather than sent.
    """
    default_name = settings.REMINDERS_DEFAULT_DISPLAY_NAME
    default_phone = settings.REMINDERS_DEFAULT_REPLY_PHONE
    if site is None:
        return Sender(name=default_name, place="", phone=default_phone)
    profile = getattr(site, "messaging_profile", None)
    name = profile.display_name if profile else default_name
    place = profile.place if profile and profile.place else site.address.splitlines()[0] if site.address else ""
    phone = (profile.reply_phone if profile and profile.reply_phone else site.phone) or default_phone
    own_name = [site.name]
    return Sender(
        name=default_name if contains_forbidden(name, extra=own_name) else name,
        place="" if contains_forbidden(place, extra=own_name) else place.strip(),
        phone=default_phone if contains_forbidden(phone, extra=own_name) else phone,
    )


def _local_day(item: EventDetails, zone: ZoneInfo) -> dt.date:
    """The item's date where the patient is: a 23:30 session in New York is the next day in London."""
    return item.starts_at.astimezone(zone).date() if item.starts_at is not None else item.day


def _day(day: dt.date) -> str:
    # "Mon 7 Dec" / "lun 7 dic": Django's names for the active language (the patient's, issue 13).
    return date_format(day, pgettext("reminder date", "D j M"))


# The neutral words for a target, in the patient's language.
LABELS = {"appointment": pgettext_lazy("reminder", "appointment"), "check-in": pgettext_lazy("reminder", "check-in")}


def _label(item: EventDetails) -> str:
    return str(LABELS.get(item.label, item.label))


def _reply(sender: Sender) -> str:
    return " " + _("Questions: call %(phone)s.") % {"phone": sender.phone} if sender.phone else ""


def _when(item: EventDetails, zone: ZoneInfo, *, with_day: bool = True) -> str:
    day = _day(_local_day(item, zone))
    if item.starts_at is None:
        return _("on %(day)s") % {"day": day} if with_day else ""
    local = item.starts_at.astimezone(zone)
    return _("on %(day)s at %(time)s") % {"day": day, "time": f"{local:%H:%M}"} if with_day else f"{local:%H:%M}"


def _sms_single(item: EventDetails, sender: Sender, zone: ZoneInfo) -> str:
    place = " " + _("at %(place)s") % {"place": sender.place} if sender.place and item.starts_at is not None else ""
    reply, stop = _reply(sender), _("Reply STOP to opt out.")
    head = _("%(sender)s: reminder of your %(label)s %(when)s") % {
        "sender": sender.name,
        "label": _label(item),
        "when": _when(item, zone),
    }
    text = f"{head}{place}.{reply} {stop}"
    if len(text) > SMS_MAX_CHARS and place:
        text = f"{head}.{reply} {stop}"
    if len(text) > SMS_MAX_CHARS and reply:
        # Longer languages with a long sender: the number to call goes before "Reply STOP" does.
        text = f"{head}. {stop}"
    return text


def _sms_merged(items: Sequence[EventDetails], sender: Sender, zone: ZoneInfo) -> str:
    reply, stop = _reply(sender), _("Reply STOP to opt out.")

    def text(shown: Sequence[EventDetails], more: int) -> str:
        # Each item under its own local date: "Wed 2 Dec: appointment 18:35; Thu 3 Dec: appointment 19:35".
        days: dict[dt.date, list[str]] = {}
        for item in shown:
            days.setdefault(_local_day(item, zone), []).append(
                f"{_label(item)} {_when(item, zone, with_day=False)}".strip()
            )
        listed = "; ".join(f"{_day(day)}: {'; '.join(parts)}" for day, parts in days.items())
        if more:
            listed += " " + gettext("+%(count)d more") % {"count": more}
        return _("%(sender)s: reminders for %(list)s.") % {"sender": sender.name, "list": listed} + f"{reply} {stop}"

    shown = list(items)
    message = text(shown, 0)
    while len(message) > SMS_MAX_CHARS and len(shown) > 1:
        # Keep the earliest items and say how many more there are.
        shown = shown[:-1]
        message = text(shown, len(items) - len(shown))
    return message


def render(*, channel: str, items: Sequence[EventDetails], patient: Patient) -> Rendered:
    """The message for one or more same-day items of one patient (merged into one text when several).

    In the patient's language (``Patient.preferred_language``, issue 13), dates in their zone.
    """
    if not items:
        raise ValueError("nothing to render")
    with translation.override(patient.preferred_language or settings.LANGUAGE_CODE):
        return _render(channel=channel, items=items, patient=patient)


def _render(*, channel: str, items: Sequence[EventDetails], patient: Patient) -> Rendered:
    zone = ZoneInfo(patient.time_zone)
    # One event is listed once, however many of its reminders (24 h and 2 h before) ride in one message,
    # in the order of the patient's calendar (a whole-day item first on its day).
    items = sorted(dict.fromkeys(items), key=lambda item: (_local_day(item, zone), item.starts_at or _START))
    sender = sender_for(items[0].site)
    if channel == Channel.SMS:
        body = _sms_single(items[0], sender, zone) if len(items) == 1 else _sms_merged(items, sender, zone)
        # Accents outside GSM-7 (á, í, ó, ú) would cut a segment to 70 characters: written without them.
        body = sms_safe(body)
        # Last resort for extreme profile values: never send over 160 characters (a split text may arrive out of order).
        return Rendered(channel=channel, body=body[:SMS_MAX_CHARS])
    if channel == Channel.PUSH:
        if patient.confidential_communication:
            # A lock screen may be seen by anyone: not even the clinic's name or the place.
            return Rendered(
                channel=channel, title=_("Reminder"), body=_("You have a reminder. Open the app for details.")
            )
        when = "; ".join(f"{_label(item)} {_when(item, zone)}" for item in items)
        return Rendered(
            channel=channel,
            title=_("Reminder from %(sender)s") % {"sender": sender.name},
            body=_("Your %(items)s.") % {"items": when},
        )
    lines = []
    for item in items:
        place = " " + _("at %(place)s") % {"place": sender.place} if sender.place and item.starts_at is not None else ""
        lines.append("- " + _("your %(label)s %(when)s") % {"label": _label(item), "when": _when(item, zone)} + place)
    reply = (
        _("If you have a question or need to change it, call %(phone)s.") % {"phone": sender.phone}
        if sender.phone
        else ""
    )
    footer = _("You receive this because you agreed to reminders. Reply to this e-mail or call us to stop them.")
    body = "\n".join([_("Hello,"), "", _("This is a reminder of:"), *lines, "", reply, "", sender.name, "", footer])
    subject = _("Reminder from %(sender)s: %(day)s") % {"sender": sender.name, "day": _day(_local_day(items[0], zone))}
    return Rendered(channel=channel, subject=subject, body=body)


# The same in Spanish (issue 13); every rendered text in every language is checked against every list.
FORBIDDEN_WORDS_ES = (
    "tratamiento", "adicción", "recuperación", "terapia", "rehabilitación", "desintoxicación", "sobriedad",
    "alcohol", "droga", "grupo", "psicológico", "psiquiátrico", "salud mental", "consejería", "recaída",
    "residencial", "ambulatorio", "intensivo", "programa", "sesión", "adicto", "abstinencia",
)  # fmt: skip
FORBIDDEN_WORDS_BY_LANGUAGE = {"en": FORBIDDEN_WORDS, "es": FORBIDDEN_WORDS_ES}


def _plain(text: str) -> str:
    # Texts drop accents to stay in GSM-7 ("adiccion"), so compare without them. casefold(), not lower() or
    # upper(): Unicode's caseless match, under which "Großmann", "GROSSMANN" and "GROẞMANN" are one name
    # (lower() leaves "ß" apart from "ss"; upper() leaves the capital "ẞ" apart from "SS").
    return "".join(c for c in unicodedata.normalize("NFD", text.casefold()) if not unicodedata.combining(c))


def contains_forbidden(text: str, *, extra: Sequence[str] = ()) -> list[str]:
    lowered = _plain(text)
    words = [word for words in FORBIDDEN_WORDS_BY_LANGUAGE.values() for word in words]
    return [word for word in (*words, *extra) if word and _plain(word) in lowered]


def check_discreet(value: str, *, extra: Sequence[str] = ()) -> None:
    """Refuse staff-typed text that patients see outside the app (a sender name, an address, a reply number)
    when it names the kind of care or one of ``extra`` (the site's own name), naming what it found."""
    found = contains_forbidden(value or "", extra=extra)
    if found:
        words = ", ".join(f'"{word}"' for word in found)
        raise ValidationError(
            f"Patients see this in texts, e-mails and their calendar, where others may read it: "
            f"it must not contain {words}.",
            code="not_discreet",
        )


def local_day(moment: dt.datetime, zone: str) -> dt.date:
    return moment.astimezone(ZoneInfo(zone)).date()
