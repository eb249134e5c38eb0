"""Admin forms for the staff-typed text patients see outside the app (texts, e-mails, push, the calendar feed).

A site's messaging profile (the sender's name, the place, the reply number) and the site's own
address and phone (used when the profile leaves them empty) are checked against the
forbidden-words list when they are saved, with an error that names the word.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from programs.models import Site
from reminders.content import check_discreet
from reminders.models import SiteMessagingProfile


def _check_fields(form: forms.ModelForm, fields: tuple[str, ...], *, site_name: str) -> None:
    for field in fields:
        value = form.cleaned_data.get(field)
        if not value:
            continue
        try:
            check_discreet(value, extra=[site_name] if site_name else [])
        except ValidationError as error:
            form.add_error(field, error)


class SiteMessagingProfileForm(forms.ModelForm):
    class Meta:
        model = SiteMessagingProfile
        fields = ["site", "display_name", "place", "reply_phone"]

    def clean(self) -> dict:
        cleaned = super().clean()
        site = cleaned.get("site")
        _check_fields(self, ("display_name", "place", "reply_phone"), site_name=site.name if site else "")
        return cleaned


class SiteForm(forms.ModelForm):
    """The site's address and phone reach patients when its messaging profile leaves them empty."""

    class Meta:
        model = Site
        fields = ["name", "code", "time_zone", "address", "phone"]

    def clean(self) -> dict:
        cleaned = super().clean()
        _check_fields(self, ("address", "phone"), site_name=cleaned.get("name") or "")
        return cleaned
