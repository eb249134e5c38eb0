"""Reads for the patient app's accounts."""

from __future__ import annotations

from accounts.models import AccessCode
from clinic import clock
from patients.models import Patient


def app_access(*, patient: Patient) -> dict:
    """What staff see: "active", "invited", "deactivated" or "none", with the open invitation's expiry."""
    user = patient.user
    invitation = (
        AccessCode.objects.filter(
            patient=patient,
            purpose=AccessCode.Purpose.INVITATION,
            used_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=clock.now(),
        )
        .order_by("-created_at")
        .first()
    )
    if user is not None and user.is_active:
        state = "active"
    elif invitation is not None:
        state = "invited"
    else:
        state = "deactivated" if user is not None else "none"
    return {
        "state": state,
        "username": user.get_username() if user is not None else "",
        "invitation_expires_at": invitation.expires_at if invitation else None,
        "invitation_sent_via": invitation.sent_via.split(",") if invitation and invitation.sent_via else [],
    }
