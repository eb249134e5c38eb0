"""The reminder outbox and what it needs: device tokens, SMS opt-outs, neutral sender names, staff follow-ups.

Future reminders are rows here, never Celery ETA tasks: PostgreSQL is the single
source of truth and Redis only carries the signal that work is due.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from clinic.models import TimeStampedModel
from patients.models import Channel, Patient
from programs.models import AftercareCheckIn, Program, Site


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SUPPRESSED = "suppressed", "Suppressed"


FINAL_STATUSES = (ReminderStatus.SENT, ReminderStatus.FAILED, ReminderStatus.CANCELLED, ReminderStatus.SUPPRESSED)


class Reason(models.TextChoices):
    """Why a reminder was cancelled, suppressed or failed (empty for the ones that went out)."""

    TARGET_GONE = "target_gone", "The appointment was cancelled, moved or completed"
    NO_CONSENT = "no_consent", "No messaging consent (never given or revoked)"
    CHANNEL_NOT_ALLOWED = "channel_not_allowed", "The patient does not allow this channel"
    NO_ADDRESS = "no_address", "No phone, e-mail or registered device for this channel"
    OPTED_OUT = "opted_out", "The number replied STOP"
    CONFIDENTIAL = "confidential", "Confidential communication: channel not used"
    QUIET_HOURS = "quiet_hours", "Quiet hours would end after the appointment"
    DAILY_CAP = "daily_sms_cap", "Daily text-message limit reached"
    WEEKLY_CAP = "weekly_sms_cap", "Weekly text-message limit reached"
    TOO_LATE = "too_late", "The appointment has already started"
    PROVIDER_REJECTED = "provider_rejected", "The provider refused the message"
    RETRIES_EXHAUSTED = "retries_exhausted", "Gave up after repeated transient failures"


class Reminder(TimeStampedModel):
    """One message to one patient on one channel about one target (FHIR CommunicationRequest).

    The target is an explicit nullable foreign key per kind of target (an aftercare
    check-in now, a booking once scheduling lands) with a CHECK that exactly one is
    set, so the database keeps referential integrity that a generic relation would not.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="reminders")
    checkin = models.ForeignKey(
        AftercareCheckIn, null=True, blank=True, on_delete=models.PROTECT, related_name="reminders"
    )
    # SET_NULL, not CASCADE: a sent reminder is a record of a disclosure and outlives a booking
    # removed by a series edit. Only pending/sending rows must have a target (the CHECK below);
    # services cancel those before removing bookings, and the CHECK refuses it otherwise.
    booking = models.ForeignKey(
        "scheduling.Booking", null=True, blank=True, on_delete=models.SET_NULL, related_name="reminders"
    )
    kind = models.CharField(max_length=32, help_text="Which reminder of the target: day_before, morning_of, 24h, 2h.")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    due_at = models.DateTimeField(help_text="When the plan says it should go out.")
    event_at = models.DateTimeField(help_text="When the appointment starts (or its day ends); never sent after.")
    send_after = models.DateTimeField(help_text="Earliest next attempt: due_at, moved by quiet hours or a retry.")
    status = models.CharField(max_length=12, choices=ReminderStatus.choices, default=ReminderStatus.PENDING)
    status_reason = models.CharField(max_length=24, choices=Reason.choices, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Set when the send-time rules let an SMS through, so the daily/weekly caps count in-flight messages too.
    cleared_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged",
        help_text="Sent as part of another reminder's message (same-day reminders share one text).",
    )  # fmt: skip
    provider_message_id = models.CharField(max_length=128, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["send_after", "id"]
        indexes = [
            # The claim query: due pending rows, and expired leases.
            models.Index(fields=["send_after"], condition=Q(status="pending"), name="reminder_pending_due"),
            models.Index(fields=["lease_expires_at"], condition=Q(status="sending"), name="reminder_sending_lease"),
            models.Index(fields=["patient", "channel", "cleared_at"], name="reminder_patient_cap"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(checkin__isnull=False, booking__isnull=False), name="reminder_at_most_one_target"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["pending", "sending"])
                | Q(checkin__isnull=False, booking__isnull=True)
                | Q(checkin__isnull=True, booking__isnull=False),
                name="reminder_active_has_one_target",
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_expires_at__isnull=False), name="reminder_sending_has_lease"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="reminder_sent_has_time"
            ),
            models.CheckConstraint(condition=~Q(merged_into=F("id")), name="reminder_not_merged_into_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.kind} reminder due {self.due_at:%Y-%m-%d %H:%M} ({self.status})"


class PushDevice(TimeStampedModel):
    """A device token the patient app registered for push notifications (FCM)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="push_devices")
    token = models.CharField(max_length=512, unique=True)
    platform = models.CharField(max_length=10, choices=[("ios", "iOS"), ("android", "Android"), ("web", "Web")])
    is_active = models.BooleanField(default=True, help_text="Turned off when FCM reports the token unregistered.")

    class Meta:
        ordering = ["patient", "-updated_at"]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} device of {self.patient}"


class SmsOptOut(TimeStampedModel):
    """A number that replied STOP (or QUIT, END, ...). Kept per number: opt-out belongs to the phone, not the chart."""

    phone = models.CharField(max_length=16, unique=True)
    keyword = models.CharField(max_length=16)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "SMS opt-out"

    def __str__(self) -> str:
        return f"{self.phone} ({self.keyword})"


class SiteMessagingProfile(TimeStampedModel):
    """The neutral name, place and reply number reminders use for a site.

    A site's own name may reveal the kind of care ("Hope Recovery Center"), so
    reminders never use it; staff set a neutral display name here.
    """

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="messaging_profile")
    display_name = models.CharField(max_length=40, help_text="Neutral, e.g. 'Riverside Health'. Never a program name.")
    place = models.CharField(max_length=80, blank=True, help_text="Short address for texts; the site's if empty.")
    reply_phone = models.CharField(max_length=32, blank=True, help_text="Number to call; the site's if empty.")

    def __str__(self) -> str:
        return self.display_name


class FollowUpItem(TimeStampedModel):
    """Work for the staff of a program about a patient (missed sessions, a request for help). Never a message."""

    class Kind(models.TextChoices):
        MISSED_SESSIONS = "missed_sessions", "Missed sessions"
        HELP_REQUESTED = "help_requested", "Patient asked for help"

    class Urgency(models.TextChoices):
        ROUTINE = "routine", "Routine"
        URGENT = "urgent", "Urgent"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="follow_up_items")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="follow_up_items")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    details = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["status", "-urgency", "created_at"]
        indexes = [models.Index(fields=["program", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True, resolved_by__isnull=True)
                | Q(status="resolved", resolved_at__isnull=False, resolved_by__isnull=False),
                name="followup_resolved_iff_resolver",
            ),
            models.UniqueConstraint(
                fields=["patient", "program"],
                condition=Q(kind="missed_sessions", status="open"),
                name="followup_one_open_missed_sessions",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.patient}"
