"""Claiming and fencing, stepped through in a fixed order (issue 18).

The two-worker tests in ``test_pipeline.py`` hope for an overlap; these do not: one connection
claims and holds its transaction while a second claims, and a stale worker records after its
row was claimed again. Each step happens in the order written, every run.
"""

import datetime as dt
import threading

import pytest
from django.db import OperationalError, connection, transaction

from reminders import dispatch, services
from reminders.models import Reminder, ReminderStatus

ALWAYS_AWAKE = {"quiet_hours_start": dt.time(0, 0), "quiet_hours_end": dt.time(0, 0)}


def noon_tomorrow(today: dt.date) -> dt.datetime:
    """The claims compare with the instant they are given; the check-ins are due two days later."""
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(12, 0), tzinfo=dt.UTC)


@pytest.fixture
def due_emails(make_checkin, today, settings, locmem_channels):
    """``n`` e-mail reminders due now (e-mail: recorded by the grouped "sent" UPDATE, not the SMS path)."""
    settings.REMINDERS_CHANNELS = ["email"]

    def make(n: int, now: dt.datetime) -> list[int]:
        checkins = [make_checkin(due_on=today + dt.timedelta(days=3), **ALWAYS_AWAKE) for _ in range(n)]
        services.plan_for(target="checkin", ids=[c.pk for c in checkins], now=now - dt.timedelta(hours=1))
        Reminder.objects.exclude(kind="day_before").delete()
        rows = Reminder.objects.filter(kind="day_before", status=ReminderStatus.PENDING)
        for offset, pk in enumerate(rows.order_by("pk").values_list("pk", flat=True)):
            # Distinct due times, so the claim's ORDER BY send_after is one fixed order.
            Reminder.objects.filter(pk=pk).update(send_after=now - dt.timedelta(minutes=30 - offset))
        return list(rows.order_by("send_after").values_list("pk", flat=True))

    return make


@pytest.mark.django_db
def test_a_stale_worker_cannot_mark_sent_a_row_claimed_again(due_emails, today, settings, locmem_channels):
    settings.REMINDERS_RECORD_EVERY = 25  # both rows go through the one grouped, fenced UPDATE
    now = noon_tomorrow(today)
    ids = due_emails(2, now)
    stale = dispatch.claim_due(limit=10, now=now)
    assert sorted(pk for pk, _ in stale) == sorted(ids) and {a for _, a in stale} == {1}
    # Worker A stalls past its lease; worker B claims the same rows again (attempt 2).
    later = now + dt.timedelta(seconds=settings.REMINDERS_LEASE_SECONDS + 1)
    fresh = dispatch.claim_due(limit=10, now=later)
    assert sorted(fresh) == sorted((pk, 2) for pk in ids)

    # A wakes up and finishes its batch: it sends (same idempotency keys), then records in one group.
    result = dispatch.Dispatcher(now=later).deliver(stale)
    assert (result.sent, result.skipped) == (0, 2)
    rows = Reminder.objects.filter(pk__in=ids)
    assert {(r.status, r.attempts, r.sent_at) for r in rows} == {(ReminderStatus.SENDING, 2, None)}
    assert all(r.lease_expires_at is not None for r in rows)  # B's lease stands

    # B's outcome is the one recorded.
    result = dispatch.Dispatcher(now=later).deliver(fresh)
    assert result.sent == 2
    assert {(r.status, r.attempts) for r in rows.all()} == {(ReminderStatus.SENT, 2)}
    assert len({m.idempotency_key for m in locmem_channels}) == 2 and len(locmem_channels) == 4


@pytest.mark.django_db(transaction=True)
def test_a_second_claim_skips_the_rows_an_open_claim_holds(due_emails, today):
    """Connection A claims and keeps its transaction open; connection B claims meanwhile.

    B must neither wait for A's rows (SKIP LOCKED) nor take them: it gets the rest, at once.
    """
    now = noon_tomorrow(today)
    ids = due_emails(5, now)
    second: dict = {}

    def claim_on_b() -> None:
        try:
            with connection.cursor() as cursor:  # this thread's own connection
                # Waiting for A's locks would hang the test; fail within two seconds instead.
                cursor.execute("SET lock_timeout = '2s'")
            second["claims"] = dispatch.claim_due(limit=10, now=now)
        except OperationalError as error:
            second["error"] = error
        finally:
            connection.close()

    with transaction.atomic():  # A's transaction, held open across B's claim
        first = dispatch.claim_due(limit=2, now=now)
        assert sorted(first) == sorted([(ids[0], 1), (ids[1], 1)])  # the two due first
        b = threading.Thread(target=claim_on_b)
        b.start()
        b.join(timeout=20)
        assert not b.is_alive()
    assert "error" not in second, f"B waited for A's locks instead of skipping them: {second.get('error')}"
    assert sorted(second["claims"]) == sorted((pk, 1) for pk in ids[2:])
    # Every row claimed exactly once, by one of the two.
    assert set(Reminder.objects.filter(pk__in=ids).values_list("status", "attempts")) == {(ReminderStatus.SENDING, 1)}


@pytest.mark.django_db(transaction=True)
def test_a_claim_after_the_holder_commits_finds_nothing_left_of_its_rows(due_emails, today):
    now = noon_tomorrow(today)
    ids = due_emails(3, now)
    assert sorted(pk for pk, _ in dispatch.claim_due(limit=10, now=now)) == sorted(ids)
    # The lease still runs: a second beat, or the same task delivered twice, gets nothing.
    assert dispatch.claim_due(limit=10, now=now + dt.timedelta(seconds=1)) == []


@pytest.mark.django_db
def test_a_claim_takes_no_more_than_its_limit_whatever_plan_postgresql_picks(due_emails, today):
    """The batch size bounds a claim even when PostgreSQL would run the choice of rows once per row.

    The instants run found it (batch size 1, two rows in flight): with statistics that call the
    table a handful of rows, ``WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` became a
    nested-loop semi join that ran the subquery again for each row of the table, and each run skipped
    the rows the statement had just updated and locked, so took the next due one.
    """
    now = noon_tomorrow(today)
    due_emails(1, now)
    with connection.cursor() as cursor:
        # Statistics taken at one row and planner costs that make a sort dear: PostgreSQL then joins the
        # table to the subquery row by row and runs the subquery again for each row.
        cursor.execute("ANALYZE reminders_reminder")
        for costly in ("hashjoin", "hashagg", "mergejoin", "sort", "material"):
            cursor.execute(f"SET LOCAL enable_{costly} = off")
    ids = due_emails(3, now)
    claims = dispatch.claim_due(limit=1, now=now)
    assert claims == [(ids[0], 1)]
    assert Reminder.objects.filter(pk__in=ids, status=ReminderStatus.SENDING).count() == 1
