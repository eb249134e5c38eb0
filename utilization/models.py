"""Utilization review: payers, a patient's coverages, payer authorizations and their concurrent reviews.

The clinical level of care (``programs.Placement``) and the payer's decision are kept
apart: an ``Authorization`` says which ASAM level the payer approved, for how many
units (days, or IOP sessions), over which dates. Dates here are *inclusive*
(``start_on`` through ``end_on``), as payers write them; a placement's own range stays
half-open.

What the payer said is never edited: once an authorization is decided, its number,
level, units and dates are fixed (a trigger refuses changes). More days approved at a
concurrent review are a new ``ConcurrentReview`` row (append-only); the authorization
keeps only their running totals (``units_added``, ``extended_to``), which may only grow,
so the PostgreSQL exclusion constraint can see the whole approved range.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from clinic.models import TimeStampedModel
from patients.models import Patient
from programs.models import AsamLevel, Placement, Program, TreatmentEpisode


class InclusiveDateRange(models.Func):
    """``daterange(lower, upper, '[]')``: both days included, as payers write their dates."""

    function = "daterange"
    output_field = DateRangeField()

    def __init__(self, lower, upper, **extra):
        super().__init__(lower, upper, models.Value("[]"), **extra)


class Payer(TimeStampedModel):
    class Kind(models.TextChoices):
        COMMERCIAL = "commercial", "Commercial"
        MEDICAID = "medicaid", "Medicaid"
        MEDICARE = "medicare", "Medicare"
        SELF_PAY = "self_pay", "Self-pay"
        OTHER = "other", "Other"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    requires_authorization = models.BooleanField(
        default=True, help_text="Whether a level of care needs the payer's authorization (never for self-pay)."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="self_pay", requires_authorization=True), name="payer_self_pay_needs_no_auth"
            )
        ]

    def __str__(self) -> str:
        return self.name


class SubscriberRelation(models.TextChoices):
    SELF = "self", "Self"
    SPOUSE = "spouse", "Spouse"
    CHILD = "child", "Child"
    OTHER = "other", "Other"


class Coverage(TimeStampedModel):
    """A patient's insurance with one payer; ``rank`` 1 is primary, 2 secondary, ... (FHIR Coverage.order)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="coverages")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="coverages")
    rank = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    member_id = models.CharField(max_length=40, blank=True)
    group_number = models.CharField(max_length=40, blank=True)
    subscriber_relation = models.CharField(
        max_length=8, choices=SubscriberRelation.choices, default=SubscriberRelation.SELF
    )
    effective_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="Last covered day; empty while in force.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["patient", "rank", "-effective_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("effective_on")), name="coverage_ends_after_start"
            ),
            models.CheckConstraint(condition=Q(rank__gte=1), name="coverage_rank_positive"),
            # One primary (one secondary, ...) at a time: the order of coverages is never ambiguous.
            ExclusionConstraint(
                name="coverage_one_per_rank_per_day",
                expressions=[
                    (F("patient"), RangeOperators.EQUAL),
                    (F("rank"), RangeOperators.EQUAL),
                    (InclusiveDateRange("effective_on", "ends_on"), RangeOperators.OVERLAPS),
                ],
            ),
            # Target of the (coverage, patient) foreign key from authorizations.
            models.UniqueConstraint(fields=["id", "patient"], name="coverage_id_patient_key"),
        ]

    def __str__(self) -> str:
        return f"{self.payer} (#{self.rank})"


class UnitKind(models.TextChoices):
    DAYS = "days", "Days"
    SESSIONS = "sessions", "Sessions"


class AuthorizationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    PARTIALLY_APPROVED = "partial", "Partially approved"
    DENIED = "denied", "Denied"
    EXPIRED = "expired", "Expired"


APPROVED_STATUSES = (AuthorizationStatus.APPROVED, AuthorizationStatus.PARTIALLY_APPROVED)
# A day of IOP may hold more than one group; more sessions than this a day is a typo, not a payer's decision.
MAX_SESSIONS_PER_DAY = 3


class Authorization(TimeStampedModel):
    """The payer's authorization of a level of care for an episode (FHIR ClaimResponse preAuthRef)."""

    episode = models.ForeignKey(TreatmentEpisode, on_delete=models.PROTECT, related_name="authorizations")
    # Denormalised for scoping and the worklists; composite foreign keys keep it equal to the episode's
    # and the coverage's patient.
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="authorizations")
    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="authorizations")
    asam_level = models.CharField("ASAM level", max_length=3, choices=AsamLevel.choices)
    unit_kind = models.CharField(max_length=8, choices=UnitKind.choices, default=UnitKind.DAYS)
    status = models.CharField(max_length=10, choices=AuthorizationStatus.choices, default=AuthorizationStatus.REQUESTED)
    requested_units = models.PositiveIntegerField()
    requested_start_on = models.DateField()
    requested_end_on = models.DateField()
    requested_on = models.DateField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The payer's decision, as the payer gave it; fixed once decided (a trigger).
    number = models.CharField("authorization number", max_length=40, blank=True)
    approved_units = models.IntegerField(null=True, blank=True)
    start_on = models.DateField(null=True, blank=True)
    end_on = models.DateField(null=True, blank=True)
    decided_on = models.DateField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Running totals of the concurrent reviews (the rows are the record); they only grow.
    units_added = models.PositiveIntegerField(default=0)
    extended_to = models.DateField(null=True, blank=True)
    next_review_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_on", "-id"]
        indexes = [
            models.Index(fields=["episode", "asam_level"]),
            models.Index(fields=["next_review_on"]),
        ]
        permissions = [("export_billable_units", "Can export billable units")]
        constraints = [
            ExclusionConstraint(
                name="authorization_no_overlap_per_coverage_level",
                expressions=[
                    (F("coverage"), RangeOperators.EQUAL),
                    (F("asam_level"), RangeOperators.EQUAL),
                    (InclusiveDateRange("start_on", Coalesce("extended_to", "end_on")), RangeOperators.OVERLAPS),
                ],
                condition=Q(status__in=APPROVED_STATUSES),
            ),
            models.CheckConstraint(
                condition=Q(requested_end_on__gte=F("requested_start_on")), name="authorization_request_dates"
            ),
            models.CheckConstraint(
                condition=Q(start_on__isnull=True) | Q(end_on__gte=F("start_on")),
                name="authorization_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(extended_to__isnull=True) | Q(extended_to__gt=F("end_on")),
                name="authorization_extension_later",
            ),
            models.CheckConstraint(
                condition=Q(approved_units__isnull=True) | Q(approved_units__gte=0),
                name="authorization_units_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=APPROVED_STATUSES)
                | Q(
                    approved_units__isnull=False,
                    start_on__isnull=False,
                    end_on__isnull=False,
                    decided_on__isnull=False,
                )
                & ~Q(number=""),
                name="authorization_approved_has_terms",
            ),
            models.CheckConstraint(
                condition=Q(status=AuthorizationStatus.REQUESTED) | Q(decided_on__isnull=False),
                name="authorization_decided_has_date",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Requested {self.requested_on:%Y-%m-%d}"

    @property
    def is_approved(self) -> bool:
        return self.status in APPROVED_STATUSES

    @property
    def total_units(self) -> int | None:
        return None if self.approved_units is None else self.approved_units + self.units_added

    @property
    def approved_through(self):
        return self.extended_to or self.end_on


class ReviewOutcome(models.TextChoices):
    APPROVED_MORE = "approved_more", "More units approved"
    DENIED = "denied", "Denied"
    PENDING = "pending", "Pending"
    PEER_TO_PEER = "peer_to_peer", "Peer-to-peer requested"
    APPEALED = "appealed", "Appealed"


class ConcurrentReview(TimeStampedModel):
    """One concurrent review with the payer. Append-only (a trigger refuses changes)."""

    authorization = models.ForeignKey(Authorization, on_delete=models.PROTECT, related_name="reviews")
    reviewed_on = models.DateField()
    outcome = models.CharField(max_length=14, choices=ReviewOutcome.choices)
    units_added = models.PositiveIntegerField(default=0)
    new_end_on = models.DateField(null=True, blank=True)
    next_review_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["authorization", "reviewed_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome=ReviewOutcome.APPROVED_MORE, units_added__gt=0, new_end_on__isnull=False)
                | (~Q(outcome=ReviewOutcome.APPROVED_MORE) & Q(units_added=0, new_end_on__isnull=True)),
                name="review_more_units_iff_approved",
            ),
            models.CheckConstraint(
                condition=Q(next_review_on__isnull=True) | Q(next_review_on__gte=F("reviewed_on")),
                name="review_next_after_this",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} on {self.reviewed_on:%Y-%m-%d}"


class ProgramBilling(TimeStampedModel):
    """A program's billing codes and unit rule, for the billable-units export.

    Kept beside the program rather than on it: billing is the payer side of the
    program, owned by this app, and ``programs`` must not depend on it.
    """

    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="billing")
    revenue_code = models.CharField(
        max_length=4, validators=[RegexValidator(r"^\d{4}$", "A revenue code is four digits, like 1002 or 0905.")]
    )
    hcpcs_code = models.CharField(
        "HCPCS code",
        max_length=5,
        validators=[RegexValidator(r"^[A-Z]\d{4}$", "A HCPCS code is a letter and four digits, like H0018.")],
    )
    iop_billable_minutes = models.PositiveIntegerField(
        default=180, help_text="Attended minutes in a day that make an IOP day billable (outpatient programs)."
    )

    class Meta:
        ordering = ["program"]
        verbose_name = "program billing codes"
        verbose_name_plural = "program billing codes"
        constraints = [
            models.CheckConstraint(condition=Q(iop_billable_minutes__gt=0), name="billing_minutes_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.revenue_code}/{self.hcpcs_code} · {self.program}"


class PlacementUnderReview(Placement):
    """Placements as the UR coordinator sees them (days in care against the payer's approval)."""

    class Meta:
        proxy = True
        verbose_name = "level of care under review"
        verbose_name_plural = "levels of care under review"
