from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from clinic.models import TimeStampedModel
from patients.validators import validate_e164_phone, validate_time_zone

ADOLESCENT_UNTIL_AGE = 18


class Channel(models.TextChoices):
    SMS = "sms", "Text message"
    EMAIL = "email", "E-mail"
    PUSH = "push", "Push notification"


class Patient(TimeStampedModel):
    mrn = models.CharField("MRN", max_length=32, unique=True, help_text="Medical record number.")
    legal_first_name = models.CharField(max_length=100)
    legal_last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    phone = models.CharField(
        max_length=16, blank=True, validators=[validate_e164_phone], help_text="E.164, for example +14155550132."
    )
    email = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default="America/New_York", validators=[validate_time_zone])
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patient",
        help_text="Login for the patient app, if the patient has one.",
    )

    # Communication preferences. Consent is a pair of times rather than a flag so
    # the record shows when it was given and when (if ever) it was withdrawn.
    sms_allowed = models.BooleanField(default=True)
    email_allowed = models.BooleanField(default=True)
    push_allowed = models.BooleanField(default=True)
    messaging_consent_given_at = models.DateTimeField(null=True, blank=True)
    messaging_consent_revoked_at = models.DateTimeField(null=True, blank=True)
    quiet_hours_start = models.TimeField(default=dt.time(21, 0))
    quiet_hours_end = models.TimeField(default=dt.time(8, 0))
    confidential_communication = models.BooleanField(
        default=False,
        help_text="Staff-set: the patient asked that we not contact them through some channel or number.",
    )
    confidential_instructions = models.TextField(
        blank=True, help_text="What must not be used (for example: no texts, the phone is shared)."
    )

    class Meta:
        ordering = ["legal_last_name", "legal_first_name", "id"]
        indexes = [models.Index(fields=["legal_last_name", "legal_first_name"])]
        constraints = [
            # A last line of defence for rows written around the services.
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__regex=r"^\+[1-9][0-9]{6,14}$"),
                name="patient_phone_e164",
            ),
            models.CheckConstraint(
                condition=Q(messaging_consent_revoked_at__isnull=True) | Q(messaging_consent_given_at__isnull=False),
                name="patient_consent_revoked_after_given",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.mrn})"

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.legal_first_name
        return f"{first} {self.legal_last_name}"

    def age_on(self, day: dt.date) -> int:
        had_birthday = (day.month, day.day) >= (self.date_of_birth.month, self.date_of_birth.day)
        return day.year - self.date_of_birth.year - (0 if had_birthday else 1)

    def is_adolescent_on(self, day: dt.date) -> bool:
        return self.age_on(day) < ADOLESCENT_UNTIL_AGE

    @property
    def has_messaging_consent(self) -> bool:
        return self.messaging_consent_given_at is not None and self.messaging_consent_revoked_at is None
