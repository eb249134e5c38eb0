"""Levels of care, beds, treatment episodes, placements and their history.

A *placement* is one level of care inside an episode: a residential stay (with a
bed) or an IOP enrollment. Both live in one table so PostgreSQL can refuse two
overlapping levels of care for a patient with a single exclusion constraint;
``ResidentialStay`` and ``IOPEnrollment`` are proxies over it.

Dates are half-open ranges ``[start_on, ended_on)``: a stay that ends on the day
an enrollment starts does not overlap it, so a same-day step-down leaves no gap
and no double count.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from clinic import clock, localtime
from clinic.db import DateRange
from clinic.models import TimeStampedModel
from patients.models import Patient
from patients.validators import validate_time_zone


def default_aftercare_offsets() -> list[int]:
    return [7, 30, 90]


def default_session_reminder_hours() -> list[int]:
    return [24, 2]


class Site(TimeStampedModel):
    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=40, unique=True)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    address = models.TextField(blank=True, help_text="Shown in reminders as the place to come to.")
    phone = models.CharField(max_length=32, blank=True, help_text="Shown in reminders as the number to reply to.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AsamLevel(models.TextChoices):
    OUTPATIENT = "1", "1 Outpatient"
    IOP = "2.1", "2.1 Intensive outpatient"
    PHP = "2.5", "2.5 Partial hospitalization"
    RESIDENTIAL_LOW = "3.1", "3.1 Clinically managed low-intensity residential"
    RESIDENTIAL_HIGH = "3.5", "3.5 Clinically managed high-intensity residential"
    INPATIENT = "3.7", "3.7 Medically monitored intensive inpatient"


RESIDENTIAL_LEVELS = frozenset({AsamLevel.RESIDENTIAL_LOW, AsamLevel.RESIDENTIAL_HIGH, AsamLevel.INPATIENT})


class ProgramQuerySet(models.QuerySet):
    def residential(self):
        return self.filter(asam_level__in=RESIDENTIAL_LEVELS)

    def outpatient(self):
        return self.exclude(asam_level__in=RESIDENTIAL_LEVELS)


class Program(TimeStampedModel):
    """One level of care offered at a site (FHIR HealthcareService), with its rules."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="programs")
    name = models.CharField(max_length=120)
    asam_level = models.CharField("ASAM level", max_length=3, choices=AsamLevel.choices)
    capacity = models.PositiveIntegerField(help_text="Beds for residential programs, patients for IOP tracks.")
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    is_active = models.BooleanField(default=True)

    residential_min_days = models.PositiveIntegerField(default=30)
    residential_max_days = models.PositiveIntegerField(default=90)
    iop_min_weekly_hours_adult = models.DecimalField(max_digits=4, decimal_places=1, default=Decimal("9"))
    iop_min_weekly_hours_adolescent = models.DecimalField(max_digits=4, decimal_places=1, default=Decimal("6"))
    iop_max_weekly_hours = models.DecimalField(max_digits=4, decimal_places=1, default=Decimal("19"))
    aftercare_checkin_offsets = ArrayField(
        models.PositiveIntegerField(validators=[MinValueValidator(1)]),
        default=default_aftercare_offsets,
        help_text="Days after discharge when an aftercare check-in is due.",
    )
    session_reminder_hours = ArrayField(
        models.PositiveIntegerField(validators=[MinValueValidator(1)]),
        default=default_session_reminder_hours,
        help_text="Hours before a booked session when a reminder goes out.",
    )

    objects = ProgramQuerySet.as_manager()

    class Meta:
        ordering = ["site__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="program_unique_name_per_site"),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="program_capacity_positive"),
            models.CheckConstraint(
                condition=Q(residential_min_days__gt=0) & Q(residential_min_days__lte=F("residential_max_days")),
                name="program_residential_length_range",
            ),
            models.CheckConstraint(
                condition=Q(iop_min_weekly_hours_adolescent__gte=0)
                & Q(iop_min_weekly_hours_adult__gte=0)
                & Q(iop_min_weekly_hours_adult__lte=F("iop_max_weekly_hours"))
                & Q(iop_min_weekly_hours_adolescent__lte=F("iop_max_weekly_hours")),
                name="program_iop_hours_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.site})"

    @property
    def is_residential(self) -> bool:
        return self.asam_level in RESIDENTIAL_LEVELS


class Bed(TimeStampedModel):
    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        OUT_OF_SERVICE = "out_of_service", "Out of service"

    # Occupied is not a stored status: it is derived from the stays, so it can never disagree with them.
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="beds")
    label = models.CharField(max_length=20, help_text="Room and bed, for example 104-B.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AVAILABLE)

    class Meta:
        ordering = ["program", "label"]
        constraints = [
            models.UniqueConstraint(fields=["program", "label"], name="bed_unique_label_per_program"),
            # Target of the (bed, program) foreign key from placements.
            models.UniqueConstraint(fields=["id", "program"], name="bed_id_program_key"),
        ]

    def __str__(self) -> str:
        return f"{self.label} · {self.program.name}"


class EpisodeStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    WAITLIST = "waitlist", "Waitlist"
    ACTIVE = "active", "Active"
    ON_HOLD = "onhold", "On hold"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"


OPEN_EPISODE_STATUSES = (EpisodeStatus.PLANNED, EpisodeStatus.WAITLIST, EpisodeStatus.ACTIVE, EpisodeStatus.ON_HOLD)


class TreatmentEpisode(TimeStampedModel):
    """From intake to final discharge (FHIR EpisodeOfCare)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="episodes")
    status = models.CharField(max_length=12, choices=EpisodeStatus.choices, default=EpisodeStatus.ACTIVE)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-started_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=OPEN_EPISODE_STATUSES),
                name="episode_one_open_per_patient",
            ),
            # Target of the (episode, patient) foreign key from placements.
            models.UniqueConstraint(fields=["id", "patient"], name="episode_id_patient_key"),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="episode_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[EpisodeStatus.FINISHED, EpisodeStatus.CANCELLED], ended_on__isnull=False)
                | Q(status__in=OPEN_EPISODE_STATUSES, ended_on__isnull=True),
                name="episode_closed_iff_ended",
            ),
        ]

    def __str__(self) -> str:
        return f"Episode {localtime.day(self.started_on)} · {self.patient}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_EPISODE_STATUSES


class PlacementKind(models.TextChoices):
    RESIDENTIAL = "residential", "Residential stay"
    IOP = "iop", "IOP enrollment"


class PlacementStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class EndReason(models.TextChoices):
    STEPPED_DOWN = "stepped_down", "Stepped down"
    STEPPED_UP = "stepped_up", "Stepped up"
    DISCHARGED = "discharged", "Discharged"


class PlacementQuerySet(models.QuerySet):
    def not_cancelled(self):
        return self.filter(cancelled_at__isnull=True)

    def on(self, day: dt.date):
        """Placements in force on ``day`` (the half-open range contains it)."""
        return self.not_cancelled().filter(start_on__lte=day).filter(Q(ended_on__isnull=True) | Q(ended_on__gt=day))

    def open(self):
        """Not ended and not cancelled: the patient's current or upcoming level of care."""
        return self.not_cancelled().filter(ended_on__isnull=True)


class Placement(TimeStampedModel):
    """A level of care inside an episode: a residential stay or an IOP enrollment.

    The status is derived from the dates (see ``status_on``) rather than stored,
    so it cannot drift from them: only cancellation is recorded as such.
    """

    kind = models.CharField(max_length=12, choices=PlacementKind.choices)
    episode = models.ForeignKey(TreatmentEpisode, on_delete=models.PROTECT, related_name="placements")
    # Denormalised from the episode so the exclusion constraint can see it; a
    # composite foreign key (episode_id, patient_id) keeps the two in agreement.
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="placements")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="placements")
    bed = models.ForeignKey(Bed, null=True, blank=True, on_delete=models.PROTECT, related_name="placements")
    start_on = models.DateField()
    planned_end_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = PlacementQuerySet.as_manager()

    class Meta:
        ordering = ["-start_on", "-id"]
        indexes = [models.Index(fields=["program", "start_on"]), models.Index(fields=["bed", "start_on"])]
        constraints = [
            ExclusionConstraint(
                name="placement_one_level_of_care_per_day",
                expressions=[
                    (F("patient"), RangeOperators.EQUAL),
                    (DateRange("start_on", "ended_on"), RangeOperators.OVERLAPS),
                ],
                condition=Q(cancelled_at__isnull=True),
            ),
            ExclusionConstraint(
                name="placement_one_patient_per_bed_per_day",
                expressions=[
                    (F("bed"), RangeOperators.EQUAL),
                    (DateRange("start_on", "ended_on"), RangeOperators.OVERLAPS),
                ],
                condition=Q(cancelled_at__isnull=True, bed__isnull=False),
            ),
            models.CheckConstraint(
                condition=Q(kind=PlacementKind.RESIDENTIAL, bed__isnull=False, planned_end_on__isnull=False)
                | Q(kind=PlacementKind.IOP, bed__isnull=True),
                name="placement_bed_iff_residential",
            ),
            # Strictly after: an empty range would slip past the exclusion constraints.
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gt=F("start_on")),
                name="placement_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(planned_end_on__isnull=True) | Q(planned_end_on__gt=F("start_on")),
                name="placement_planned_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True, end_reason="") | Q(ended_on__isnull=False) & ~Q(end_reason=""),
                name="placement_end_reason_iff_ended",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.program.name} from {localtime.day(self.start_on)}"

    @property
    def is_residential(self) -> bool:
        return self.kind == PlacementKind.RESIDENTIAL

    def status_on(self, day: dt.date) -> PlacementStatus:
        if self.cancelled_at is not None:
            return PlacementStatus.CANCELLED
        if day < self.start_on:
            return PlacementStatus.PLANNED
        if self.ended_on is not None and day >= self.ended_on:
            return PlacementStatus.COMPLETED
        return PlacementStatus.ACTIVE

    @property
    def status(self) -> PlacementStatus:
        return self.status_on(clock.today())

    @property
    def planned_length_days(self) -> int | None:
        return (self.planned_end_on - self.start_on).days if self.planned_end_on else None


class ResidentialStayManager(models.Manager.from_queryset(PlacementQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(kind=PlacementKind.RESIDENTIAL)


class IOPEnrollmentManager(models.Manager.from_queryset(PlacementQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(kind=PlacementKind.IOP)


class ResidentialStay(Placement):
    objects = ResidentialStayManager()

    class Meta:
        proxy = True
        verbose_name = "residential stay"


class IOPEnrollment(Placement):
    objects = IOPEnrollmentManager()

    class Meta:
        proxy = True
        verbose_name = "IOP enrollment"


class StayExtension(TimeStampedModel):
    """An approved extension of a residential stay's plan. Append-only (a database trigger refuses changes)."""

    stay = models.ForeignKey(Placement, on_delete=models.PROTECT, related_name="extensions")
    previous_planned_end_on = models.DateField()
    new_planned_end_on = models.DateField()
    reason = models.TextField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["stay", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(new_planned_end_on__gt=F("previous_planned_end_on")), name="extension_moves_plan_later"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="extension_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Extension to {localtime.day(self.new_planned_end_on)}"


class TransitionKind(models.TextChoices):
    STEP_DOWN = "step_down", "Step-down"
    STEP_UP = "step_up", "Step-up"


class Transition(TimeStampedModel):
    """A move between levels of care inside one episode. Append-only; reversed by a ``Reversal``."""

    kind = models.CharField(max_length=10, choices=TransitionKind.choices)
    episode = models.ForeignKey(TreatmentEpisode, on_delete=models.PROTECT, related_name="transitions")
    from_placement = models.ForeignKey(Placement, on_delete=models.PROTECT, related_name="transitions_out")
    to_placement = models.OneToOneField(Placement, on_delete=models.PROTECT, related_name="transition_in")
    effective_on = models.DateField()
    reason = models.TextField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["effective_on", "created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="transition_has_reason"),
            models.CheckConstraint(condition=~Q(from_placement=F("to_placement")), name="transition_joins_two"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {localtime.day(self.effective_on)}"


class Disposition(models.TextChoices):
    COMPLETED = "completed", "Completed treatment"
    AGAINST_ADVICE = "against_advice", "Left against advice"
    TRANSFERRED = "transferred", "Transferred"
    ADMINISTRATIVE = "administrative", "Administrative"
    OTHER = "other", "Other"


class Discharge(TimeStampedModel):
    """The end of an episode. Append-only; reversed by a ``Reversal``."""

    episode = models.ForeignKey(TreatmentEpisode, on_delete=models.PROTECT, related_name="discharges")
    ended_placement = models.ForeignKey(Placement, on_delete=models.PROTECT, related_name="discharges")
    effective_on = models.DateField()
    disposition = models.CharField(max_length=16, choices=Disposition.choices)
    notes = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-effective_on", "-created_at"]

    def __str__(self) -> str:
        return f"Discharge on {localtime.day(self.effective_on)} ({self.get_disposition_display()})"


class Reversal(TimeStampedModel):
    """A recorded correction of a transition or a discharge: who, when, why. Append-only."""

    transition = models.OneToOneField(
        Transition, null=True, blank=True, on_delete=models.PROTECT, related_name="reversal"
    )
    discharge = models.OneToOneField(
        Discharge, null=True, blank=True, on_delete=models.PROTECT, related_name="reversal"
    )
    reason = models.TextField()
    reversed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(transition__isnull=False, discharge__isnull=True)
                | Q(transition__isnull=True, discharge__isnull=False),
                name="reversal_of_exactly_one",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="reversal_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Reversal of {self.transition or self.discharge}"


class AftercarePlan(TimeStampedModel):
    """Continuing care after discharge (FHIR CarePlan)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        REVOKED = "revoked", "Revoked"

    discharge = models.OneToOneField(Discharge, on_delete=models.PROTECT, related_name="aftercare_plan")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="aftercare_plans")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="aftercare_plans")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    starts_on = models.DateField()
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-starts_on"]

    def __str__(self) -> str:
        return f"Aftercare from {localtime.day(self.starts_on)} · {self.patient}"


class AftercareCheckIn(TimeStampedModel):
    """One follow-up due after discharge (FHIR Task)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    plan = models.ForeignKey(AftercarePlan, on_delete=models.PROTECT, related_name="checkins")
    offset_days = models.PositiveIntegerField()
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The patient's own answer from the app ("how are you doing"): clinical data, hidden from front desk.
    mood = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="How the patient feels, 1 (very bad) to 5 (very good)."
    )
    answer_text = models.TextField(blank=True, help_text="What the patient wrote, in their own words.")
    needs_help = models.BooleanField(default=False, help_text="The patient asked for help (opens an urgent follow-up).")
    answered_at = models.DateTimeField(null=True, blank=True)
    # Staff reached the patient (a call, a visit) and recorded it from the aftercare worklist (issue 12):
    # who, and a note (clinical). The check-in is completed by the contact, without an answer of its own.
    contacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    contact_note = models.TextField(blank=True)

    class Meta:
        ordering = ["due_on"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "offset_days"], name="checkin_one_per_offset"),
            models.CheckConstraint(condition=Q(offset_days__gt=0), name="checkin_after_discharge"),
            models.CheckConstraint(
                condition=Q(mood__isnull=True) | Q(mood__gte=1, mood__lte=5), name="checkin_mood_1_to_5"
            ),
            # An answer completes the check-in; without one there is no answer content.
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True, mood__isnull=True, answer_text="", needs_help=False)
                | Q(answered_at__isnull=False, status="completed", completed_at__isnull=False),
                name="checkin_answer_completes",
            ),
            # A recorded contact completes the check-in, with the time it was recorded.
            models.CheckConstraint(
                condition=Q(contacted_by__isnull=True, contact_note="")
                | Q(contacted_by__isnull=False, status="completed", completed_at__isnull=False),
                name="checkin_contact_completes",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self) -> str:
        return f"Day-{self.offset_days} check-in due {localtime.day(self.due_on)}"
