"""Start-up checks: the sender settings patients see outside the app reveal nothing.

The default display name and reply number stand in for a site without a messaging profile,
and the e-mail From header is read in a shared inbox; a deployment that sets them to the
clinic's own name ("Hope Recovery <noreply@hoperecovery.org>") would undo the discreet texts.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from reminders.content import contains_forbidden

PATIENT_FACING_SETTINGS = ("REMINDERS_DEFAULT_DISPLAY_NAME", "REMINDERS_DEFAULT_REPLY_PHONE", "REMINDERS_EMAIL_FROM")


def discreet_sender_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for name in PATIENT_FACING_SETTINGS:
        found = contains_forbidden(str(getattr(settings, name, "") or ""))
        if found:
            words = ", ".join(f'"{word}"' for word in found)
            errors.append(
                checks.Error(
                    f"{name} is shown to patients in texts and e-mails and must not contain {words}.",
                    hint="Use a neutral name, e.g. 'Appointments' or the street's name.",
                    id="reminders.E001",
                )
            )
    return errors
