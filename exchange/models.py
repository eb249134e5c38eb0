"""API clients of other organisations, their short-lived tokens, and bulk exports."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from clinic.models import TimeStampedModel


class ApiClient(TimeStampedModel):
    """Another organisation (a hospital, an HIE) that reads records through FHIR with OAuth2 client credentials.

    It sees only the patients whose Part 2 disclosure consent in force names ``recipient``
    (compared without regard to case or surrounding spaces) and covers the information asked for.
    """

    name = models.CharField(max_length=200, help_text="For staff: who this client is.")
    recipient = models.CharField(
        max_length=200,
        help_text="The recipient as patients' disclosure consents name it, for example 'Mercy General Hospital'.",
    )
    client_id = models.CharField(max_length=40, unique=True, editable=False)
    # A hash only: the secret is shown once, when the client is registered.
    secret_hash = models.CharField(max_length=128, editable=False)
    is_active = models.BooleanField(default=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=~Q(recipient=""), name="apiclient_names_recipient")]

    def __str__(self) -> str:
        return self.name


class ClientToken(models.Model):
    """A short-lived bearer token issued to an API client (only its hash is kept)."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"Token of {self.client} until {self.expires_at:%Y-%m-%d %H:%M}"


class ExportStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_EXPORT_STATUSES = (ExportStatus.ACCEPTED, ExportStatus.RUNNING)


class BulkExport(models.Model):
    """One FHIR Bulk Data `$export` request, its progress and its NDJSON files (for 24 hours)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_at = models.DateTimeField()
    # Exactly one requester: a staff user or an API client.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    client = models.ForeignKey(ApiClient, null=True, blank=True, on_delete=models.PROTECT, related_name="exports")
    # A Group export is a program's patients; none for a Patient-level export.
    program = models.ForeignKey("programs.Program", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    request_url = models.CharField(max_length=500)
    types = ArrayField(models.CharField(max_length=40))
    since = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.ACCEPTED)
    transaction_time = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # [{"type": "Patient", "count": 12}], written when the job finishes.
    output = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(requested_by__isnull=False, client__isnull=True)
                | Q(requested_by__isnull=True, client__isnull=False),
                name="bulkexport_one_requester",
            ),
            # One export at a time per requester; a second one is told to retry later (429).
            models.UniqueConstraint(
                fields=["requested_by"],
                condition=Q(status__in=ACTIVE_EXPORT_STATUSES, requested_by__isnull=False),
                name="bulkexport_one_running_per_user",
            ),
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(status__in=ACTIVE_EXPORT_STATUSES, client__isnull=False),
                name="bulkexport_one_running_per_client",
            ),
        ]

    def __str__(self) -> str:
        return f"Export {self.public_id} ({self.status})"
