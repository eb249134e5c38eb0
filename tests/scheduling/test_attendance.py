"""Attendance is recorded for a whole group in one call; corrections keep who, what and when."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from clinic.errors import DomainError
from scheduling import services
from scheduling.models import Attendance, AttendanceRecord, Booking, Session
from scheduling.services import Mark
from tests.factories import PatientFactory, UserFactory
from tests.scheduling.conftest import enroll_with_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def last_monday_session(running_group, enrolled, other_patient, iop, clinician, today):
    enroll_with_history(patient=other_patient, program=iop, start_on=enrolled.start_on, enrolled_by=clinician)
    return Session.objects.filter(series=running_group, local_date__lt=today).order_by("-starts_at").first()


def test_a_whole_group_is_recorded_in_one_call(last_monday_session, patient, other_patient, clinician):
    records = services.record_attendance(
        session=last_monday_session,
        marks=[Mark(patient.pk, Attendance.LATE, 150), Mark(other_patient.pk, Attendance.ABSENT)],
        recorded_by=clinician,
    )

    assert len(records) == 2
    by_patient = {b.patient_id: b for b in last_monday_session.bookings.all()}
    assert (by_patient[patient.pk].attendance, by_patient[patient.pk].minutes_attended) == ("late", 150)
    assert (by_patient[other_patient.pk].attendance, by_patient[other_patient.pk].minutes_attended) == ("absent", 0)


@pytest.mark.parametrize(
    "mark, code",
    [
        (lambda p: Mark(p, Attendance.LATE), "invalid_attendance"),  # minutes missing
        (lambda p: Mark(p, Attendance.LEFT_EARLY, 180), "invalid_attendance"),  # the whole session is not early
        (lambda p: Mark(p, Attendance.PRESENT, 60), "invalid_attendance"),
        (lambda p: Mark(p, "asleep"), "invalid_attendance"),
        (lambda p: Mark(PatientFactory().pk, Attendance.PRESENT), "invalid_attendance"),  # not booked
    ],
)
def test_bad_marks_write_nothing(last_monday_session, patient, other_patient, clinician, mark, code):
    with pytest.raises(DomainError) as error:
        services.record_attendance(
            session=last_monday_session,
            marks=[Mark(other_patient.pk, Attendance.PRESENT), mark(patient.pk)],
            recorded_by=clinician,
        )
    assert error.value.code == code
    assert not AttendanceRecord.objects.exists()
    assert not last_monday_session.bookings.exclude(attendance="").exists()


def test_attendance_for_a_session_that_has_not_started_is_refused(running_group, enrolled, patient, clinician, today):
    upcoming = Session.objects.filter(series=running_group, local_date__gt=today).first()
    with pytest.raises(DomainError) as error:
        services.record_attendance(session=upcoming, marks=[Mark(patient.pk, Attendance.PRESENT)],
                                   recorded_by=clinician)  # fmt: skip
    assert error.value.code == "session_not_started"
    assert not AttendanceRecord.objects.exists()


def test_a_correction_keeps_who_changed_what_and_when(last_monday_session, patient, clinician):
    services.record_attendance(session=last_monday_session, marks=[Mark(patient.pk, Attendance.ABSENT)],
                               recorded_by=clinician)  # fmt: skip
    booking = Booking.objects.get(session=last_monday_session, patient=patient)
    supervisor = UserFactory(username="lee.supervisor")

    with pytest.raises(DomainError):
        services.record_attendance(session=last_monday_session, marks=[Mark(patient.pk, Attendance.PRESENT)],
                                   recorded_by=supervisor)  # fmt: skip
    correction = services.correct_attendance(
        booking=booking, attendance=Attendance.EXCUSED, reason="Called ahead; doctor's note", corrected_by=supervisor
    )

    booking.refresh_from_db()
    assert booking.attendance == Attendance.EXCUSED
    history = list(booking.attendance_records.order_by("created_at", "id"))
    assert [(r.attendance, r.previous_attendance, r.recorded_by) for r in history] == [
        ("absent", "", clinician),
        ("excused", "absent", supervisor),
    ]
    assert history[1] == correction and correction.reason == "Called ahead; doctor's note"
    assert correction.created_at >= history[0].created_at


def test_attendance_history_cannot_be_edited_even_with_sql(last_monday_session, patient, clinician):
    [record] = services.record_attendance(session=last_monday_session, marks=[Mark(patient.pk, Attendance.ABSENT)],
                                          recorded_by=clinician)  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        AttendanceRecord.objects.filter(pk=record.pk).update(attendance=Attendance.PRESENT)
    with pytest.raises(IntegrityError), transaction.atomic():
        AttendanceRecord.objects.filter(pk=record.pk).delete()


def test_a_session_with_attendance_cannot_be_cancelled_or_moved(last_monday_session, patient, clinician):
    services.record_attendance(session=last_monday_session, marks=[Mark(patient.pk, Attendance.PRESENT)],
                               recorded_by=clinician)  # fmt: skip
    with pytest.raises(DomainError) as error:
        services.cancel_session(session=last_monday_session, reason="Oops")
    assert error.value.code == "session_locked"
    with pytest.raises(DomainError):
        services.move_session(session=last_monday_session,
                              starts_at=last_monday_session.starts_at + dt.timedelta(days=30))  # fmt: skip
