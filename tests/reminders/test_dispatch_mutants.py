"""Delivery's outcomes, recorded and counted exactly (mutation testing, issue 18).

The provider here is `ScriptedChannel`, a backend configured like any other
(`REMINDERS_*_BACKEND`) that answers each message with what the test scripted: a result, or
the refusal a real provider's client raises (`PermanentSendError`, `TransientSendError`, or an
unexpected error). Everything behind it (claims, fences, the database) is the real thing.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from zoneinfo import ZoneInfo

import psycopg
import pytest
import time_machine
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from clinic import clock
from programs import services as journey
from programs.models import AftercareCheckIn
from reminders import dispatch, services
from reminders.channels import BaseChannel, PermanentSendError, SendResult, TransientSendError, _backend
from reminders.models import PushDevice, Reason, Reminder, ReminderStatus, SmsOptOut
from tests.factories import PatientFactory
from tests.reminders.conftest import reminder_for
from tests.scheduling.conftest import make_series

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
D = dt.timedelta


class ScriptedChannel(BaseChannel):
    """The provider's answers in order (an exception to raise or a SendResult); then it accepts."""

    answers: list = []
    sent: list = []
    on_send = None  # what happens at the provider while a message is out (another worker, say)

    def send(self, message):
        self.sent.append(message)
        if self.on_send is not None:
            type(self).on_send(message)
        answer = self.answers.pop(0) if self.answers else SendResult(provider_message_id=f"p-{message.idempotency_key}")
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture
def provider(settings):
    path = f"{__name__}.ScriptedChannel"
    settings.REMINDERS_SMS_BACKEND = settings.REMINDERS_EMAIL_BACKEND = settings.REMINDERS_PUSH_BACKEND = path
    settings.REMINDERS_MAX_ATTEMPTS = 3
    settings.REMINDERS_RETRY_BASE_SECONDS = 60.0
    settings.REMINDERS_RETRY_MAX_SECONDS = 3600.0
    ScriptedChannel.answers, ScriptedChannel.sent, ScriptedChannel.on_send = [], [], None
    _backend.cache_clear()
    yield ScriptedChannel
    ScriptedChannel.answers, ScriptedChannel.sent, ScriptedChannel.on_send = [], [], None


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK).astimezone(dt.UTC)


def deliver(now: dt.datetime) -> dispatch.BatchResult:
    return dispatch.Dispatcher(now=now).deliver(dispatch.claim_due(limit=100, now=now))


@pytest.fixture
def planned(make_checkin, today, settings):
    """A check-in due the day after tomorrow, its reminders planned on the channels given."""

    def make(*channels: str, **patient_fields) -> AftercareCheckIn:
        settings.REMINDERS_CHANNELS = list(channels)
        checkin = make_checkin(due_on=today + D(days=2), **patient_fields)
        services.plan_for(target="checkin", ids=[checkin.pk], now=at(today, 9))
        return checkin

    return make


@pytest.fixture
def due_at(today):
    return at(today + D(days=1), 10, 5)  # the day-before reminders are due at 10:00


# --- A provider's refusal, a retry, giving up ------------------------------------------------------


def test_a_refused_message_fails_with_the_providers_words_cut_to_2000_characters(planned, due_at, provider):
    checkin = planned("email")
    words = "550 mailbox unavailable " + "x" * 2100
    provider.answers = [PermanentSendError(words)]

    assert deliver(due_at) == dispatch.BatchResult(failed=1)

    row = reminder_for(checkin, channel="email", kind="day_before")
    assert (row.status, row.status_reason, row.lease_expires_at) == (
        ReminderStatus.FAILED,
        Reason.PROVIDER_REJECTED,
        None,
    )
    assert row.last_error == words[:2000]


def test_a_transient_failure_is_retried_after_the_backoff_with_the_error_kept(planned, due_at, provider):
    checkin, other = planned("sms"), planned("sms")
    words = "503 busy " + "y" * 2100
    provider.answers = [TransientSendError(words), TransientSendError("timeout")]

    assert deliver(due_at) == dispatch.BatchResult(retried=2)

    row, other_row = (reminder_for(c, channel="sms", kind="day_before") for c in (checkin, other))
    if row.last_error == "timeout":
        row, other_row = other_row, row
    assert (row.status, row.attempts, row.last_error) == (ReminderStatus.PENDING, 1, words[:2000])
    assert (other_row.status, other_row.last_error) == (ReminderStatus.PENDING, "timeout")
    assert row.lease_expires_at is None and row.cleared_at is None  # the text no longer counts towards the caps
    assert due_at + D(seconds=30) <= row.send_after <= due_at + D(seconds=90)  # 60 s, jittered by half


def test_the_last_allowed_attempt_fails_for_good_and_the_one_before_is_retried(planned, due_at, provider):
    first, second = planned("email"), planned("email")
    reminder_for(first, channel="email", kind="day_before")
    Reminder.objects.filter(checkin=first, kind="day_before").update(attempts=2)  # this claim is attempt 3 of 3
    Reminder.objects.filter(checkin=second, kind="day_before").update(attempts=1)  # attempt 2 of 3
    provider.answers = [TransientSendError("timeout"), TransientSendError("timeout")]

    assert deliver(due_at) == dispatch.BatchResult(retried=1, failed=1)

    gave_up = reminder_for(first, channel="email", kind="day_before")
    assert (gave_up.status, gave_up.status_reason, gave_up.last_error) == (
        ReminderStatus.FAILED,
        Reason.RETRIES_EXHAUSTED,
        "timeout",
    )
    assert reminder_for(second, channel="email", kind="day_before").status == ReminderStatus.PENDING


def test_an_unexpected_error_is_logged_without_patient_data_and_retried(planned, due_at, provider, caplog):
    checkin = planned("email")
    provider.answers = [ValueError("boom")]

    with caplog.at_level(logging.ERROR, logger="reminders.dispatch"):
        assert deliver(due_at) == dispatch.BatchResult(retried=1)

    row = reminder_for(checkin, channel="email", kind="day_before")
    assert (row.status, row.last_error) == (ReminderStatus.PENDING, "ValueError: boom")
    [record] = [r for r in caplog.records if r.name == "reminders.dispatch"]
    assert record.getMessage() == f"reminder {row.pk}: unexpected error while sending"
    assert record.levelname == "ERROR"


def test_backoff_doubles_per_attempt_from_the_base_up_to_the_cap_with_half_jitter(settings):
    settings.REMINDERS_RETRY_BASE_SECONDS = 10.0
    settings.REMINDERS_RETRY_MAX_SECONDS = 100.0
    state = random.getstate()
    random.seed(18)
    try:
        for attempt, step in [(0, 10), (1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
            draws = [dispatch._backoff(attempt).total_seconds() for _ in range(400)]
            assert step * 0.5 <= min(draws) < step * 0.55, attempt
            assert step * 1.45 < max(draws) <= step * 1.5, attempt
    finally:
        random.setstate(state)


# --- What is sent, to whom, and how it is recorded --------------------------------------------------


def test_each_channel_goes_to_the_patients_own_address_and_active_devices(planned, due_at, provider):
    checkin = planned("sms", "email", "push")
    patient = checkin.plan.patient
    PushDevice.objects.create(patient=patient, token="phone-1", platform="ios")
    PushDevice.objects.create(patient=patient, token="tablet-1", platform="android")
    PushDevice.objects.create(patient=patient, token="old-1", platform="ios", is_active=False)
    other = planned("email")
    PushDevice.objects.create(patient=other.plan.patient, token="someone-else", platform="ios")

    assert deliver(due_at) == dispatch.BatchResult(sent=4)

    to = {(m.channel, m.idempotency_key): m.to for m in provider.sent}
    key = {c: reminder_for(checkin, channel=c, kind="day_before").idempotency_key for c in ("sms", "email", "push")}
    assert to[("sms", key["sms"])] == (patient.phone,)
    assert to[("email", key["email"])] == (patient.email,)
    assert sorted(to[("push", key["push"])]) == ["phone-1", "tablet-1"]


def test_a_push_alone_in_its_batch_finds_its_devices(planned, due_at, provider):
    checkin = planned("push")
    PushDevice.objects.create(patient=checkin.plan.patient, token="phone-1", platform="ios")

    assert deliver(due_at) == dispatch.BatchResult(sent=1)
    assert [m.to for m in provider.sent] == [("phone-1",)]


def test_a_text_alone_in_its_batch_respects_the_stop_of_its_number(planned, due_at, provider):
    checkin = planned("sms")
    SmsOptOut.objects.create(phone=checkin.plan.patient.phone, keyword="STOP")

    assert deliver(due_at) == dispatch.BatchResult(suppressed=1)
    row = reminder_for(checkin, channel="sms", kind="day_before")
    assert (row.status, row.status_reason) == (ReminderStatus.SUPPRESSED, Reason.OPTED_OUT)
    assert provider.sent == []


def test_a_device_the_provider_reports_gone_is_deactivated(planned, due_at, provider):
    checkin = planned("push")
    PushDevice.objects.create(patient=checkin.plan.patient, token="phone-1", platform="ios")
    PushDevice.objects.create(patient=checkin.plan.patient, token="tablet-1", platform="ios")
    provider.answers = [SendResult(provider_message_id="fcm-1", dead_tokens=("tablet-1",))]

    assert deliver(due_at) == dispatch.BatchResult(sent=1)
    assert dict(PushDevice.objects.values_list("token", "is_active")) == {"phone-1": True, "tablet-1": False}


def test_a_long_provider_id_is_kept_to_128_characters_and_a_retry_that_succeeds_clears_the_error(
    planned, due_at, provider
):
    checkin = planned("email")
    provider.answers = [TransientSendError("503"), SendResult(provider_message_id="m" * 200)]
    deliver(due_at)
    assert deliver(due_at + D(minutes=5)) == dispatch.BatchResult(sent=1)

    row = reminder_for(checkin, channel="email", kind="day_before")
    assert (row.status, row.status_reason, row.last_error) == (ReminderStatus.SENT, "", "")
    assert row.provider_message_id == "m" * 128 and row.lease_expires_at is None and row.attempts == 2


def test_with_record_every_1_each_send_is_recorded_before_the_next_goes_out(planned, due_at, provider, settings):
    settings.REMINDERS_RECORD_EVERY = 1
    planned("email"), planned("email")
    seen_sent: list[int] = []
    provider.on_send = lambda message: seen_sent.append(Reminder.objects.filter(status=ReminderStatus.SENT).count())

    assert deliver(due_at) == dispatch.BatchResult(sent=2)
    assert seen_sent == [0, 1]


def test_sends_whose_lease_passed_to_another_worker_are_skipped_and_logged(planned, due_at, provider, caplog):
    first, second = planned("email"), planned("email")
    rows = [reminder_for(c, channel="email", kind="day_before") for c in (first, second)]

    def claimed_again(message):
        # While the message is out, another worker claims the row again (our lease had passed).
        Reminder.objects.filter(idempotency_key=message.idempotency_key).update(attempts=F("attempts") + 1)

    provider.on_send = claimed_again
    with caplog.at_level(logging.WARNING, logger="reminders.dispatch"):
        assert deliver(due_at) == dispatch.BatchResult(skipped=2)

    messages = sorted(r.getMessage() for r in caplog.records if r.name == "reminders.dispatch")
    assert messages == sorted(f"reminder {r.pk}: sent, but the lease had passed to another worker" for r in rows)
    assert Reminder.objects.filter(pk__in=[r.pk for r in rows], status=ReminderStatus.SENDING).count() == 2


# --- Before sending: cancelled, deferred, stale claims -------------------------------------------


def test_a_reminder_whose_check_in_is_gone_is_cancelled_and_counted_once(planned, due_at, provider, caplog):
    checkin = planned("sms", "email")
    AftercareCheckIn.objects.filter(pk=checkin.pk).update(status=AftercareCheckIn.Status.CANCELLED)

    with caplog.at_level(logging.WARNING, logger="reminders.dispatch"):
        assert deliver(due_at) == dispatch.BatchResult(cancelled=2)

    assert provider.sent == [] and not [r for r in caplog.records if r.name == "reminders.dispatch"]
    row = reminder_for(checkin, channel="sms", kind="day_before")
    assert (row.status, row.status_reason, row.lease_expires_at) == (ReminderStatus.CANCELLED, Reason.TARGET_GONE, None)


def test_texts_in_quiet_hours_wait_with_their_attempt_given_back_and_no_lease(planned, today, provider):
    first, second = planned("sms"), planned("sms")
    night = at(today + D(days=1), 22, 30)  # the day-before texts are overdue, but it is 22:30

    assert deliver(night) == dispatch.BatchResult(deferred=2)

    for checkin in (first, second):
        row = reminder_for(checkin, channel="sms", kind="day_before")
        assert (row.status, row.attempts, row.lease_expires_at) == (ReminderStatus.PENDING, 0, None)
        assert row.send_after == at(today + D(days=2), 8)
    assert provider.sent == []


def test_stale_claims_finish_nothing_and_are_counted_as_skipped(planned, due_at, provider):
    checkins = [planned("sms"), planned("sms")]
    claims = dispatch.claim_due(limit=10, now=due_at)
    assert len(claims) == 2
    for pk, attempt in claims:
        Reminder.objects.filter(pk=pk).update(attempts=attempt + 1)  # claimed again by another worker
    for checkin in checkins:
        SmsOptOut.objects.create(phone=checkin.plan.patient.phone, keyword="STOP")

    assert dispatch.Dispatcher(now=due_at).deliver(claims) == dispatch.BatchResult(skipped=2)
    for checkin in checkins:
        row = reminder_for(checkin, channel="sms", kind="day_before")
        assert (row.status, row.status_reason) == (ReminderStatus.SENDING, "")


def test_a_batch_of_check_in_reminders_reads_no_booking(planned, due_at, provider):
    planned("email")
    claims = dispatch.claim_due(limit=10, now=due_at)
    with CaptureQueriesContext(connection) as queries:
        dispatch.Dispatcher(now=due_at).deliver(claims)
    assert not [q["sql"] for q in queries.captured_queries if "scheduling_booking" in q["sql"]]


# --- deliver_due: batches until nothing is due -------------------------------------------------------


def test_deliver_due_claims_batch_after_batch_and_adds_up_their_results(planned, today, provider, settings):
    checkins = [planned("email") for _ in range(5)]
    Reminder.objects.filter(checkin__in=checkins, kind="morning_of").update(status=ReminderStatus.CANCELLED)
    with time_machine.travel(at(today + D(days=1), 10, 5), tick=False):
        provider.answers = [PermanentSendError("no")]
        total = dispatch.deliver_due(batch_size=2, budget_seconds=60)
    assert total == dispatch.BatchResult(sent=4, failed=1)
    assert Reminder.objects.filter(status=ReminderStatus.PENDING).count() == 0


def test_deliver_due_uses_the_settings_when_not_told(planned, today, provider, settings):
    settings.REMINDERS_BATCH_SIZE = 1
    settings.REMINDERS_WORKER_BUDGET_SECONDS = 60.0
    checkins = [planned("email").pk, planned("email").pk]
    held_while_sending: list[int] = []
    # Only this test's rows: the count must not depend on what earlier tests left in the table.
    provider.on_send = lambda message: held_while_sending.append(
        Reminder.objects.filter(checkin__in=checkins, status=ReminderStatus.SENDING).count()
    )
    with time_machine.travel(at(today + D(days=1), 10, 5), tick=False):
        assert dispatch.deliver_due() == dispatch.BatchResult(sent=2)
    assert held_while_sending == [1, 1]  # one row claimed per batch


def test_deliver_due_with_no_budget_left_claims_nothing(planned, today, provider):
    planned("email")
    with time_machine.travel(at(today + D(days=1), 10, 5), tick=False):
        assert dispatch.deliver_due(batch_size=10, budget_seconds=-1) == dispatch.BatchResult()
    assert Reminder.objects.filter(status=ReminderStatus.SENDING).count() == 0


# --- Merged texts: released with the text they rode on --------------------------------------------


WEDNESDAY = dt.date(2026, 12, 2)


@pytest.fixture
def merged_pair(iop, clinician, patient, settings):
    """Wednesday 15:35 in New York: two appointments this evening, both 24 h reminders overdue (one text)."""
    settings.REMINDERS_CHANNELS = ["sms"]
    with time_machine.travel(dt.datetime.combine(WEDNESDAY, dt.time(15, 35), tzinfo=NEW_YORK), tick=False):
        for name, start in (("First", dt.time(18, 35)), ("Second", dt.time(19, 35))):
            make_series(iop, clinician, name=name, rule="FREQ=DAILY;COUNT=1", starts_on=WEDNESDAY, start_time=start,
                        duration_minutes=60)  # fmt: skip
        journey.enroll_in_iop(patient=patient, program=iop, start_on=WEDNESDAY, enrolled_by=clinician)
        yield clock.now()


@pytest.fixture
def two_merged_pairs(merged_pair, iop, clinician, patient):
    """The same evening for a second patient of the same groups: two merged texts in one batch."""
    other = PatientFactory(time_zone=patient.time_zone)
    with time_machine.travel(merged_pair, tick=False):
        journey.enroll_in_iop(patient=other, program=iop, start_on=WEDNESDAY, enrolled_by=clinician)
    assert len(_day_before_texts(other)) == 2
    return other


def _day_before_texts(patient):
    return list(Reminder.objects.filter(patient=patient, channel="sms", kind="24h").order_by("event_at"))


@pytest.mark.parametrize(
    "answer, primary_status",
    [(PermanentSendError("refused"), ReminderStatus.FAILED), (TransientSendError("busy"), ReminderStatus.PENDING)],
    ids=["refused", "transient"],
)
def test_a_merged_text_that_fails_releases_its_companion(merged_pair, patient, provider, answer, primary_status):
    rows = _day_before_texts(patient)
    assert len(rows) == 2
    provider.answers = [answer]

    deliver(merged_pair)

    primary, companion = (Reminder.objects.get(pk=r.pk) for r in rows)
    assert primary.status == primary_status
    assert (companion.status, companion.merged_into_id, companion.cleared_at, companion.lease_expires_at) == (
        ReminderStatus.PENDING,
        None,
        None,
        None,
    )


def test_a_merged_text_records_both_reminders_as_sent(merged_pair, patient, provider):
    provider.answers = [SendResult(provider_message_id="t" * 150)]

    assert deliver(merged_pair) == dispatch.BatchResult(sent=2)

    for row in _day_before_texts(patient):
        assert (row.status, row.status_reason, row.last_error, row.lease_expires_at) == (
            ReminderStatus.SENT,
            "",
            "",
            None,
        )
        assert row.provider_message_id == "t" * 128 and row.sent_at == merged_pair
    assert len(provider.sent) == 1


def test_a_merged_text_whose_lease_passed_is_skipped_and_logged(merged_pair, patient, provider, caplog):
    primary = _day_before_texts(patient)[0]
    provider.on_send = lambda message: Reminder.objects.filter(pk=primary.pk).update(attempts=F("attempts") + 1)

    with caplog.at_level(logging.WARNING, logger="reminders.dispatch"):
        assert deliver(merged_pair) == dispatch.BatchResult(skipped=1)

    [record] = [r for r in caplog.records if r.name == "reminders.dispatch"]
    assert record.getMessage() == f"reminder {primary.pk}: sent, but the lease had passed to another worker"


def test_capped_texts_of_one_patient_are_all_suppressed_with_the_cap(merged_pair, patient, provider, settings):
    settings.REMINDERS_SMS_DAILY_CAP = 0

    assert deliver(merged_pair) == dispatch.BatchResult(suppressed=2)

    assert [(r.status, r.status_reason) for r in _day_before_texts(patient)] == [
        (ReminderStatus.SUPPRESSED, Reason.DAILY_CAP)
    ] * 2
    assert provider.sent == []


def test_a_merged_text_marks_both_reminders_cleared_at_its_instant(merged_pair, patient, provider):
    deliver(merged_pair)
    assert [(r.status, r.cleared_at) for r in _day_before_texts(patient)] == [(ReminderStatus.SENT, merged_pair)] * 2


def test_texts_cancelled_by_staff_after_their_claim_are_not_sent(planned, due_at, provider):
    checkins = [planned("sms"), planned("sms")]
    claims = dispatch.claim_due(limit=10, now=due_at)
    rows = [reminder_for(c, channel="sms", kind="day_before") for c in checkins]
    Reminder.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=ReminderStatus.CANCELLED, status_reason=Reason.TARGET_GONE
    )

    assert dispatch.Dispatcher(now=due_at).deliver(claims) == dispatch.BatchResult(skipped=2)

    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.cleared_at) == (ReminderStatus.CANCELLED, None)
    assert provider.sent == []


def test_a_finished_reminder_carries_the_time_it_was_finished_and_no_error(planned, due_at, provider):
    checkin = planned("email")
    AftercareCheckIn.objects.filter(pk=checkin.pk).update(status=AftercareCheckIn.Status.CANCELLED)
    finished_at = due_at + D(minutes=3)  # the worker's clock, a little after the beat's instant

    with time_machine.travel(finished_at, tick=False):
        deliver(due_at)

    row = reminder_for(checkin, channel="email", kind="day_before")
    assert (row.status, row.last_error, row.updated_at) == (ReminderStatus.CANCELLED, "", finished_at)


# --- Two-hour texts: the pending ones due within the window ride along ------------------------------


@pytest.fixture
def evening(iop, clinician, patient, settings):
    """Wednesday in New York, booked at 12:00 (24 h reminders set aside): appointments at 18:35, 18:40, 18:45
    and 20:00, so their 2 h texts are due at 16:35, 16:40, 16:45 and 18:00."""
    settings.REMINDERS_CHANNELS = ["sms"]
    settings.REMINDERS_SMS_DAILY_CAP = 5
    settings.REMINDERS_SMS_WEEKLY_CAP = 10
    with time_machine.travel(dt.datetime.combine(WEDNESDAY, dt.time(12, 0), tzinfo=NEW_YORK), tick=False):
        for name, start in (("A", (18, 35)), ("B", (18, 40)), ("C", (18, 45)), ("D", (20, 0))):
            make_series(iop, clinician, name=name, rule="FREQ=DAILY;COUNT=1", starts_on=WEDNESDAY,
                        start_time=dt.time(*start), duration_minutes=5)  # fmt: skip
        journey.enroll_in_iop(patient=patient, program=iop, start_on=WEDNESDAY, enrolled_by=clinician)
    Reminder.objects.filter(patient=patient, kind="24h").update(status=ReminderStatus.CANCELLED)
    texts = {
        r.booking.session.series.name: r
        for r in Reminder.objects.filter(patient=patient, kind="2h").select_related("booking__session__series")
    }
    assert sorted(texts) == ["A", "B", "C", "D"]
    return texts


def _at_ny(hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(WEDNESDAY, dt.time(hour, minute), tzinfo=NEW_YORK)


def test_pending_texts_due_within_the_window_ride_along_claimed_with_a_lease(evening, patient, provider, settings):
    now = _at_ny(16, 35)
    leases: list = []
    provider.on_send = lambda message: leases.extend(
        Reminder.objects.filter(pk__in=[evening["B"].pk, evening["C"].pk]).values_list("lease_expires_at", flat=True)
    )

    assert deliver(now) == dispatch.BatchResult(sent=3)

    rows = {name: Reminder.objects.get(pk=r.pk) for name, r in evening.items()}
    assert [rows[n].status for n in "ABCD"] == [ReminderStatus.SENT] * 3 + [ReminderStatus.PENDING]
    assert rows["B"].merged_into_id == rows["C"].merged_into_id == rows["A"].pk
    assert len(provider.sent) == 1
    assert leases == [now + D(seconds=settings.REMINDERS_LEASE_SECONDS)] * 2


def test_a_pending_text_whose_appointment_was_cancelled_is_skipped_and_the_next_still_rides(evening, patient, provider):
    from scheduling.models import Booking, CancelReason

    # B's booking is cancelled around the services (its reminder still pending): C, after it, still rides.
    Booking.objects.filter(pk=evening["B"].booking_id).update(
        cancelled_at=_at_ny(13, 0), cancel_reason=CancelReason.STAFF
    )
    deliver(_at_ny(16, 35))
    rows = {name: Reminder.objects.get(pk=r.pk) for name, r in evening.items()}
    assert (rows["B"].status, rows["C"].status, rows["C"].merged_into_id) == (
        ReminderStatus.PENDING,
        ReminderStatus.SENT,
        rows["A"].pk,
    )


def test_only_this_patients_pending_texts_ride_along(evening, patient, provider, iop, clinician):
    from programs.models import Placement

    # Another patient of the same sessions: their own 2 h texts are theirs.
    other = PatientFactory(time_zone=patient.time_zone)
    with time_machine.travel(_at_ny(12, 5), tick=False):
        journey.enroll_in_iop(patient=other, program=iop, start_on=WEDNESDAY, enrolled_by=clinician)
    assert Placement.objects.filter(patient=other).exists()
    Reminder.objects.filter(patient=other, kind="24h").update(status=ReminderStatus.CANCELLED)
    Reminder.objects.filter(patient=other, kind="2h").exclude(booking__session__series__name="B").update(
        status=ReminderStatus.CANCELLED
    )
    # This patient's C is cancelled: a cancelled reminder never rides along.
    Reminder.objects.filter(pk=evening["C"].pk).update(status=ReminderStatus.CANCELLED)

    deliver(_at_ny(16, 35))

    theirs = Reminder.objects.get(patient=other, kind="2h", booking__session__series__name="B")
    assert (theirs.status, theirs.merged_into_id) == (ReminderStatus.PENDING, None)
    assert Reminder.objects.get(pk=evening["C"].pk).status == ReminderStatus.CANCELLED
    assert Reminder.objects.get(pk=evening["B"].pk).status == ReminderStatus.SENT


def test_a_text_claimed_in_the_batch_but_due_later_is_released_for_its_own_turn(evening, patient, provider, settings):
    settings.REMINDERS_MERGE_EARLY_MINUTES = 10
    # The batch was claimed at 18:00 (D is due), but is judged at 16:35: C, due at 16:45, is inside the
    # ten-minute window (its edge included) and rides along; D is no companion of A's text.
    claims = dispatch.claim_due(limit=100, now=_at_ny(18, 0))
    assert len(claims) == 4

    dispatch.Dispatcher(now=_at_ny(16, 35)).deliver(claims)

    c, d = (Reminder.objects.get(pk=evening[n].pk) for n in "CD")
    assert (c.status, c.merged_into_id) == (ReminderStatus.SENT, evening["A"].pk)
    assert (d.status, d.attempts, d.lease_expires_at, d.merged_into_id) == (ReminderStatus.PENDING, 0, None, None)


def test_a_pending_text_whose_appointment_has_begun_does_not_ride_along(evening, patient, provider):
    # B failed for a while and its retry is due at 18:50, after its appointment began (18:40).
    Reminder.objects.filter(pk__in=[evening["A"].pk, evening["C"].pk]).update(status=ReminderStatus.CANCELLED)
    Reminder.objects.filter(pk=evening["B"].pk).update(send_after=_at_ny(18, 50))

    assert deliver(_at_ny(18, 45)) == dispatch.BatchResult(sent=1)  # D's text, alone

    b = Reminder.objects.get(pk=evening["B"].pk)
    assert (b.status, b.merged_into_id) == (ReminderStatus.PENDING, None)


def test_a_merged_text_retried_and_then_sent_clears_the_error_of_both(merged_pair, patient, provider):
    provider.answers = [TransientSendError("busy")]
    deliver(merged_pair)
    assert deliver(merged_pair + D(minutes=2)) == dispatch.BatchResult(sent=2)
    assert [(r.status, r.last_error) for r in _day_before_texts(patient)] == [(ReminderStatus.SENT, "")] * 2


def test_a_text_that_failed_for_good_does_not_count_towards_the_days_cap(evening, patient, provider, settings):
    settings.REMINDERS_SMS_DAILY_CAP = 1
    settings.REMINDERS_MERGE_EARLY_MINUTES = 0
    provider.answers = [PermanentSendError("refused")]
    assert deliver(_at_ny(16, 35)) == dispatch.BatchResult(failed=1)
    assert deliver(_at_ny(16, 40)) == dispatch.BatchResult(sent=1)


def test_a_merged_text_counts_once_towards_the_days_cap(evening, patient, provider, settings):
    settings.REMINDERS_SMS_DAILY_CAP = 2
    assert deliver(_at_ny(16, 35)) == dispatch.BatchResult(sent=3)  # A with B and C: one text
    assert deliver(_at_ny(18, 0)) == dispatch.BatchResult(sent=1)  # the second text of the day


@pytest.fixture
def seven_texts(iop, clinician, patient, settings):
    """Seven two-minute appointments from 18:35 to 18:47: their 2 h texts are due 16:35 to 16:47."""
    settings.REMINDERS_CHANNELS = ["sms"]
    with time_machine.travel(dt.datetime.combine(WEDNESDAY, dt.time(12, 0), tzinfo=NEW_YORK), tick=False):
        for i in range(7):
            make_series(iop, clinician, name=f"S{i}", rule="FREQ=DAILY;COUNT=1", starts_on=WEDNESDAY,
                        start_time=dt.time(18, 35 + 2 * i), duration_minutes=2)  # fmt: skip
        journey.enroll_in_iop(patient=patient, program=iop, start_on=WEDNESDAY, enrolled_by=clinician)
    Reminder.objects.filter(patient=patient, kind="24h").update(status=ReminderStatus.CANCELLED)
    return list(Reminder.objects.filter(patient=patient, kind="2h").order_by("event_at"))


def test_at_most_five_pending_texts_ride_along_the_earliest_first(seven_texts, patient, provider):
    assert len(seven_texts) == 7
    assert deliver(_at_ny(16, 35)) == dispatch.BatchResult(sent=6)
    rows = [Reminder.objects.get(pk=r.pk) for r in seven_texts]
    assert [r.status for r in rows] == [ReminderStatus.SENT] * 6 + [ReminderStatus.PENDING]


def test_a_pending_text_due_at_local_midnight_waits_for_its_own_day(iop, clinician, patient, settings, provider):
    settings.REMINDERS_CHANNELS = ["sms"]
    thursday = WEDNESDAY + D(days=1)
    with time_machine.travel(dt.datetime.combine(WEDNESDAY, dt.time(12, 0), tzinfo=NEW_YORK), tick=False):
        for name, start in (("Late", dt.time(1, 50)), ("Later", dt.time(2, 0))):
            make_series(iop, clinician, name=name, rule="FREQ=DAILY;COUNT=1", starts_on=thursday, start_time=start,
                        duration_minutes=5)  # fmt: skip
        journey.enroll_in_iop(patient=patient, program=iop, start_on=WEDNESDAY, enrolled_by=clinician)
    Reminder.objects.filter(patient=patient, kind="24h").update(status=ReminderStatus.CANCELLED)
    _late, later = Reminder.objects.filter(patient=patient, kind="2h").order_by("event_at")
    assert later.send_after == dt.datetime.combine(thursday, dt.time(0, 0), tzinfo=NEW_YORK)

    # At 23:50 the texts would wait for the end of quiet hours: this patient has none (equal ends).
    type(patient).objects.filter(pk=patient.pk).update(quiet_hours_start=dt.time(0), quiet_hours_end=dt.time(0))
    assert deliver(_at_ny(23, 50)) == dispatch.BatchResult(sent=1)

    later.refresh_from_db()
    assert (later.status, later.merged_into_id) == (ReminderStatus.PENDING, None)


@pytest.mark.django_db(transaction=True)
def test_a_pending_text_another_worker_holds_is_left_to_it_without_waiting(evening, patient, provider):
    db = connection.settings_dict
    other = psycopg.connect(dbname=db["NAME"], host=db["HOST"] or None, port=db["PORT"] or None,
                            user=db["USER"] or None, autocommit=False)  # fmt: skip
    try:
        other.execute("SELECT id FROM reminders_reminder WHERE id = %s FOR UPDATE", [evening["B"].pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")  # a wait for B's lock would end in an error here
        assert deliver(_at_ny(16, 35)) == dispatch.BatchResult(sent=2)  # A, with C
    finally:
        other.rollback()
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    b, c = (Reminder.objects.get(pk=evening[n].pk) for n in "BC")
    assert (b.status, c.status, c.merged_into_id) == (ReminderStatus.PENDING, ReminderStatus.SENT, evening["A"].pk)


def test_two_merged_texts_in_one_batch_count_all_four_reminders(two_merged_pairs, merged_pair, provider):
    assert deliver(merged_pair) == dispatch.BatchResult(sent=4)
    assert len(provider.sent) == 2


def test_two_merged_texts_whose_leases_passed_are_both_skipped(two_merged_pairs, merged_pair, provider):
    provider.on_send = lambda message: Reminder.objects.filter(idempotency_key=message.idempotency_key).update(
        attempts=F("attempts") + 1
    )
    assert deliver(merged_pair) == dispatch.BatchResult(skipped=2)


def test_a_pending_e_mail_of_the_patient_does_not_ride_along_with_a_text(evening, patient, provider, settings):
    settings.REMINDERS_CHANNELS = ["email"]
    booking_b = evening["B"].booking_id
    with time_machine.travel(_at_ny(12, 0), tick=False):
        services.plan_for(target="booking", ids=[booking_b], now=_at_ny(12, 0))
    email = Reminder.objects.get(booking_id=booking_b, channel="email", kind="2h")
    Reminder.objects.filter(channel="email").exclude(pk=email.pk).update(status=ReminderStatus.CANCELLED)

    deliver(_at_ny(16, 35))

    email.refresh_from_db()
    assert (email.status, email.merged_into_id) == (ReminderStatus.PENDING, None)
    assert Reminder.objects.get(pk=evening["B"].pk).merged_into_id == evening["A"].pk
