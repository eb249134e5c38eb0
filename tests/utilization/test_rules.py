"""The rules of utilization review: each bad input is a clear error and writes nothing; PostgreSQL keeps
the ones that matter even against raw SQL."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from tests.utilization.conftest import approve, day
from utilization import services as ur
from utilization.errors import (
    AlreadyDecided,
    AuthorizationOverlap,
    CoverageOverlap,
    InvalidAuthorization,
    InvalidCoverage,
    InvalidReview,
)
from utilization.models import Authorization, ConcurrentReview, Coverage

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident(patient, bed, clinician):
    from tests.utilization.conftest import admit

    return admit(patient, bed, day(1), clinician)


@pytest.fixture
def coverage(patient, blue, clinician):
    return ur.add_coverage(patient=patient, payer=blue, effective_on=day(1), member_id="BH-7", created_by=clinician)


def _request(resident, coverage, clinician, residential, **overrides):
    fields = dict(
        episode=resident.episode, coverage=coverage, asam_level=residential.asam_level, requested_units=7,
        start_on=day(1), end_on=day(7), requested_by=clinician, requested_on=day(1),
    )  # fmt: skip
    return ur.request_authorization(**{**fields, **overrides})


@pytest.fixture
def approved(resident, coverage, clinician, residential):
    auth = _request(resident, coverage, clinician, residential)
    return approve(auth, number="A-1", units=7, start=day(1), end=day(7), by=clinician, next_review_on=day(5))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"end_on": day(1), "start_on": day(2)}, "end_on"),  # ends before it starts
        ({"asam_level": "2.1", "unit_kind": "days"}, "asam_level"),  # the episode never had IOP
        ({"requested_units": -1}, "requested_units"),
        ({"requested_units": 8}, "requested_units"),  # 8 days do not fit in Mar 1-7
        ({"unit_kind": "sessions"}, "unit_kind"),  # residential is authorized in days
    ],
)
def test_a_bad_request_is_a_clear_error_and_writes_nothing(
    resident, coverage, clinician, residential, overrides, field
):
    with pytest.raises(InvalidAuthorization) as error:
        _request(resident, coverage, clinician, residential, **overrides)
    assert error.value.field == field and error.value.message
    assert not Authorization.objects.exists()


def test_self_pay_needs_no_authorization(resident, patient, self_pay, clinician, residential):
    cash = ur.add_coverage(patient=patient, payer=self_pay, effective_on=day(1), rank=2, created_by=clinician)
    with pytest.raises(InvalidAuthorization, match="needs no authorization"):
        _request(resident, cash, clinician, residential)


def test_approved_units_must_fit_the_approved_dates(resident, coverage, clinician, residential):
    auth = _request(resident, coverage, clinician, residential)
    for units in (-1, 8):
        with pytest.raises(InvalidAuthorization):
            approve(auth, number="A-1", units=units, start=day(1), end=day(7), by=clinician)
    with pytest.raises(InvalidAuthorization, match="ends before it starts"):
        approve(auth, number="A-1", units=1, start=day(7), end=day(6), by=clinician)
    auth.refresh_from_db()
    assert auth.status == "requested" and auth.approved_units is None


def test_two_approved_authorizations_may_not_overlap_for_one_coverage_and_level(
    approved, resident, coverage, clinician, residential
):
    second = _request(resident, coverage, clinician, residential, start_on=day(7), end_on=day(10), requested_units=4)
    with pytest.raises(AuthorizationOverlap):
        approve(second, number="A-2", units=4, start=day(7), end=day(10), by=clinician)
    # The day after the first one ends is free.
    approve(second, number="A-2", units=3, start=day(8), end=day(10), by=clinician)


def test_postgresql_refuses_an_overlapping_approved_authorization_inserted_with_raw_sql(approved):
    columns = (
        "public_id, created_at, updated_at, episode_id, patient_id, coverage_id, asam_level, unit_kind, status, "
        "requested_units, requested_start_on, requested_end_on, requested_on, requested_by_id, number, "
        "approved_units, start_on, end_on, decided_on, units_added, notes"
    )
    sql = f"""
        INSERT INTO utilization_authorization ({columns})
        SELECT gen_random_uuid(), now(), now(), episode_id, patient_id, coverage_id, asam_level, unit_kind,
               'approved', 3, %s, %s, requested_on, requested_by_id, 'RAW-1', 3, %s, %s, decided_on, 0, ''
        FROM utilization_authorization WHERE id = %s
    """
    with pytest.raises(IntegrityError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [day(6), day(8), day(6), day(8), approved.pk])
    assert "authorization_no_overlap_per_coverage_level" in str(error.value)
    # Not overlapping, the same insert goes in: the refusal was about the dates.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [day(8), day(10), day(8), day(10), approved.pk])


def test_what_the_payer_said_cannot_be_changed_even_with_raw_sql(approved):
    for assignment in ("approved_units = 9", "end_on = end_on + 1", "number = 'X'", "status = 'requested'"):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE utilization_authorization SET {assignment} WHERE id = %s", [approved.pk])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM utilization_authorization WHERE id = %s", [approved.pk])
    # Expiry is the one change of status after a decision.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE utilization_authorization SET status = 'expired' WHERE id = %s", [approved.pk])


def test_a_decision_is_recorded_once(approved, clinician):
    with pytest.raises(AlreadyDecided):
        approve(approved, number="A-1", units=6, start=day(1), end=day(7), by=clinician)


def test_more_days_at_a_review_are_a_new_row_and_the_original_terms_stay(approved, clinician):
    review = ur.record_review(
        authorization=approved, reviewed_on=day(5), outcome="approved_more", units_added=5, new_end_on=day(12),
        next_review_on=day(10), recorded_by=clinician,
    )  # fmt: skip
    approved.refresh_from_db()
    assert (approved.approved_units, approved.end_on) == (7, day(7))  # what the payer said first
    assert (approved.total_units, approved.approved_through, approved.next_review_on) == (12, day(12), day(10))
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE utilization_concurrentreview SET units_added = 50 WHERE id = %s", [review.pk])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE utilization_authorization SET units_added = 0 WHERE id = %s", [approved.pk])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"reviewed_on": day(1) - dt.timedelta(days=1), "outcome": "pending"}, "reviewed_on"),  # Feb 28
        ({"reviewed_on": day(5), "outcome": "approved_more", "units_added": 3, "new_end_on": day(6)}, "new_end_on"),
        ({"reviewed_on": day(5), "outcome": "approved_more", "units_added": 9, "new_end_on": day(9)}, "units_added"),
        ({"reviewed_on": day(5), "outcome": "denied", "units_added": 2}, "outcome"),
        ({"reviewed_on": day(5), "outcome": "pending", "next_review_on": day(4)}, "next_review_on"),
    ],
)
def test_a_bad_review_is_a_clear_error_and_writes_nothing(approved, clinician, fields, field):
    with pytest.raises(InvalidReview) as error:
        ur.record_review(authorization=approved, recorded_by=clinician, **fields)
    assert error.value.field == field
    assert not ConcurrentReview.objects.exists()
    approved.refresh_from_db()
    assert approved.units_added == 0 and approved.extended_to is None


def test_coverage_rules(patient, blue, clinician):
    with pytest.raises(InvalidCoverage, match="ends before"):
        ur.add_coverage(patient=patient, payer=blue, effective_on=day(5), ends_on=day(4), member_id="X",
                        created_by=clinician)  # fmt: skip
    with pytest.raises(InvalidCoverage, match="member id"):
        ur.add_coverage(patient=patient, payer=blue, effective_on=day(5), created_by=clinician)
    ur.add_coverage(patient=patient, payer=blue, effective_on=day(1), member_id="X", created_by=clinician)
    with pytest.raises(CoverageOverlap):
        ur.add_coverage(patient=patient, payer=blue, effective_on=day(9), member_id="Y", created_by=clinician)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coverage.objects.create(patient=patient, payer=blue, effective_on=day(9), member_id="Y")
    assert Coverage.objects.count() == 1
