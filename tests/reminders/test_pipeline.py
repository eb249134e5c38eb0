"""The whole pipeline through a real Celery worker on the real Redis, with real provider servers.

Beat is stood in for by calling the beat task (``dispatch_due_reminders``) the way
beat would, repeatedly; everything after that runs in the worker.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
from collections import Counter

import pytest
from django.utils import timezone

from clinic.celery import app
from programs import services as program_services
from programs.models import Discharge
from reminders import tasks
from reminders.models import PushDevice, Reason, Reminder, ReminderStatus
from tests.factories import PatientFactory, UserFactory
from tests.reminders.conftest import WorkerProcess, all_final, run_until
from tests.reminders.fakes import FakeTwilio, free_port

pytestmark = pytest.mark.django_db(transaction=True)
ALWAYS_AWAKE = {"quiet_hours_start": dt.time(0, 0), "quiet_hours_end": dt.time(0, 0)}


def due_now(count: int, make_checkin, today) -> list:
    """``count`` patients with a check-in tomorrow whose day-before reminders are due now."""
    checkins = [
        make_checkin(due_on=today + dt.timedelta(days=1), patient=PatientFactory(**ALWAYS_AWAKE)) for _ in range(count)
    ]
    # Planned on commit by the discharge service; made due now whatever the wall clock says.
    Reminder.objects.filter(kind="day_before").update(send_after=timezone.now() - dt.timedelta(minutes=1))
    Reminder.objects.filter(kind="morning_of").delete()
    return checkins


def cancel(checkin) -> None:
    program_services.reverse_discharge(
        discharge=Discharge.objects.get(aftercare_plan__checkins=checkin), reason="Entered in error",
        reversed_by=UserFactory(username="corrector"),
    )  # fmt: skip


def test_due_reminders_go_out_once_on_each_channel_through_the_worker(
    celery_worker, make_checkin, today, twilio, fcm, smtp, settings
):
    first, second, cancelled = due_now(3, make_checkin, today)
    PushDevice.objects.create(patient=first.plan.patient, token="phone-of-first", platform="ios")
    cancel(cancelled)

    tasks.dispatch_due_reminders.delay()
    assert run_until(lambda: all_final(kind="day_before"), timeout=15)
    tasks.dispatch_due_reminders.delay()  # the next beat, and a duplicate delivery of the task
    tasks.deliver_due_reminders.delay()
    time.sleep(0.5)

    assert sorted(m["to"] for m in twilio.log.created) == sorted([first.plan.patient.phone, second.plan.patient.phone])
    assert sorted(m["to"][0] for m in smtp.messages) == sorted([first.plan.patient.email, second.plan.patient.email])
    assert [m["token"] for m in fcm.log.created] == ["phone-of-first"]
    # Every POST counted, repeats included: each key went to each provider exactly once.
    assert twilio.log.requests == 2 and set(twilio.log.per_key().values()) == {1}
    assert fcm.log.requests == 1 and set(fcm.log.per_key().values()) == {1}
    assert not Reminder.objects.filter(checkin=cancelled).exclude(status=ReminderStatus.CANCELLED).exists()
    counts = Counter(Reminder.objects.filter(kind="day_before").values_list("status", flat=True))
    assert counts == {"sent": 5, "cancelled": 3, "suppressed": 1}  # second has no device: push suppressed


@pytest.mark.reliability
def test_a_provider_failing_half_the_time_and_timing_out(celery_worker, make_checkin, today, twilio, settings, report):
    settings.REMINDERS_CHANNELS = ["sms"]
    settings.REMINDERS_RETRY_BASE_SECONDS = 0.05
    settings.REMINDERS_RETRY_MAX_SECONDS = 0.3
    settings.REMINDERS_MAX_ATTEMPTS = 6
    checkins = due_now(14, make_checkin, today)
    rejected, unreachable = checkins[0].plan.patient.phone, checkins[1].plan.patient.phone

    tries: Counter = Counter()

    def behaviour(n: int, form: dict) -> str:
        to = form["To"]
        if to == rejected:
            return "400"
        if to == unreachable:
            return "500"
        tries[to] += 1
        # Half the numbers fail their first try, a third of them then time out (accepted, answered too late).
        if tries[to] == 1 and int(to[-1]) % 2 == 0:
            return "500"
        if tries[to] <= 2 and int(to[-2:]) % 3 == 0:
            return "timeout"
        return "ok"

    twilio.behaviour = behaviour
    done = run_until(lambda: all_final(), timeout=30, every=0.3, tick=tasks.dispatch_due_reminders.delay)
    assert done, [
        r
        for r in Reminder.objects.values_list("status", "attempts", "lease_expires_at", "last_error")
        if r[0] in ("pending", "sending")
    ]

    per_key = twilio.log.created_per_key()
    sent = Reminder.objects.filter(status=ReminderStatus.SENT)
    # A POST the provider accepted but answered too late looks failed to the client, which re-sends it
    # under the same key: one repeat per timed-out key, and no other key POSTed again once accepted.
    timed_out = Counter(post["key"] for post in twilio.log.posts if post["answer"] == "timeout")
    report(
        "SMS provider failing half the time and timing out",
        "14 due texts through a real worker; the fake Twilio answers 500 to half the first tries, times out "
        "a third of the numbers twice, always refuses one number (400) and always fails another (500)",
        f"{sent.count()} sent, each key accepted once ({twilio.log.repeats} repeats of an accepted key re-sent after "
        f"a timeout, same key); {Reminder.objects.filter(status=ReminderStatus.FAILED).count()} failed with the "
        f"error kept; max attempts {max(r.attempts for r in sent)}",
        sent.count() == 12
        and all(per_key[r.idempotency_key] == 1 for r in sent)
        and sum(per_key.values()) == 12
        and twilio.log.repeats_per_key() == timed_out,
    )
    assert timed_out, "the provider timed out on some first acceptances"
    assert twilio.log.repeats_per_key() == timed_out, "an accepted key was POSTed again without a timeout"
    assert sent.count() == 12
    assert all(per_key[r.idempotency_key] == 1 for r in sent)
    assert sum(per_key.values()) == 12  # nothing delivered for the two failing numbers, nothing twice
    failed = {r.patient.phone: r for r in Reminder.objects.filter(status=ReminderStatus.FAILED)}
    assert failed[rejected].status_reason == Reason.PROVIDER_REJECTED and failed[rejected].attempts == 1
    assert failed[unreachable].status_reason == Reason.RETRIES_EXHAUSTED and failed[unreachable].attempts == 6
    assert "HTTP 500" in failed[unreachable].last_error
    assert any(r.attempts > 1 for r in sent)  # retried with backoff, then delivered


def _worker_env(worker_env, fake: FakeTwilio, **extra) -> dict[str, str]:
    return {
        **worker_env,
        "REMINDERS_SMS_BACKEND": "reminders.channels.http.TwilioSmsChannel",
        "REMINDERS_TWILIO_API_BASE": fake.base_url,
        "REMINDERS_TWILIO_ACCOUNT_SID": fake.sid,
        "REMINDERS_TWILIO_AUTH_TOKEN": fake.token,
        "REMINDERS_TWILIO_FROM_NUMBER": "+14155550000",
        "REMINDERS_HTTP_READ_TIMEOUT": "5",
        "REMINDERS_LEASE_SECONDS": "2",
        "REMINDERS_BATCH_SIZE": "4",
        **extra,
    }


FIRST, SECOND = "+14155550001", "+14155550002"  # the From number tells the workers' POSTs apart


def _send(task, *, queue: str, broker: str | None = None) -> None:
    with app.connection_for_write(broker) as conn:
        task.apply_async(
            connection=conn, queue=queue, retry=True, retry_policy={"max_retries": 5, "interval_start": 0.2}
        )


def _assert_exactly_once(fake: FakeTwilio, *, cancelled) -> None:
    """One message per sent row at the provider (which honours the key); repeated POSTs are asserted by the caller."""
    per_key = fake.log.created_per_key()
    sent = list(Reminder.objects.filter(status=ReminderStatus.SENT))
    assert sent and all(per_key[r.idempotency_key] == 1 for r in sent)
    assert set(per_key) == {r.idempotency_key for r in sent}
    assert set(fake.log.per_key()) == set(per_key)  # no POST for a row that was not sent
    assert not Reminder.objects.filter(checkin=cancelled, status=ReminderStatus.SENT).exists()
    assert all(r.attempts <= 2 for r in sent)


@pytest.mark.reliability
def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(make_checkin, today, worker_env, settings, report):
    settings.REMINDERS_CHANNELS = ["sms"]
    checkins = due_now(24, make_checkin, today)
    cancel(checkins[-1])
    queue = worker_env["CELERY_TASK_DEFAULT_QUEUE"]
    record_every, processes = 3, 2
    with FakeTwilio(delay=0.08) as fake:
        env = _worker_env(worker_env, fake, REMINDERS_RECORD_EVERY=str(record_every))
        first = WorkerProcess(env={**env, "REMINDERS_TWILIO_FROM_NUMBER": FIRST}, concurrency=processes).start()
        try:
            _send(tasks.dispatch_due_reminders, queue=queue)
            assert run_until(lambda: len(fake.log.created) >= 6, timeout=20, every=0.05)
            first.kill()  # SIGKILL: rows in flight stay 'sending' until their lease expires
        finally:
            first.kill()
        in_flight = Reminder.objects.filter(status=ReminderStatus.SENDING).count()
        second = WorkerProcess(env={**env, "REMINDERS_TWILIO_FROM_NUMBER": SECOND}).start()
        try:
            assert run_until(
                all_final, timeout=30, every=0.5, tick=lambda: _send(tasks.dispatch_due_reminders, queue=queue)
            )
        finally:
            second.stop()
    sent = Reminder.objects.filter(status=ReminderStatus.SENT).count()
    repeated = fake.log.repeats_per_key()
    first_posts = {post["key"] for post in fake.log.posts if post["from"] == FIRST}
    report(
        "Reminder worker killed with SIGKILL mid-batch",
        "24 due texts (one cancelled) through a prefork worker, SIGKILLed after 6 sends; a second worker then",
        f"{in_flight} rows in flight at the kill came back after their lease; {sent} sent, each key accepted "
        f"once ({fake.log.repeats} re-sent under the same key, at most {processes} processes x "
        f"REMINDERS_RECORD_EVERY={record_every}); none for the cancelled booking",
        in_flight > 0
        and sent == 23
        and all(n == 1 for n in fake.log.created_per_key().values())
        and fake.log.repeats <= processes * record_every,
    )
    assert in_flight > 0
    _assert_exactly_once(fake, cancelled=checkins[-1])
    assert sent == 23
    # Sends are recorded in groups of REMINDERS_RECORD_EVERY: a process killed between sending and
    # recording loses at most that many records (the one in flight included), re-sent under the same keys.
    assert fake.log.repeats <= processes * record_every, (
        f"{fake.log.repeats} POSTs repeated; a SIGKILL between send and record may repeat at most "
        f"REMINDERS_RECORD_EVERY={record_every} per killed process ({processes})"
    )
    assert set(repeated.values()) <= {1}, f"a key was POSTed more than twice: {repeated}"
    repeats = [post for post in fake.log.posts if post["answer"] == "repeat"]
    assert all(post["from"] == SECOND and post["key"] in first_posts for post in repeats), (
        "only the killed worker's unrecorded sends may be repeated, by the second worker"
    )


@pytest.mark.reliability
def test_redis_restarted_during_dispatch(make_checkin, today, worker_env, settings, tmp_path, report):
    # A missing redis-server is a broken machine, not a reason to pass quietly.
    assert shutil.which("redis-server"), "this fault test starts its own redis-server; install redis-server"
    settings.REMINDERS_CHANNELS = ["sms"]
    checkins = due_now(24, make_checkin, today)
    cancel(checkins[0])
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    redis_cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(tmp_path), "--daemonize", "no"]  # fmt: skip

    def start_redis() -> subprocess.Popen:
        proc = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL)
        ok = run_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout
                       == b"PONG\n", timeout=5, every=0.05)  # fmt: skip
        assert ok
        return proc

    queue = worker_env["CELERY_TASK_DEFAULT_QUEUE"]
    redis = start_redis()
    with FakeTwilio(delay=0.05) as fake:
        env = _worker_env(worker_env, fake, CELERY_BROKER_URL=broker, REMINDERS_WORKER_BUDGET_SECONDS="0.3",
                          REMINDERS_MAX_FANOUT="1")  # fmt: skip
        worker = WorkerProcess(env=env).start()
        try:
            _send(tasks.dispatch_due_reminders, queue=queue, broker=broker)
            assert run_until(lambda: len(fake.log.created) >= 3, timeout=20, every=0.05)
            redis.terminate()  # the broker goes away mid-dispatch, and comes back empty
            redis.wait(timeout=5)
            time.sleep(0.5)
            redis = start_redis()
            assert run_until(all_final, timeout=40, every=0.5,
                             tick=lambda: _send(tasks.dispatch_due_reminders, queue=queue, broker=broker))  # fmt: skip
        finally:
            worker.stop()
            redis.terminate()
            redis.wait(timeout=5)
    sent = Reminder.objects.filter(status=ReminderStatus.SENT).count()
    report(
        "Redis restarted during dispatch",
        "24 due texts (one cancelled); the broker stopped after 3 sends and restarted empty, beat re-sent",
        f"{sent} sent, each key accepted once ({fake.log.repeats} re-sent under the same key); none for the "
        "cancelled booking; no task state needed to survive the restart",
        sent == 23 and all(n == 1 for n in fake.log.per_key().values()),
    )
    _assert_exactly_once(fake, cancelled=checkins[0])
    assert sent == 23
    # No worker died: every send was recorded by the worker that made it, so no key was POSTed twice.
    assert fake.log.repeats == 0 and set(fake.log.per_key().values()) == {1}, (
        f"{fake.log.repeats} POSTs repeated although no worker was killed"
    )


@pytest.mark.reliability
def test_two_workers_dispatching_the_same_due_reminders(make_checkin, today, worker_env, settings, report):
    """Two worker sets, each with its own beat and queue, claim the same due rows at once: each sent exactly once."""
    settings.REMINDERS_CHANNELS = ["sms"]
    checkins = due_now(40, make_checkin, today)
    cancel(checkins[0])
    with FakeTwilio(delay=0.02) as fake:
        workers, queues = [], []
        for sender in ("+14155550001", "+14155550002"):
            queue = f"{worker_env['CELERY_TASK_DEFAULT_QUEUE']}-{sender[-1]}"
            env = _worker_env(worker_env, fake, CELERY_TASK_DEFAULT_QUEUE=queue, REMINDERS_TWILIO_FROM_NUMBER=sender,
                              REMINDERS_LEASE_SECONDS="30")  # fmt: skip
            workers.append(WorkerProcess(env=env).start())
            queues.append(queue)
        try:
            for queue in queues:  # two beats at once, each fanning out to its own worker's two processes
                _send(tasks.dispatch_due_reminders, queue=queue)
            done = run_until(all_final, timeout=30, every=0.2)
        finally:
            for worker in workers:
                worker.stop()
    sent = list(Reminder.objects.filter(status=ReminderStatus.SENT))
    per_key = fake.log.per_key()  # every POST, repeats included
    by_worker = Counter(m["from"] for m in fake.log.created)
    twice = sum(1 for n in per_key.values() if n > 1)
    ok = (
        done
        and len(sent) == 39
        and twice == 0
        and set(per_key) == {r.idempotency_key for r in sent}
        and all(r.attempts == 1 for r in sent)
        and not Reminder.objects.filter(checkin=checkins[0], status=ReminderStatus.SENT).exists()
    )
    report(
        "Two workers dispatching the same due reminders",
        "40 due texts (one cancelled); two prefork workers (2 processes each) on their own queues, each sent a "
        "beat at the same moment, so four processes claim the same rows in batches of 4",
        f"{len(sent)} sent, {twice} keys posted twice, every row claimed once; split between the workers "
        f"{sorted(by_worker.values())}; none for the cancelled check-in",
        ok,
    )
    assert ok, (done, len(sent), twice, by_worker)
