"""The texts that carry a code: as discreet as a reminder (a lock screen, a shared inbox), in the patient's language."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from patients.models import Channel, Patient
from reminders.content import SMS_MAX_CHARS, sender_for
from reminders.sms import sms_safe

CODE_VALID_DAYS = 3


@dataclass(frozen=True)
class CodeMessage:
    channel: str
    body: str
    subject: str = ""


def app_link(code: str) -> str:
    # The code rides in the fragment, which no server (ours or a proxy) ever receives or logs.
    return f"{settings.PATIENT_APP_LINK}#{code}"


def render_code(*, channel: str, purpose: str, code: str, patient: Patient) -> CodeMessage:
    sender = sender_for(patient.registered_site)
    with translation.override(patient.preferred_language):
        if purpose == "invitation":
            line = _("your code to set up the app: %(code)s. It expires in %(days)s days.")
            subject = _("Your code to set up the app")
        else:
            line = _("your code to choose a new password: %(code)s. It expires in %(days)s days.")
            subject = _("Your code to choose a new password")
        line = line % {"code": code, "days": CODE_VALID_DAYS}
        if channel == Channel.SMS:
            body = sms_safe(f"{sender.name}: {line} {app_link(code)}")
            if len(body) > SMS_MAX_CHARS:  # a long link: the code alone is enough to type
                body = sms_safe(f"{sender.name}: {line}")
            return CodeMessage(channel=channel, body=body[:SMS_MAX_CHARS])
        ignore = _("If you did not expect this message, you can ignore it.")
        call = _("Questions: call %(phone)s.") % {"phone": sender.phone} if sender.phone else ""
        body = "\n".join(
            [_("Hello,"), "", line[0].upper() + line[1:], app_link(code), "", ignore, call, "", sender.name]
        )
        return CodeMessage(channel=channel, subject=f"{sender.name}: {subject}", body=body)
