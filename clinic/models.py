"""Model bases shared by every app."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    """A row with a public UUID (used in URLs, never the sequential id) and timestamps."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


# --- Security (issue 7): site memberships and the audit trail ------------------------


class SiteMembership(models.Model):
    """A staff member works at a site; staff see only the data of their sites (``clinic.access``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_memberships")
    site = models.ForeignKey("programs.Site", on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site", "user"]
        constraints = [models.UniqueConstraint(fields=["user", "site"], name="sitemembership_once_per_site")]

    def __str__(self) -> str:
        return f"{self.user} at {self.site}"


class AuditAction(models.TextChoices):
    VIEW = "view", "View"
    CREATE = "create", "Create"
    CHANGE = "change", "Change"
    DELETE = "delete", "Delete"
    EXPORT = "export", "Export"
    LOGIN = "login", "Login"
    LOGOUT = "logout", "Logout"
    LOGIN_FAILED = "login_failed", "Failed login"
    # Records sent to another organisation under the patient's Part 2 consent (issue 16).
    DISCLOSE = "disclose", "Disclosure"


class AuditCategory(models.TextChoices):
    DEMOGRAPHICS = "demographics", "Demographics"
    CLINICAL = "clinical", "Clinical"
    SCHEDULE = "schedule", "Schedule"
    MESSAGING = "messaging", "Messaging"
    # Coverage and payer authorizations (utilization review, issue 15).
    PAYER = "payer", "Payer"
    # Reading the trail itself says who saw which patient, so that is recorded too.
    AUDIT = "audit", "Audit trail"


class AuditEvent(models.Model):
    """One access to patient data, or one login event (45 CFR 164.312(b) audit controls).

    Append-only: a trigger refuses UPDATE and DELETE, and no screen offers either.
    A request that touches many patients writes one row per patient, all in one
    INSERT (``clinic.audit``), so "who looked at this record" is an indexed lookup.

    The table is partitioned by month on ``at`` (migration 0007, ``clinic.audit_partitions``):
    the primary key is ``(id, at)`` in PostgreSQL, as a partitioned table requires; ``id``
    alone stays unique because one sequence feeds it. Five indexes, each for a query that
    uses it: the key (the admin's change page by id), ``(at, id)`` (the admin list's newest
    first), ``(patient, at)`` (the access report, the admin's patient search), ``(user, at)``
    (a program admin's scope: their staff's logins; the username search) and ``request_id``
    (the admin's search by request id).

    ``user`` and ``patient`` carry no foreign-key constraint: the trail must
    outlive the rows it names, and deleting a user must not be blocked (or
    cascade) by their history. ``username`` and ``role`` are kept as they were
    at the time.
    """

    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # auditevent_user_at leads with user_id
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    category = models.CharField(max_length=16, choices=AuditCategory.choices, blank=True)
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # auditevent_patient_at leads with patient_id
        related_name="+",
    )
    object_type = models.CharField(max_length=100, blank=True, help_text="app_label.model of the record touched.")
    object_id = models.CharField(max_length=64, blank=True)
    path = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=300, blank=True, help_text="Field names or filters; never field values.")

    class Meta:
        ordering = ["-at", "-id"]
        default_permissions = ("view",)
        permissions = [("export_auditevent", "Can export the audit trail")]
        indexes = [
            models.Index(fields=["patient", "-at"], name="auditevent_patient_at"),
            models.Index(fields=["user", "-at"], name="auditevent_user_at"),
            models.Index(fields=["-at", "-id"], name="auditevent_at_id"),
            # Plain btree, without db_index's second varchar_pattern_ops copy: searched by equality only.
            models.Index(fields=["request_id"], name="auditevent_request_id"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action} {self.category}".strip()
