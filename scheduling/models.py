"""Session series, sessions, closures, bookings, attendance and calendar feeds.

A *series* is what the clinic plans ("group therapy Mon/Wed/Thu 18:00 for three
hours"): an RFC 5545 rule read in the program's time zone. *Sessions* are the
rows generated from it on a rolling horizon; each keeps the start its rule gave
(``occurrence_start``) so a cancelled or moved occurrence is never generated
again. A *booking* puts one patient in one session; PostgreSQL keeps the seat
count (a trigger) within capacity (a CHECK) and refuses two overlapping
bookings for one patient (an exclusion constraint over a tstzrange).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import F, Q

from clinic import localtime
from clinic.models import TimeStampedModel
from patients.models import Patient
from programs.models import Placement, Program, Site


class TsTzRange(models.Func):
    """``tstzrange(lower, upper, '[)')``: a session from 18:00 to 21:00 does not overlap one from 21:00."""

    function = "tstzrange"
    output_field = DateTimeRangeField()

    def __init__(self, lower, upper, **extra):
        super().__init__(lower, upper, models.Value("[)"), **extra)


class SessionKind(models.TextChoices):
    GROUP_THERAPY = "group_therapy", "Group therapy"
    INDIVIDUAL_COUNSELLING = "individual_counselling", "Individual counselling"
    FAMILY_SESSION = "family_session", "Family session"
    PSYCHOEDUCATION = "psychoeducation", "Psychoeducation"
    RELAPSE_PREVENTION = "relapse_prevention", "Relapse prevention"
    OTHER = "other", "Other"


class SessionSeries(TimeStampedModel):
    """A recurring session of a program (FHIR Schedule with an RRULE), in the program's local time."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="session_series")
    name = models.CharField(max_length=120, help_text="For staff, for example 'Evening process group'.")
    kind = models.CharField(max_length=24, choices=SessionKind.choices)
    rule = models.TextField(help_text="RFC 5545 RRULE without DTSTART, for example FREQ=WEEKLY;BYDAY=MO,WE,TH.")
    start_time = models.TimeField(help_text="Local time in the program's time zone.")
    duration_minutes = models.PositiveIntegerField()
    facilitator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    room = models.CharField(max_length=60, blank=True)
    capacity = models.PositiveIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="Last day (inclusive); empty for open-ended.")
    books_enrolled = models.BooleanField(
        default=True,
        help_text="A track session: everyone placed in the program is booked. Off for one-off sessions "
        "(individual counselling) that staff book patient by patient.",
    )
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by",
        help_text="The series this one continues after an edit from a date on.",
    )  # fmt: skip
    generated_until = models.DateField(null=True, blank=True, help_text="Sessions exist up to this local day.")

    class Meta:
        verbose_name_plural = "session series"
        ordering = ["program", "start_time", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gt=0), name="series_capacity_positive"),
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="series_duration_positive"),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")), name="series_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.program.name}"


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELLED = "cancelled", "Cancelled"


class SessionQuerySet(models.QuerySet):
    def scheduled(self):
        return self.filter(status=SessionStatus.SCHEDULED)


class Session(TimeStampedModel):
    """One occurrence of a series (FHIR Appointment)."""

    series = models.ForeignKey(SessionSeries, on_delete=models.PROTECT, related_name="sessions")
    # The start the rule produced; the generator's idempotency key. A moved
    # session keeps it, so the generator does not bring the old slot back.
    occurrence_start = models.DateTimeField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # The day in the program's time zone: closures, placements and weekly hours
    # are all about local days, so it is fixed once here rather than recomputed.
    local_date = models.DateField()
    duration_minutes = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=200, blank=True)
    facilitator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    room = models.CharField(max_length=60, blank=True)
    capacity = models.PositiveIntegerField()
    # Kept by a database trigger on bookings; the CHECK below is what makes "never over capacity" hold.
    booked_count = models.PositiveIntegerField(default=0, editable=False)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["local_date"]), models.Index(fields=["starts_at"])]
        constraints = [
            models.UniqueConstraint(fields=["series", "occurrence_start"], name="session_one_per_series_occurrence"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="session_ends_after_start"),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="session_capacity_positive"),
            models.CheckConstraint(
                condition=Q(booked_count__gte=0) & Q(booked_count__lte=F("capacity")),
                name="session_booked_within_capacity",
            ),
            models.CheckConstraint(
                condition=Q(status=SessionStatus.SCHEDULED, cancelled_at__isnull=True)
                | Q(status=SessionStatus.CANCELLED, cancelled_at__isnull=False),
                name="session_cancelled_iff_cancelled_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.series.name}, {localtime.when(self.starts_at, self.series.program.time_zone)}"

    @property
    def is_moved(self) -> bool:
        return self.starts_at != self.occurrence_start

    @property
    def seats_left(self) -> int:
        return self.capacity - self.booked_count


class Closure(TimeStampedModel):
    """A day a site is closed (a holiday): no sessions of its programs run."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=120)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["site", "date"], name="closure_one_per_site_day")]

    def __str__(self) -> str:
        return f"{self.site} closed {localtime.day(self.date)}"


class BookingSource(models.TextChoices):
    TRACK = "track", "Track (from the placement)"
    ONE_OFF = "one_off", "One-off"


class CancelReason(models.TextChoices):
    PLACEMENT_ENDED = "placement_ended", "Placement ended"
    SESSION_CANCELLED = "session_cancelled", "Session cancelled"
    STAFF = "staff", "Cancelled by staff"


class Attendance(models.TextChoices):
    PRESENT = "present", "Present"
    LATE = "late", "Late"
    LEFT_EARLY = "left_early", "Left early"
    ABSENT = "absent", "Absent"
    EXCUSED = "excused", "Excused"


PARTIAL_ATTENDANCE = (Attendance.LATE, Attendance.LEFT_EARLY)


class PatientResponse(models.TextChoices):
    """What the patient said ahead of time in the app (FHIR Appointment.participant.status)."""

    CONFIRMED = "confirmed", "Will attend"
    DECLINED = "declined", "Cannot attend"


class BookingQuerySet(models.QuerySet):
    def active(self):
        return self.filter(cancelled_at__isnull=True)


class Booking(TimeStampedModel):
    """One patient in one session (FHIR Appointment.participant), with the current attendance."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="bookings")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="bookings")
    placement = models.ForeignKey(Placement, on_delete=models.PROTECT, related_name="bookings")
    source = models.CharField(max_length=10, choices=BookingSource.choices)
    # Copied from the session so the exclusion constraint can see them (a
    # constraint cannot join); services move them together with the session.
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=20, choices=CancelReason.choices, blank=True)
    # The latest attendance; every recording and correction is also an AttendanceRecord row.
    attendance = models.CharField(max_length=12, choices=Attendance.choices, blank=True)
    minutes_attended = models.PositiveIntegerField(null=True, blank=True)
    # The patient's own answer ahead of the session; a hint for staff, not attendance.
    patient_response = models.CharField(max_length=10, choices=PatientResponse.choices, blank=True)
    patient_responded_at = models.DateTimeField(null=True, blank=True)

    objects = BookingQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["patient", "starts_at"]), models.Index(fields=["placement", "starts_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "patient"], condition=Q(cancelled_at__isnull=True), name="booking_one_per_patient"
            ),
            ExclusionConstraint(
                name="booking_no_overlap_per_patient",
                expressions=[
                    (F("patient"), RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                ],
                condition=Q(cancelled_at__isnull=True),
            ),
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True, cancel_reason="")
                | Q(cancelled_at__isnull=False) & ~Q(cancel_reason=""),
                name="booking_cancel_reason_iff_cancelled",
            ),
            models.CheckConstraint(
                condition=Q(attendance="", minutes_attended__isnull=True)
                | ~Q(attendance="") & Q(minutes_attended__isnull=False),
                name="booking_minutes_iff_attendance",
            ),
            models.CheckConstraint(
                condition=Q(patient_response="", patient_responded_at__isnull=True)
                | ~Q(patient_response="") & Q(patient_responded_at__isnull=False),
                name="booking_response_iff_responded_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} in {self.session}"


class AttendanceRecord(TimeStampedModel):
    """Who recorded which attendance when. Append-only: a correction is a new row (a trigger refuses changes)."""

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="attendance_records")
    attendance = models.CharField(max_length=12, choices=Attendance.choices)
    minutes_attended = models.PositiveIntegerField()
    previous_attendance = models.CharField(max_length=12, choices=Attendance.choices, blank=True)
    previous_minutes_attended = models.PositiveIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="Why a correction was made.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["booking", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(previous_attendance="") | ~Q(reason=""), name="attendance_correction_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_attendance_display()} recorded {localtime.when(self.created_at)}"

    @property
    def is_correction(self) -> bool:
        return bool(self.previous_attendance)


class CalendarFeed(TimeStampedModel):
    """A patient's private iCalendar URL. Only a hash of the token is kept; rotating it kills the old URL."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)
    rotated_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-rotated_at"]

    def __str__(self) -> str:
        return f"Calendar feed · {self.patient}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
