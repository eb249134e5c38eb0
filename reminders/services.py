"""Writes for reminders: planning and cancelling the outbox, SMS opt-outs, push devices, staff follow-ups.

Delivery itself lives in ``reminders/dispatch.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from clinic import clock
from clinic.errors import InvalidInput, NotFound
from patients.models import Channel, Patient
from programs.models import Program
from reminders.models import FollowUpItem, PushDevice, Reason, Reminder, ReminderStatus, SmsOptOut
from reminders.targets import TARGETS

# TCPA opt-out words (DOMAIN.md) and the usual carrier variants; START/UNSTOP resubscribe.
STOP_KEYWORDS = frozenset({"STOP", "QUIT", "END", "REVOKE", "OPT OUT", "OPTOUT", "CANCEL", "UNSUBSCRIBE", "STOPALL"})
START_KEYWORDS = frozenset({"START", "UNSTOP"})

# --- planning -------------------------------------------------------------------------------


def plan_for(*, target: str, ids: Iterable[int] | None = None, now: dt.datetime | None = None) -> int:
    """Create the reminders the targets want (one row per planned reminder and channel); existing ones stay.

    Set-based and idempotent: one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` on the
    unique idempotency key (the target's ``plan_sql`` times the channels), so the sweep, a
    retried task and the call right after a target is created can all run it at once without
    duplicates, and planning a thousand targets costs what planning one does plus the rows.
    Returns the rows offered (planned reminders times channels, inserted or already there).

    A reminder planned after its due time (a booking made five hours before a session
    still gets its 24-hour reminder) may be sent from the moment it is planned:
    ``send_after`` is the later of the due time and ``now``. It is not *late* (the
    dashboard's "is a worker down?") until a worker has had the chance to send it.
    """
    now = now or clock.now()
    kind = TARGETS[target]
    if ids is not None:
        ids = list(ids)
        if not ids:
            return 0
    planned_sql, params = kind.plan_sql(ids=ids, now=now)
    fk_column = Reminder._meta.get_field(kind.fk_field).column
    sql = f"""
        WITH planned AS ({planned_sql}),
        inserted AS (
            INSERT INTO {Reminder._meta.db_table} (public_id, created_at, updated_at, patient_id, {fk_column}, kind,
                        channel, due_at, event_at, send_after, status, status_reason, attempts, last_error,
                        provider_message_id, idempotency_key)
            SELECT gen_random_uuid(), %(stamp)s, %(stamp)s, p.patient_id, p.target_id, p.kind, ch.channel, p.due_at,
                   p.event_at, GREATEST(p.due_at, %(now)s), %(pending)s, '', 0, '', '', p.key || ':' || ch.channel
              FROM planned p CROSS JOIN unnest(%(channels)s::text[]) AS ch(channel)
            ON CONFLICT DO NOTHING
            RETURNING 1)
        SELECT (SELECT count(*) FROM planned), (SELECT count(*) FROM inserted)
    """
    channels = list(settings.REMINDERS_CHANNELS)
    params = {**params, "stamp": clock.now(), "now": now, "pending": ReminderStatus.PENDING, "channels": channels}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        planned, _inserted = cursor.fetchone()
    return planned * len(channels)


def cancel_for(*, target: str, ids: Iterable[int]) -> int:
    """Cancel the pending reminders of these targets (a cancelled check-in, a cancelled or moved booking).

    Call it inside the transaction that cancels the target, so the two commit together.
    Rows already claimed by a worker are re-checked by it just before sending.
    """
    kind = TARGETS[target]
    return Reminder.objects.filter(**{f"{kind.fk_field}__in": list(ids)}, status=ReminderStatus.PENDING).update(
        status=ReminderStatus.CANCELLED, status_reason=Reason.TARGET_GONE, updated_at=clock.now()
    )


def cancel_stale(*, now: dt.datetime | None = None) -> int:
    """Cancel pending reminders whose target is no longer valid, whatever path changed it."""
    cancelled = 0
    for kind in TARGETS.values():
        cancelled += (
            kind.stale()
            .filter(status=ReminderStatus.PENDING)
            .update(status=ReminderStatus.CANCELLED, status_reason=Reason.TARGET_GONE, updated_at=now or clock.now())
        )
    return cancelled


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic safety net: plan what is missing, cancel what is stale."""
    now = now or clock.now()
    planned = {name: plan_for(target=name, now=now) for name in TARGETS}
    return {**planned, "cancelled": cancel_stale(now=now)}


# --- SMS opt-out --------------------------------------------------------------------------------


def normalize_keyword(body: str) -> str:
    return " ".join(body.upper().split()).strip(" .!")


def handle_inbound_sms(*, from_phone: str, body: str) -> str | None:
    """Apply a STOP/START reply at once. Returns "opted_out", "opted_in" or None for other text."""
    keyword = normalize_keyword(body)
    with transaction.atomic():
        if keyword in STOP_KEYWORDS:
            SmsOptOut.objects.get_or_create(phone=from_phone, defaults={"keyword": keyword[:16]})
            # Pending texts to that number are suppressed now, not only when they come due.
            Reminder.objects.filter(
                patient__phone=from_phone, channel=Channel.SMS, status=ReminderStatus.PENDING
            ).update(status=ReminderStatus.SUPPRESSED, status_reason=Reason.OPTED_OUT, updated_at=clock.now())
            return "opted_out"
        if keyword in START_KEYWORDS:
            SmsOptOut.objects.filter(phone=from_phone).delete()
            return "opted_in"
    return None


# --- push devices -----------------------------------------------------------------------------------


def register_push_device(*, patient: Patient, token: str, platform: str) -> PushDevice:
    token = token.strip()
    if not token:
        raise InvalidInput("The device token is empty.", field="token")
    if platform not in {"ios", "android", "web"}:
        raise InvalidInput(f"Unknown platform {platform!r}.", field="platform")
    with transaction.atomic():
        # A token moves with a reinstall or a new login: it belongs to whoever registered it last.
        device, _ = PushDevice.objects.update_or_create(
            token=token, defaults={"patient": patient, "platform": platform, "is_active": True}
        )
        return device


def deactivate_push_tokens(*, tokens: Iterable[str]) -> int:
    return PushDevice.objects.filter(token__in=list(tokens), is_active=True).update(
        is_active=False, updated_at=clock.now()
    )


def remove_push_device(*, patient: Patient, device: PushDevice) -> None:
    """The patient app signs out or turns push off: the token is forgotten, not only deactivated."""
    deleted, _ = PushDevice.objects.filter(pk=device.pk, patient=patient).delete()
    if not deleted:
        raise NotFound("No such device.")


# --- staff follow-ups ---------------------------------------------------------------------------


def open_follow_up(
    *,
    program: Program,
    patient: Patient,
    kind: FollowUpItem.Kind | str,
    urgency: FollowUpItem.Urgency | str = FollowUpItem.Urgency.ROUTINE,
    details: str = "",
) -> FollowUpItem:
    """Work for the program's staff. It is never a message to the patient."""
    if kind not in FollowUpItem.Kind.values:
        raise InvalidInput(f"Unknown follow-up kind {kind!r}.", field="kind")
    if urgency not in FollowUpItem.Urgency.values:
        raise InvalidInput(f"Unknown urgency {urgency!r}.", field="urgency")
    with transaction.atomic():
        return FollowUpItem.objects.create(
            program=program, patient=patient, kind=kind, urgency=urgency, details=details.strip()
        )


def resolve_follow_up(*, item: FollowUpItem, resolved_by: AbstractBaseUser, note: str = "") -> FollowUpItem:
    with transaction.atomic():
        item = FollowUpItem.objects.select_for_update().get(pk=item.pk)
        if item.status == FollowUpItem.Status.RESOLVED:
            raise InvalidInput("This follow-up is already resolved.")
        item.status = FollowUpItem.Status.RESOLVED
        item.resolved_by = resolved_by
        item.resolved_at = clock.now()
        item.resolution_note = note.strip()
        item.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note", "updated_at"])
        return item
