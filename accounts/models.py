"""Single-use codes that give a patient the app (an invitation) or a new password (a reset).

Only hashes are stored. A code is ``XXXX-XXXX``: the first half is looked up (its own
keyed hash, ``lookup``), the whole is verified (``code_hash``), so a wrong guess that
hits a real code's first half counts as a failure against that code, and the code dies
after ``MAX_FAILURES``. PostgreSQL keeps one open code per patient and purpose.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from clinic.models import TimeStampedModel
from patients.models import Patient

MAX_FAILURES = 5


class AccessCode(TimeStampedModel):
    class Purpose(models.TextChoices):
        INVITATION = "invitation", "App invitation"
        PASSWORD_RESET = "password_reset", "Password reset"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="access_codes")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    lookup = models.CharField(max_length=64, db_index=True, help_text="Keyed hash of the code's first half.")
    code_hash = models.CharField(max_length=64, unique=True, help_text="Keyed hash of the whole code.")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="Replaced, withdrawn, or dead after failures.")
    failures = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_via = models.CharField(
        max_length=32, blank=True, help_text="Channels it went out on; empty: handed over in person."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open invitation (and one open reset) per patient: a new one revokes the old first.
            models.UniqueConstraint(
                fields=["patient", "purpose"],
                condition=Q(used_at__isnull=True, revoked_at__isnull=True),
                name="accesscode_one_open_per_patient",
            ),
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(revoked_at__isnull=True), name="accesscode_used_or_revoked"
            ),
            models.CheckConstraint(
                condition=Q(failures__lt=MAX_FAILURES) | Q(revoked_at__isnull=False),
                name="accesscode_dead_after_failures",
            ),
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("created_at")), name="accesscode_expires_later"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} for {self.patient} ({self.state})"

    @property
    def state(self) -> str:
        if self.used_at:
            return "used"
        if self.revoked_at:
            return "revoked"
        return "open"
