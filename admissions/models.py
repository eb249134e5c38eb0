"""Admissions: referrals, the waitlist and bed (or seat) reservations.

A referral is a person (a patient already, or someone who is not one yet) referred
to a program. Accepting it puts the patient on the program's waitlist; a
reservation holds a bed (or, for an IOP track, a seat) for them from a date until
an expiry; admitting them turns the reservation into the stay in one transaction.

**The bed rule.** ``BedHold`` is one row per bed and date range that is taken: a
trigger on ``programs_placement`` keeps a row for every residential stay that is
not cancelled (``[start_on, ended_on or planned_end_on)``), and a trigger on
``admissions_reservation`` keeps one for every held reservation with a bed. One
exclusion constraint over the table (``bed_one_hold_per_day``) refuses a stay and
a reservation, or two reservations, on the same bed and day, whichever commits
second. Services never write holds themselves, so they cannot forget one.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.db import models
from django.db.models import F, Q

from clinic import localtime
from clinic.models import TimeStampedModel
from patients.models import Patient
from programs.models import AsamLevel, Bed, Placement, Program


class ReferralSource(models.TextChoices):
    SELF = "self", "Self"
    FAMILY = "family", "Family"
    HOSPITAL = "hospital", "Hospital"
    COURT = "court", "Court"
    PROVIDER = "provider", "Another provider"
    INTERNAL = "internal", "Internal (step-up or readmission)"


class ReferralStatus(models.TextChoices):
    NEW = "new", "New"
    SCREENING = "screening", "Screening"
    ACCEPTED = "accepted", "Accepted (waitlist)"
    ADMITTED = "admitted", "Admitted"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"
    NO_RESPONSE = "no_response", "No response"


OPEN_REFERRAL_STATUSES = (ReferralStatus.NEW, ReferralStatus.SCREENING, ReferralStatus.ACCEPTED)
CLOSED_REFERRAL_STATUSES = (
    ReferralStatus.ADMITTED,
    ReferralStatus.DECLINED,
    ReferralStatus.WITHDRAWN,
    ReferralStatus.NO_RESPONSE,
)
# Where a referral may go from each status; services enforce it (a decision always has a reason and a person).
REFERRAL_TRANSITIONS: dict[str, frozenset[str]] = {
    ReferralStatus.NEW: frozenset(
        {ReferralStatus.SCREENING, ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN, ReferralStatus.NO_RESPONSE}
    ),
    ReferralStatus.SCREENING: frozenset(
        {ReferralStatus.ACCEPTED, ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN, ReferralStatus.NO_RESPONSE}
    ),
    ReferralStatus.ACCEPTED: frozenset({ReferralStatus.ADMITTED, ReferralStatus.WITHDRAWN, ReferralStatus.NO_RESPONSE}),
}


class Referral(TimeStampedModel):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="referrals")
    requested_level = models.CharField("requested level of care", max_length=3, choices=AsamLevel.choices)
    source = models.CharField(max_length=12, choices=ReferralSource.choices)
    referred_on = models.DateField()
    # An existing patient (a readmission, a step-up), or set when an accepted referral registers the person.
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    referrer_name = models.CharField(max_length=200, blank=True, help_text="Who referred (person or organisation).")
    notes = models.TextField(blank=True, help_text="Clinical: hidden from front desk.")

    status = models.CharField(max_length=12, choices=ReferralStatus.choices, default=ReferralStatus.NEW)
    priority = models.PositiveSmallIntegerField(default=3, help_text="1 is the most urgent; the waitlist sorts by it.")
    contacted_at = models.DateTimeField(null=True, blank=True, help_text="When screening began (first contact).")
    accepted_on = models.DateField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True, help_text="Left the pipeline (admitted, declined, ...).")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-referred_on", "-id"]
        indexes = [models.Index(fields=["program", "status", "priority", "accepted_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=5), name="referral_priority_1_to_5"),
            # On the waitlist or admitted means a patient exists and the acceptance is dated.
            models.CheckConstraint(
                condition=~Q(status__in=[ReferralStatus.ACCEPTED, ReferralStatus.ADMITTED])
                | Q(patient__isnull=False, accepted_on__isnull=False, accepted_at__isnull=False),
                name="referral_accepted_has_patient",
            ),
            models.CheckConstraint(
                condition=Q(status__in=CLOSED_REFERRAL_STATUSES, closed_on__isnull=False)
                | Q(status__in=OPEN_REFERRAL_STATUSES, closed_on__isnull=True),
                name="referral_closed_iff_closed_on",
            ),
            # Every decision (accept, decline, withdraw, no response) says who and why.
            models.CheckConstraint(
                condition=Q(status__in=[ReferralStatus.NEW, ReferralStatus.SCREENING])
                | (Q(decided_by__isnull=False, decided_at__isnull=False) & ~Q(decision_reason="")),
                name="referral_decision_recorded",
            ),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=F("referred_on")),
                name="referral_closes_after_referral",
            ),
            models.UniqueConstraint(
                fields=["patient", "program"],
                condition=Q(status__in=OPEN_REFERRAL_STATUSES, patient__isnull=False),
                name="referral_one_open_per_patient_and_program",
            ),
            # Targets of the composite foreign keys from reservations (same patient, same program).
            models.UniqueConstraint(fields=["id", "patient"], name="referral_id_patient_key"),
            models.UniqueConstraint(fields=["id", "program"], name="referral_id_program_key"),
        ]

    def __str__(self) -> str:
        return f"Referral to {self.program.name} on {self.referred_on:%Y-%m-%d} ({self.get_status_display()})"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ReferralEvent(models.Model):
    """One decision on a referral (a status change or a new priority), with who and why. Append-only."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status"
        PRIORITY = "priority", "Priority"

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_value = models.CharField(max_length=12)
    to_value = models.CharField(max_length=12)
    reason = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["referral", "at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind="status") | ~Q(reason=""), name="referralevent_priority_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.from_value} → {self.to_value}"


class ReservationStatus(models.TextChoices):
    HELD = "held", "Held"
    ADMITTED = "admitted", "Admitted"
    LAPSED = "lapsed", "Lapsed"
    CANCELLED = "cancelled", "Cancelled"


class Reservation(TimeStampedModel):
    """A bed (residential) or a seat (IOP track) held for a waitlisted patient from a date until an expiry."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="reservations")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="reservations")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="reservations")
    bed = models.ForeignKey(Bed, null=True, blank=True, on_delete=models.PROTECT, related_name="reservations")
    start_on = models.DateField(help_text="The admission (or first IOP) day the bed or seat is held from.")
    planned_end_on = models.DateField(
        null=True, blank=True, help_text="Planned discharge (residential) or planned end (IOP, optional)."
    )
    expires_at = models.DateTimeField(help_text="Not admitted by then, the reservation lapses and the bed is free.")
    status = models.CharField(max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.HELD)
    placement = models.OneToOneField(
        Placement, null=True, blank=True, on_delete=models.PROTECT, related_name="reservation"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["start_on", "id"]
        indexes = [
            models.Index(fields=["program", "status", "start_on"]),
            models.Index(fields=["status", "expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_end_on__isnull=True) | Q(planned_end_on__gt=F("start_on")),
                name="reservation_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(bed__isnull=True) | Q(planned_end_on__isnull=False),
                name="reservation_bed_has_planned_end",
            ),
            # Only an admitted reservation names a stay; that an admitted one does is checked at commit
            # (a deferred trigger): admitting releases the hold before the stay that takes the bed exists.
            models.CheckConstraint(
                condition=Q(placement__isnull=True) | Q(status=ReservationStatus.ADMITTED),
                name="reservation_placement_only_when_admitted",
            ),
            models.CheckConstraint(
                condition=Q(status=ReservationStatus.HELD, closed_at__isnull=True)
                | (~Q(status=ReservationStatus.HELD) & Q(closed_at__isnull=False)),
                name="reservation_closed_iff_not_held",
            ),
            models.UniqueConstraint(
                fields=["referral"],
                condition=Q(status=ReservationStatus.HELD),
                name="reservation_one_held_per_referral",
            ),
        ]

    def __str__(self) -> str:
        where = f"bed {self.bed.label}" if self.bed_id else "a seat"
        return f"Reservation of {where} in {self.program.name} from {localtime.day(self.start_on)}"


class BedHold(models.Model):
    """A bed taken on a range of days, by a stay or a held reservation. Written only by triggers."""

    bed = models.ForeignKey(Bed, on_delete=models.PROTECT, related_name="+")
    days = DateRangeField()
    placement = models.OneToOneField(Placement, null=True, on_delete=models.DO_NOTHING, related_name="+")
    reservation = models.OneToOneField(Reservation, null=True, on_delete=models.DO_NOTHING, related_name="+")

    class Meta:
        default_permissions = ()
        constraints = [
            ExclusionConstraint(
                name="bed_one_hold_per_day",
                expressions=[(F("bed"), RangeOperators.EQUAL), ("days", RangeOperators.OVERLAPS)],
            ),
            models.CheckConstraint(
                condition=Q(placement__isnull=False, reservation__isnull=True)
                | Q(placement__isnull=True, reservation__isnull=False),
                name="bedhold_one_holder",
            ),
            models.CheckConstraint(condition=~Q(days__isempty=True), name="bedhold_not_empty"),
        ]

    def __str__(self) -> str:
        return f"Bed {self.bed_id} held {self.days}"
