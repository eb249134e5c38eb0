"""The database's last word on a transition, in the staff's words (mutation testing, issue 18).

Each service checks first and raises a clear error itself; the constraints behind the checks catch
what a check cannot see, and `translate_integrity_errors` turns their refusal into the same kind of
error staff read, never an IntegrityError (a 500). Two ways a transition reaches a constraint:

- a race, played here in a fixed order on two real connections: the service (a thread, its own
  connection) passes its check, then waits on a row lock another connection (`other`) holds;
  `other` commits the conflicting change, and the service goes on into the constraint;
- a step-down or discharge dated after the stay's planned end: the stay then holds its bed longer,
  into a reservation's days, which no check looks at before the database does.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest
from django.db import connection

from admissions import services as admissions
from admissions.models import ReferralSource
from clinic.errors import DomainError
from programs import services
from programs.errors import BedUnavailable, EpisodeAlreadyOpen, StayLengthOutOfRange
from programs.models import EpisodeStatus, Placement, TreatmentEpisode

D = dt.timedelta


def _other_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"],
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        autocommit=False,
    )


def _waiting_on_a_lock(other_pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid NOT IN (pg_backend_pid(), %s)",
            [other_pid],
        )
        return cursor.fetchone()[0] > 0


def _race(call, other: psycopg.Connection, conflicting_change) -> object:
    """Run `call` in a thread until it waits on `other`'s lock, then let `other` commit its change."""
    outcome: list = [None]

    def run():
        try:
            outcome[0] = call()
        except DomainError as error:
            outcome[0] = error
        except Exception as error:  # an untranslated IntegrityError is what the test is about
            outcome[0] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    pid = other.info.backend_pid
    deadline = time.monotonic() + 20
    while not _waiting_on_a_lock(pid):
        assert time.monotonic() < deadline, "the service never reached the lock"
        assert thread.is_alive(), f"the service finished before the race: {outcome[0]!r}"
        time.sleep(0.02)
    conflicting_change()
    other.commit()
    thread.join(timeout=20)
    assert not thread.is_alive()
    return outcome[0]


@pytest.fixture
def other():
    conn = _other_connection()
    yield conn
    conn.rollback()
    conn.close()


def _finished_episode(patient, iop, clinician, today) -> TreatmentEpisode:
    enrollment = services.enroll_in_iop(patient=patient, program=iop, start_on=today - D(30), enrolled_by=clinician)
    services.discharge(episode=enrollment.episode, on=today - D(20), disposition="completed", decided_by=clinician)
    return TreatmentEpisode.objects.get(pk=enrollment.episode_id)


def _reopen_uncommitted(other: psycopg.Connection, episode: TreatmentEpisode) -> None:
    # Another writer (not through the services, so without the patient's lock) reopens the episode;
    # its row is in the one-open-episode index, uncommitted, when the service opens a new one.
    other.execute(
        "UPDATE programs_treatmentepisode SET status = %s, ended_on = NULL WHERE id = %s",
        [EpisodeStatus.ACTIVE, episode.pk],
    )


@pytest.mark.django_db(transaction=True)
def test_an_episode_reopened_during_an_admission_is_the_staffs_error(patient, bed, iop, clinician, today, other):
    episode = _finished_episode(patient, iop, clinician, today)
    _reopen_uncommitted(other, episode)

    outcome = _race(
        lambda: services.admit_to_residential(patient=patient, bed=bed, admitted_on=today, admitted_by=clinician),
        other,
        lambda: None,
    )

    assert isinstance(outcome, EpisodeAlreadyOpen), repr(outcome)
    assert str(outcome) == "The patient already has an open treatment episode."
    assert not Placement.objects.filter(bed=bed).exists()


@pytest.mark.django_db(transaction=True)
def test_an_episode_reopened_during_an_enrollment_is_the_staffs_error(patient, iop, clinician, today, other):
    episode = _finished_episode(patient, iop, clinician, today)
    _reopen_uncommitted(other, episode)

    outcome = _race(
        lambda: services.enroll_in_iop(patient=patient, program=iop, start_on=today, enrolled_by=clinician),
        other,
        lambda: None,
    )

    assert isinstance(outcome, EpisodeAlreadyOpen), repr(outcome)
    assert str(outcome) == "The patient already has an open treatment episode."
    assert Placement.objects.filter(patient=patient).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_program_minimum_raised_during_a_step_up_is_the_staffs_error(
    patient, bed, residential, iop, clinician, today, other
):
    enrollment = services.enroll_in_iop(patient=patient, program=iop, start_on=today - D(10), enrolled_by=clinician)
    # The bed is held by another connection (a staff member changing it): the step-up reads the bed with
    # its program, then waits for the bed's lock; the program row it read stays the one it judges by.
    other.execute("SELECT id FROM programs_bed WHERE id = %s FOR UPDATE", [bed.pk])

    def raise_the_minimum():
        other.execute(
            "UPDATE programs_program SET residential_min_days = residential_min_days + 5, "
            "residential_max_days = GREATEST(residential_max_days, residential_min_days + 5) WHERE id = %s",
            [residential.pk],
        )

    outcome = _race(
        lambda: services.step_up(enrollment=enrollment, bed=bed, on=today, reason="Relapse", decided_by=clinician),
        other,
        raise_the_minimum,
    )

    assert isinstance(outcome, StayLengthOutOfRange), repr(outcome)
    assert str(outcome) == "The planned stay is outside the program's range and no extension covers it."
    enrollment.refresh_from_db()
    assert enrollment.ended_on is None and not Placement.objects.filter(bed=bed).exists()


# --- A stay ended after its planned end, into the next reservation of its bed -----------------------


def _stay_ending_in_two_days(patient, bed, residential, clinician, today) -> Placement:
    admitted = today - D(residential.residential_min_days - 2)
    return services.admit_to_residential(patient=patient, bed=bed, admitted_on=admitted, admitted_by=clinician)


def _reserved_from(bed, residential, site_clinician, start_on):
    referral = admissions.create_referral(
        program=residential,
        source=ReferralSource.HOSPITAL,
        referred_on=start_on - D(10),
        created_by=site_clinician,
        first_name="Nia",
        last_name="Okafor",
        date_of_birth=dt.date(1990, 2, 3),
    )
    referral = admissions.start_screening(referral=referral, by=site_clinician)
    referral = admissions.accept_referral(
        referral=referral, by=site_clinician, reason="Meets criteria", mrn="MRN-NEXT", confirm_new_person=True
    )
    expires = dt.datetime.combine(start_on + D(1), dt.time(22), tzinfo=dt.UTC)
    return admissions.reserve(
        referral=referral, bed=bed, start_on=start_on, expires_at=expires, reserved_by=site_clinician
    )


@pytest.mark.django_db
def test_a_step_down_dated_into_the_beds_next_reservation_is_the_staffs_error(
    patient, bed, residential, iop, clinician, site_clinician, today
):
    stay = _stay_ending_in_two_days(patient, bed, residential, clinician, today)
    assert stay.planned_end_on == today + D(2)
    _reserved_from(bed, residential, site_clinician, today + D(2))

    with pytest.raises(BedUnavailable) as info:
        services.step_down(stay=stay, to_program=iop, on=today + D(4), reason="Stable", decided_by=clinician)

    assert str(info.value) == (
        "This bed is reserved or occupied on these dates; admit a reserved patient through the reservation."
    )
    stay.refresh_from_db()
    assert stay.ended_on is None and Placement.objects.filter(patient=patient).count() == 1


@pytest.mark.django_db
def test_a_discharge_dated_into_the_beds_next_reservation_is_the_staffs_error(
    patient, bed, residential, clinician, site_clinician, today
):
    stay = _stay_ending_in_two_days(patient, bed, residential, clinician, today)
    _reserved_from(bed, residential, site_clinician, today + D(2))

    with pytest.raises(BedUnavailable) as info:
        services.discharge(episode=stay.episode, on=today + D(4), disposition="completed", decided_by=clinician)

    assert str(info.value) == (
        "This bed is reserved or occupied on these dates; admit a reserved patient through the reservation."
    )
    stay.refresh_from_db()
    assert stay.ended_on is None and stay.episode.status == EpisodeStatus.ACTIVE
