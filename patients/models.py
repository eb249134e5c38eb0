from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from clinic import localtime
from clinic.models import TimeStampedModel
from patients.validators import validate_e164_phone, validate_language, validate_time_zone

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
    # Messages, the calendar feed and the app's texts are in this language (issue 13).
    preferred_language = models.CharField(
        max_length=8, default="en", validators=[validate_language], help_text="One of settings.LANGUAGES: en, es."
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patient",
        help_text="Login for the patient app, if the patient has one.",
    )
    # Scopes the patient to a site's staff before (and besides) any placement there.
    registered_site = models.ForeignKey(
        "programs.Site",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="registered_patients",
        help_text="The site that registered the patient; its staff can see them before their first placement.",
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
        """The current state; ``patients.services`` keeps it in step with ``MessagingConsentEvent``."""
        return self.messaging_consent_given_at is not None and self.messaging_consent_revoked_at is None


# --- Consent records (issue 7) ---------------------------------------------------------


class ConsentMeans(models.TextChoices):
    VERBAL = "verbal", "Verbal"
    WRITTEN = "written", "Written (signed form)"
    APP = "app", "In the patient app"
    TEXT_REPLY = "text_reply", "Text reply (STOP / START)"
    # For calls made before the means was recorded (older entry points); honest rather than guessed.
    NOT_RECORDED = "not_recorded", "Not recorded"


class MessagingConsentEvent(models.Model):
    """One giving or withdrawal of consent to reminders. Append-only history behind the Patient's current state."""

    class Kind(models.TextChoices):
        GIVEN = "given", "Given"
        REVOKED = "revoked", "Revoked"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="messaging_consent_events")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    means = models.CharField(max_length=16, choices=ConsentMeans.choices)
    at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient", "-at"])]

    def __str__(self) -> str:
        kind, means = self.get_kind_display().lower(), self.get_means_display()
        return f"Messaging consent {kind} {localtime.day(self.at)} ({means})"


class DisclosedInformation(models.TextChoices):
    """What a Part 2 disclosure consent may cover, as the FHIR API shares it (issue 16)."""

    DEMOGRAPHICS = "demographics", "Identity and contact details (Patient)"
    TREATMENT = "treatment", "Treatment episodes and levels of care (EpisodeOfCare, Encounter)"
    APPOINTMENTS = "appointments", "Appointments and attendance (Appointment)"
    CARE_PLAN = "care_plan", "Aftercare plan (CarePlan)"
    CONSENTS = "consents", "Consents (Consent)"


class DisclosureConsent(models.Model):
    """42 CFR Part 2 consent to disclose to a named recipient, for a stated purpose, until an expiry.

    Only the revocation fields ever change after it is recorded (services enforce
    it). It is in force from ``given_at`` until ``expires_at`` unless revoked.
    """

    # The FHIR Consent's id (issue 16); never the sequential id.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="disclosure_consents")
    recipient = models.CharField(max_length=200, help_text="The named person or organisation that may receive it.")
    purpose = models.CharField(max_length=300)
    information = models.TextField(help_text="How much and what kind of information may be disclosed.")
    # The same in a form the FHIR API can enforce; a consent with none covers nothing there.
    information_types = ArrayField(
        models.CharField(max_length=16, choices=DisclosedInformation.choices),
        default=list,
        blank=True,
        help_text="Which records an organisation's FHIR client may receive under this consent.",
    )
    means = models.CharField(max_length=16, choices=ConsentMeans.choices)
    given_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_means = models.CharField(max_length=16, choices=ConsentMeans.choices, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-given_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("given_at")), name="disclosure_expires_later"),
            models.CheckConstraint(condition=~Q(recipient="") & ~Q(purpose=""), name="disclosure_names_recipient"),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_means="")
                | Q(revoked_at__isnull=False, revoked_at__gte=models.F("given_at")) & ~Q(revoked_means=""),
                name="disclosure_revocation_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Disclosure to {self.recipient} until {localtime.day(self.expires_at)}"

    def in_force_at(self, at: dt.datetime) -> bool:
        return self.given_at <= at < self.expires_at and (self.revoked_at is None or at < self.revoked_at)
