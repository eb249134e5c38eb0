"""Delivering due reminders: claim, re-check, send after the claim commits, record the outcome.

The send-once rule rests on three things:

1. **Claiming** is one statement: a CTE chooses the batch (``FOR UPDATE SKIP LOCKED``), an
   ``UPDATE`` moves those rows to ``sending`` with a lease and bumps ``attempts``. Two beats or a
   task delivered twice claim disjoint rows; a row already sent is never claimed again.
2. Every later write is **fenced**: ``WHERE status='sending' AND attempts=<the claim's>``,
   so a worker whose lease expired (and whose row was claimed again) cannot overwrite
   the newer attempt's outcome.
3. The provider is told the **idempotency key** (an ``Idempotency-Key`` header, the e-mail
   Message-ID), which covers the one window the database cannot: a worker killed after
   the provider accepted a message and before the outcome was recorded. The row's lease
   then expires, it is claimed again and re-sent with the same key.

The lease (``REMINDERS_LEASE_SECONDS``) must exceed the task's hard time limit so a
live worker's rows are never taken from it.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from clinic import clock
from patients.models import Channel
from reminders import rules
from reminders.channels import OutgoingMessage, PermanentSendError, TransientSendError, get_channel
from reminders.content import render
from reminders.models import PushDevice, Reason, Reminder, ReminderStatus, SmsOptOut
from reminders.services import deactivate_push_tokens
from reminders.targets import TARGETS, EventDetails, still_valid, target_of

logger = logging.getLogger(__name__)

# Namespace of the per-patient advisory lock that serialises the SMS cap check.
_SMS_CAP_LOCK = 4_004

# The rows are chosen once, in a CTE, then updated. Written as ``WHERE id IN (SELECT ... LIMIT n
# FOR UPDATE SKIP LOCKED)`` the LIMIT bounded nothing once PostgreSQL planned a nested-loop semi join:
# it ran the subquery again for each row, each run skipped the rows the statement had just updated
# and took the next due one, and a batch of 1 claimed every due row (found at six of the ten CI
# instants; tests/reminders/test_claims.py holds that plan).
_CLAIM_SQL = """
WITH chosen AS MATERIALIZED (
       SELECT id FROM reminders_reminder
        WHERE (status = 'pending' AND send_after <= %(now)s)
           OR (status = 'sending' AND lease_expires_at < %(now)s)
        ORDER BY send_after
        LIMIT %(limit)s
          FOR UPDATE SKIP LOCKED)
UPDATE reminders_reminder AS r
   SET status = 'sending', lease_expires_at = %(lease)s, attempts = r.attempts + 1, updated_at = %(now)s,
       merged_into_id = NULL, cleared_at = NULL
  FROM chosen
 WHERE r.id = chosen.id
RETURNING r.id, r.attempts
"""


# Successful sends are recorded in groups: one fenced UPDATE (and one commit) per group
# instead of per message, which is what the throughput hangs on (a commit waits for the WAL
# flush). The price: a worker killed between sending and recording re-sends up to a group's
# messages under the same idempotency keys (REMINDERS_RECORD_EVERY; 1 restores per-row).
_RECORD_SENT_SQL = """
UPDATE reminders_reminder AS r
   SET status = 'sent', status_reason = '', sent_at = %(now)s, lease_expires_at = NULL, last_error = '',
       provider_message_id = v.provider_message_id, updated_at = %(now)s
  FROM unnest(%(ids)s::bigint[], %(attempts)s::integer[], %(pids)s::text[]) AS v(id, attempt, provider_message_id)
 WHERE r.id = v.id AND r.status = 'sending' AND r.attempts = v.attempt
RETURNING r.id
"""


def claim_due(*, limit: int, now: dt.datetime | None = None) -> list[tuple[int, int]]:
    """Claim up to ``limit`` due rows (and rows whose lease expired): ``[(id, attempt), ...]``."""
    now = now or clock.now()
    lease = now + dt.timedelta(seconds=settings.REMINDERS_LEASE_SECONDS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"now": now, "lease": lease, "limit": limit})
        return [(row[0], row[1]) for row in cursor.fetchall()]


@dataclass
class _Held:
    """A row this worker holds, with the fence value of its claim."""

    reminder: Reminder
    attempt: int
    details: EventDetails | None = None
    companions: list[_Held] = field(default_factory=list)


@dataclass
class BatchResult:
    sent: int = 0
    deferred: int = 0
    suppressed: int = 0
    cancelled: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


def _fenced(held: _Held, **changes) -> bool:
    return (
        Reminder.objects.filter(pk=held.reminder.pk, status=ReminderStatus.SENDING, attempts=held.attempt).update(
            updated_at=clock.now(), **changes
        )
        == 1
    )


def _backoff(attempt: int) -> dt.timedelta:
    base = settings.REMINDERS_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0)
    capped = min(base, settings.REMINDERS_RETRY_MAX_SECONDS)
    # Full-range jitter around the exponential step, so a provider outage does not end in a thundering herd.
    return dt.timedelta(seconds=capped * random.uniform(0.5, 1.5))


class Dispatcher:
    def __init__(self, *, now: dt.datetime | None = None) -> None:
        self.fixed_now = now
        self.result = BatchResult()
        self._unrecorded: list[tuple[_Held, str]] = []

    def now(self) -> dt.datetime:
        return self.fixed_now or clock.now()

    # --- loading -----------------------------------------------------------------------------

    def deliver(self, claims: list[tuple[int, int]]) -> BatchResult:
        rows = Reminder.objects.select_related("patient").in_bulk([pk for pk, _ in claims])
        held = [_Held(rows[pk], attempt) for pk, attempt in claims if pk in rows]
        self._load_context([h.reminder for h in held])
        by_patient_sms: dict[int, list[_Held]] = defaultdict(list)
        try:
            for item in held:
                if not self._prepare(item):
                    continue
                if item.reminder.channel == Channel.SMS:
                    by_patient_sms[item.reminder.patient_id].append(item)
                else:
                    self._send(item)
            for group in by_patient_sms.values():
                # Same-day texts of one patient in this batch go out as one message.
                group.sort(key=lambda h: h.reminder.event_at)
                primary, rest = group[0], group[1:]
                self._send_sms(primary, in_batch=rest)
        finally:
            self._flush_sent()
        return self.result

    def _load_context(self, reminders: list[Reminder]) -> None:
        self.targets: dict[str, dict] = {}
        for name, kind in TARGETS.items():
            ids = {getattr(r, f"{kind.fk_field}_id") for r in reminders} - {None}
            self.targets[name] = kind.load(ids) if ids else {}
        phones = {r.patient.phone for r in reminders if r.channel == Channel.SMS and r.patient.phone}
        self.opted_out = set(SmsOptOut.objects.filter(phone__in=phones).values_list("phone", flat=True))
        push_patients = {r.patient_id for r in reminders if r.channel == Channel.PUSH}
        self.devices: dict[int, list[str]] = defaultdict(list)
        for patient_id, token in PushDevice.objects.filter(patient_id__in=push_patients, is_active=True).values_list(
            "patient_id", "token"
        ):
            self.devices[patient_id].append(token)

    # --- the send-time rules -------------------------------------------------------------------

    def _prepare(self, held: _Held) -> bool:
        """Re-check target and rules; finish the row and return False unless it should be sent now."""
        reminder, now = held.reminder, self.now()
        kind, target_id = target_of(reminder)
        target = self.targets[kind.name].get(target_id)
        if not still_valid(kind, target, reminder, now=now):
            self._finish(held, ReminderStatus.CANCELLED, Reason.TARGET_GONE)
            return False
        decision = rules.channel_rules(
            channel=reminder.channel,
            patient=reminder.patient,
            opted_out=reminder.patient.phone in self.opted_out,
            has_devices=bool(self.devices.get(reminder.patient_id)),
        )
        if decision.action == "send":
            decision = rules.timing_rules(now=now, event_at=reminder.event_at, patient=reminder.patient)
        if decision.action == "defer":
            # A deferral is not a failed attempt: give the attempt back.
            if _fenced(held, status=ReminderStatus.PENDING, send_after=decision.until, lease_expires_at=None,
                       attempts=F("attempts") - 1):  # fmt: skip
                self.result.deferred += 1
            return False
        if decision.action != "send":
            self._finish(held, ReminderStatus.SUPPRESSED, decision.reason)
            return False
        held.details = kind.details(target)
        return True

    def _finish(self, held: _Held, status: str, reason: str, error: str = "") -> None:
        if _fenced(held, status=status, status_reason=reason, lease_expires_at=None, last_error=error[:2000]):
            counter = {"cancelled": "cancelled", "suppressed": "suppressed", "failed": "failed"}[status]
            setattr(self.result, counter, getattr(self.result, counter) + 1)
        else:
            self.result.skipped += 1

    def _clear_sms(self, held: _Held, in_batch: list[_Held]) -> str | None:
        """The caps and the merge, serialised per patient. Returns a suppression reason, "" to send, None if lost."""
        reminder, now = held.reminder, self.now()
        patient = reminder.patient
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_SMS_CAP_LOCK, patient.pk])
            day_start, week_start = rules.sms_window_starts(now=now, patient=patient)
            cleared = list(
                Reminder.objects.filter(
                    patient=patient,
                    channel=Channel.SMS,
                    merged_into__isnull=True,
                    status__in=(ReminderStatus.SENDING, ReminderStatus.SENT),
                    cleared_at__gte=week_start,
                )
                .exclude(pk=reminder.pk)
                .values_list("cleared_at", flat=True)
            )
            if sum(1 for at in cleared if at >= day_start) >= settings.REMINDERS_SMS_DAILY_CAP:
                return Reason.DAILY_CAP
            if len(cleared) >= settings.REMINDERS_SMS_WEEKLY_CAP:
                return Reason.WEEKLY_CAP
            if not _fenced(held, cleared_at=now):
                return None
            # Merge: the other texts of this patient that are due now ride along, and so do those
            # due within REMINDERS_MERGE_EARLY_MINUTES (never one due later: it goes at its own time,
            # which the daily cap may then hold back), and never one due after the local day ends.
            day_end = rules.local_day_end(now=now, patient=patient)
            due_by = min(rules.merge_horizon(now=now), day_end)
            companions = [h for h in in_batch if h.reminder.send_after <= due_by]
            later = list(
                Reminder.objects.select_for_update(skip_locked=True)
                .filter(
                    patient=patient,
                    channel=Channel.SMS,
                    status=ReminderStatus.PENDING,
                    send_after__lte=due_by,
                    send_after__lt=day_end,
                    event_at__gt=now,
                )
                .exclude(pk=reminder.pk)
                .order_by("event_at")[:5]
            )
            lease = now + dt.timedelta(seconds=settings.REMINDERS_LEASE_SECONDS)
            if later:
                for other in later:
                    other.patient = patient
                    kind, target_id = target_of(other)
                    target = kind.load([target_id]).get(target_id)
                    if not still_valid(kind, target, other, now=now):
                        continue  # cancelled when its own turn comes
                    Reminder.objects.filter(pk=other.pk).update(
                        status=ReminderStatus.SENDING, lease_expires_at=lease, updated_at=now
                    )
                    companions.append(_Held(other, other.attempts, details=kind.details(target)))
            for companion in companions:
                _fenced(companion, merged_into=reminder, cleared_at=now)
            held.companions = companions
        return ""

    # --- sending ---------------------------------------------------------------------------------

    def _send_sms(self, held: _Held, *, in_batch: list[_Held]) -> None:
        verdict = self._clear_sms(held, in_batch)
        if verdict is None:
            self.result.skipped += 1
            return
        if verdict:
            self._finish(held, ReminderStatus.SUPPRESSED, verdict)
            for other in in_batch:
                self._finish(other, ReminderStatus.SUPPRESSED, verdict)
            return
        for other in in_batch:
            if other not in held.companions:
                # Due another day (rare within one batch): release it for its own turn.
                _fenced(other, status=ReminderStatus.PENDING, lease_expires_at=None, attempts=F("attempts") - 1)
        self._send(held)

    def _message(self, held: _Held) -> OutgoingMessage:
        reminder = held.reminder
        patient = reminder.patient
        items = [held.details, *(c.details for c in held.companions)]
        rendered = render(channel=reminder.channel, items=items, patient=patient)
        if reminder.channel == Channel.SMS:
            to: tuple[str, ...] = (patient.phone,)
        elif reminder.channel == Channel.EMAIL:
            to = (patient.email,)
        else:
            to = tuple(self.devices.get(reminder.patient_id, ()))
        return OutgoingMessage(
            channel=reminder.channel,
            to=to,
            body=rendered.body,
            subject=rendered.subject,
            title=rendered.title,
            idempotency_key=reminder.idempotency_key,
        )

    def _send(self, held: _Held) -> None:
        reminder = held.reminder
        try:
            outcome = get_channel(reminder.channel).send(self._message(held))
        except PermanentSendError as error:
            self._finish(held, ReminderStatus.FAILED, Reason.PROVIDER_REJECTED, str(error))
            self._release(held.companions)
            return
        except TransientSendError as error:
            self._retry_or_fail(held, str(error))
            return
        except Exception as error:  # a bug or an unexpected library error: bounded by max attempts, kept for staff
            logger.exception("reminder %s: unexpected error while sending", reminder.pk)
            self._retry_or_fail(held, f"{type(error).__name__}: {error}")
            return
        if outcome.dead_tokens:
            deactivate_push_tokens(tokens=outcome.dead_tokens)
        self._record_sent(held, outcome.provider_message_id)

    def _record_sent(self, held: _Held, provider_message_id: str) -> None:
        if not held.companions:
            self._unrecorded.append((held, provider_message_id[:128]))
            if len(self._unrecorded) >= settings.REMINDERS_RECORD_EVERY:
                self._flush_sent()
            return
        # A merged text records its companions in the same transaction as itself.
        now = self.now()
        with transaction.atomic():
            recorded = _fenced(
                held,
                status=ReminderStatus.SENT,
                status_reason="",
                sent_at=now,
                lease_expires_at=None,
                last_error="",
                provider_message_id=provider_message_id[:128],
            )
            for companion in held.companions:
                _fenced(
                    companion,
                    status=ReminderStatus.SENT,
                    sent_at=now,
                    lease_expires_at=None,
                    provider_message_id=provider_message_id[:128],
                )
        if recorded:
            self.result.sent += 1 + len(held.companions)
        else:
            # Our lease expired and another worker holds the row: it re-sends with the same key.
            logger.warning("reminder %s: sent, but the lease had passed to another worker", held.reminder.pk)
            self.result.skipped += 1

    def _flush_sent(self) -> None:
        if not self._unrecorded:
            return
        pending, self._unrecorded = self._unrecorded, []
        now = self.now()
        with connection.cursor() as cursor:
            cursor.execute(
                _RECORD_SENT_SQL,
                {
                    "now": now,
                    "ids": [held.reminder.pk for held, _ in pending],
                    "attempts": [held.attempt for held, _ in pending],
                    "pids": [pid for _, pid in pending],
                },
            )
            recorded = {row[0] for row in cursor.fetchall()}
        self.result.sent += len(recorded)
        for held, _ in pending:
            if held.reminder.pk not in recorded:
                # Our lease expired and another worker holds the row: it re-sends with the same key.
                logger.warning("reminder %s: sent, but the lease had passed to another worker", held.reminder.pk)
                self.result.skipped += 1

    def _retry_or_fail(self, held: _Held, error: str) -> None:
        self._release(held.companions)
        if held.attempt >= settings.REMINDERS_MAX_ATTEMPTS:
            self._finish(held, ReminderStatus.FAILED, Reason.RETRIES_EXHAUSTED, error)
            return
        retry_at = self.now() + _backoff(held.attempt)
        if _fenced(
            held, status=ReminderStatus.PENDING, send_after=retry_at, lease_expires_at=None, last_error=error[:2000],
            cleared_at=None,
        ):  # fmt: skip
            self.result.retried += 1

    def _release(self, companions: list[_Held]) -> None:
        for companion in companions:
            _fenced(companion, status=ReminderStatus.PENDING, lease_expires_at=None, merged_into=None, cleared_at=None)


def deliver_due(*, batch_size: int | None = None, budget_seconds: float | None = None) -> BatchResult:
    """Claim and deliver batches until nothing is due or the time budget is spent."""
    batch_size = batch_size or settings.REMINDERS_BATCH_SIZE
    deadline = time.monotonic() + (budget_seconds or settings.REMINDERS_WORKER_BUDGET_SECONDS)
    total = BatchResult()
    while time.monotonic() < deadline:
        claims = claim_due(limit=batch_size)
        if not claims:
            break
        result = Dispatcher().deliver(claims)
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(result, name))
    return total
