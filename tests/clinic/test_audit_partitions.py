"""The audit trail's monthly partitions (issue 17): created ahead, append-only each, retired only once exported."""

from __future__ import annotations

import csv
import datetime as dt
import gzip

import pytest
import time_machine
from django.db import DatabaseError, IntegrityError, connection, transaction
from psycopg import errors

from clinic import audit, audit_partitions, clock, dbroles
from clinic.models import AuditAction, AuditCategory, AuditEvent
from clinic.tasks import audit_create_partitions, audit_retire_partitions

pytestmark = pytest.mark.django_db
sees_committed_rows = pytest.mark.django_db(transaction=True)

APP_ROLE = "clinic_app_test"  # as tests/clinic/test_database_roles.py
APP_PASSWORD = "clinic-app-test-only"
UTC = dt.UTC


def _names() -> set[str]:
    return {p.name for p in audit_partitions.partitions()}


def _partition_of(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM clinic_auditevent WHERE id = %s", [event_id])
        return cursor.fetchone()[0]


def _record_at(instant: dt.datetime, user, patients=(1,)) -> list[AuditEvent]:
    with time_machine.travel(instant, tick=False):
        return audit.record(
            None, action=AuditAction.VIEW, category=AuditCategory.DEMOGRAPHICS, patients=patients, user=user
        )


@pytest.fixture
def app_db():
    """A connection to the test database as the application's role (autocommit), which owns nothing."""
    with dbroles.connect(dbroles.owner_settings()) as owner:
        dbroles.ensure_app_role(owner, role=APP_ROLE, password=APP_PASSWORD)
        dbroles.grant_app_privileges(owner, role=APP_ROLE)
    with dbroles.connect({**connection.settings_dict, "USER": APP_ROLE, "PASSWORD": APP_PASSWORD}) as conn:
        yield conn


@pytest.mark.instant("2031-05-31T22:30:00-04:00")  # May in New York, already June in UTC: months are UTC months
def test_the_beat_task_partitions_this_month_and_the_next_three(settings):
    settings.CLINIC_AUDIT_PARTITIONS_AHEAD = 3
    created = audit_create_partitions()
    assert created == [
        "clinic_auditevent_y2031m06",
        "clinic_auditevent_y2031m07",
        "clinic_auditevent_y2031m08",
        "clinic_auditevent_y2031m09",
    ]
    bounds = {p.name: (p.lower, p.upper) for p in audit_partitions.partitions()}
    assert bounds["clinic_auditevent_y2031m06"] == (
        dt.datetime(2031, 6, 1, tzinfo=UTC),
        dt.datetime(2031, 7, 1, tzinfo=UTC),
    )
    assert "clinic_auditevent_y2031m05" not in bounds and "clinic_auditevent_y2031m10" not in bounds
    assert audit_create_partitions() == []  # idempotent: the next night's run creates nothing


def test_a_row_lands_in_its_months_partition(clinician):
    audit_partitions.ensure_partitions(now=dt.datetime(2032, 3, 10, tzinfo=UTC), months_ahead=1)
    [event] = _record_at(dt.datetime(2032, 4, 30, 23, 59, tzinfo=UTC), clinician)
    assert _partition_of(event.pk) == "clinic_auditevent_y2032m04"


def test_a_month_without_a_partition_keeps_its_rows_in_the_default_partition_and_says_so(clinician):
    [event] = _record_at(dt.datetime(2044, 2, 3, tzinfo=UTC), clinician)
    assert _partition_of(event.pk) == "clinic_auditevent_default"
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    # The month cannot be partitioned while its rows sit in the default partition: a clear error, nothing moved.
    with pytest.raises(DatabaseError, match="default partition holds rows of 2044-02"), transaction.atomic():
        audit_partitions.ensure_partitions(now=dt.datetime(2044, 2, 1, tzinfo=UTC), months_ahead=1)
    assert _partition_of(event.pk) == "clinic_auditevent_default"


@pytest.mark.parametrize(
    "statement",
    ["UPDATE {table} SET username = 'someone-else'", "DELETE FROM {table}", "TRUNCATE {table}"],
    ids=["update", "delete", "truncate"],
)
def test_each_partition_refuses_changes_as_the_owner(clinician, statement):
    audit_partitions.ensure_partitions(now=dt.datetime(2033, 7, 1, tzinfo=UTC), months_ahead=1)
    [event] = _record_at(dt.datetime(2033, 7, 15, tzinfo=UTC), clinician)
    _record_at(dt.datetime(2033, 8, 15, tzinfo=UTC), clinician)
    _record_at(dt.datetime(2045, 1, 1, tzinfo=UTC), clinician)  # no partition: the default one
    for table in ["clinic_auditevent_y2033m07", "clinic_auditevent_y2033m08", "clinic_auditevent_default"]:
        with (
            pytest.raises(IntegrityError, match="cannot be"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement.format(table=table))
    assert AuditEvent.objects.get(pk=event.pk).username == "dana.clinician"


@sees_committed_rows
def test_each_partition_refuses_changes_as_the_application_role(app_db, clinician):
    # The application's role creates partitions through the owner's function (it owns nothing itself).
    app_db.execute("SELECT clinic_audit_create_partitions(%s, %s)", [clock.now(), clock.now()])
    [event] = audit.record(None, action=AuditAction.VIEW, patients=[7], user=clinician)
    table = _partition_of(event.pk)
    assert table.startswith("clinic_auditevent_y")
    for statement in [f"UPDATE {table} SET detail = 'edited'", f"DELETE FROM {table}"]:
        with pytest.raises(errors.IntegrityConstraintViolation) as refused:
            app_db.execute(statement)
        assert refused.value.diag.constraint_name == f"{table}_append_only"
    with pytest.raises(errors.InsufficientPrivilege):
        app_db.execute(f"TRUNCATE {table}")
    with pytest.raises(errors.InsufficientPrivilege):
        app_db.execute(f"DROP TABLE {table}")
    assert app_db.execute(f"SELECT count(*) FROM {table} WHERE id = %s", [event.pk]).fetchone()[0] == 1
    owned = app_db.execute(
        "SELECT count(*) FROM pg_class WHERE relowner = to_regrole(current_user)"
        " AND relnamespace = 'public'::regnamespace"
    ).fetchone()[0]
    assert owned == 0


@pytest.fixture
def old_months(clinician):
    """Three partitioned months of 2015 with 2, 3 and 1 rows (the third month with a comma and a newline)."""
    audit_partitions.ensure_partitions(now=dt.datetime(2015, 1, 1, tzinfo=UTC), months_ahead=2)
    _record_at(dt.datetime(2015, 1, 1, 0, 0, tzinfo=UTC), clinician, patients=[11, 12])
    _record_at(dt.datetime(2015, 2, 28, 23, 59, tzinfo=UTC), clinician, patients=[11, 12, 13])
    with time_machine.travel(dt.datetime(2015, 3, 31, 23, 59, 59, tzinfo=UTC), tick=False):
        audit.record(None, action=AuditAction.EXPORT, user=clinician, detail='filters: "q, at"\nnext')
    return ["clinic_auditevent_y2015m01", "clinic_auditevent_y2015m02", "clinic_auditevent_y2015m03"]


@pytest.mark.instant("2021-03-15T12:00:00Z")
def test_retention_exports_verifies_and_drops_only_the_months_past_it(old_months, settings, tmp_path):
    settings.CLINIC_AUDIT_RETENTION_YEARS = 6
    settings.CLINIC_AUDIT_ARCHIVE_DIR = tmp_path / "archive"
    # Six years before 2021-03-15: months ending on or before 2015-03-01 go; March 2015 stays.
    done = audit_retire_partitions()
    assert [(d["partition"], d["rows"]) for d in done] == [(old_months[0], 2), (old_months[1], 3)]
    assert _names().isdisjoint(old_months[:2]) and old_months[2] in _names()
    assert not AuditEvent.objects.filter(at__lt=dt.datetime(2015, 3, 1, tzinfo=UTC)).exists()
    with gzip.open(tmp_path / "archive" / f"{old_months[1]}.csv.gz", "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["patient_id"] for row in rows] == ["11", "12", "13"]
    assert {row["username"] for row in rows} == {"dana.clinician"}
    assert sorted(p.name for p in (tmp_path / "archive").iterdir()) == [f"{n}.csv.gz" for n in old_months[:2]]


@pytest.mark.instant("2021-04-02T00:00:00Z")
def test_a_quoted_newline_is_one_archived_row(old_months, settings, tmp_path):
    settings.CLINIC_AUDIT_ARCHIVE_DIR = tmp_path
    done = audit_retire_partitions()
    assert done[-1]["partition"] == old_months[2] and done[-1]["rows"] == 1
    with gzip.open(tmp_path / f"{old_months[2]}.csv.gz", "rt", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["detail"] == 'filters: "q, at"\nnext'


@pytest.mark.instant("2021-03-15T12:00:00Z")
def test_nothing_is_dropped_when_the_export_cannot_be_written(old_months, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the archive folder should be")
    settings.CLINIC_AUDIT_ARCHIVE_DIR = blocker / "archive"
    with pytest.raises(audit_partitions.ArchiveError, match="clinic_auditevent_y2015m01"):
        audit_retire_partitions()
    assert set(old_months) <= _names()
    assert AuditEvent.objects.filter(at__year=2015).count() == 6


def test_the_database_drops_a_partition_only_when_the_exported_count_matches(old_months):
    cutoff = dt.datetime(2016, 1, 1, tzinfo=UTC)
    with (
        pytest.raises(IntegrityError, match="holds 3 rows but 2 were exported"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT clinic_audit_drop_partition(%s, %s, %s)", [old_months[1], 2, cutoff])
    assert old_months[1] in _names()
    assert AuditEvent.objects.filter(at__year=2015, at__month=2).count() == 3


def test_the_database_refuses_to_drop_a_young_partition_whatever_the_caller_says(clinician):
    audit_partitions.ensure_partitions(now=clock.now(), months_ahead=1)
    young = next(p for p in audit_partitions.partitions() if p.upper > clock.now())
    far_future = dt.datetime(2100, 1, 1, tzinfo=UTC)
    with (
        pytest.raises(IntegrityError, match="not past its retention"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT clinic_audit_drop_partition(%s, 0, %s)", [young.name, far_future])
    with (
        pytest.raises(DatabaseError, match="not a partition"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT clinic_audit_drop_partition('patients_patient', 0, %s)", [far_future])
    assert young.name in _names()
