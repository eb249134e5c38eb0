"""The audit trail's monthly partitions: created ahead, and retired after the retention period.

``clinic_auditevent`` is partitioned by month on ``at`` (migration 0007). Two beat tasks
(``clinic/tasks.py``) call this module:

- ``ensure_partitions`` keeps the current month and the next few partitioned. A row whose
  month has no partition still lands in ``clinic_auditevent_default``: never lost.
- ``retire_expired`` exports each partition older than ``CLINIC_AUDIT_RETENTION_YEARS`` to a
  gzip CSV under ``CLINIC_AUDIT_ARCHIVE_DIR``, reads the file back and counts its rows, and
  only then has PostgreSQL detach and drop the partition, which it refuses unless the count
  matches what the partition holds.

The application's role owns no table, so both go through SECURITY DEFINER functions owned
by the owner role (see the migration): the application can ask for partitions and for the
retirement of old ones, and nothing else.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import os
from dataclasses import dataclass
from pathlib import Path

from dateutil.relativedelta import relativedelta
from django.db import connection

PARENT = "clinic_auditevent"
DEFAULT_PARTITION = "clinic_auditevent_default"
# Columns in the archive, in the table's order (the row as stored: ids, not names).
ARCHIVE_COLUMNS = [
    "id",
    "at",
    "user_id",
    "username",
    "role",
    "ip_address",
    "user_agent",
    "action",
    "category",
    "patient_id",
    "object_type",
    "object_id",
    "path",
    "request_id",
    "detail",
]


@dataclass(frozen=True)
class Partition:
    name: str
    lower: dt.datetime
    upper: dt.datetime


@dataclass(frozen=True)
class Archived:
    partition: str
    rows: int
    path: Path


class ArchiveError(Exception):
    """The export of a partition could not be written or verified; the partition is kept."""


def _month_start(instant: dt.datetime) -> dt.datetime:
    utc = instant.astimezone(dt.UTC)
    return utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def ensure_partitions(*, now: dt.datetime, months_ahead: int) -> list[str]:
    """Create the partitions of ``now``'s month through ``months_ahead`` months later; return the new ones."""
    through = _month_start(now) + relativedelta(months=months_ahead)
    with connection.cursor() as cursor:
        cursor.execute("SELECT clinic_audit_create_partitions(%s, %s)", [now, through])
        return [name for (name,) in cursor.fetchall()]


def partitions() -> list[Partition]:
    """The monthly partitions, oldest first (not the default one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, b.m[1]::timestamptz, b.m[2]::timestamptz
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            CROSS JOIN LATERAL (
                SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                    'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS m
            ) b
            WHERE i.inhparent = %s::regclass AND b.m IS NOT NULL
            ORDER BY 2
            """,
            [PARENT],
        )
        return [Partition(name, lower, upper) for name, lower, upper in cursor.fetchall()]


def retention_cutoff(*, now: dt.datetime, years: int) -> dt.datetime:
    """Partitions ending on or before this instant are past retention (whole months only)."""
    return _month_start(now - relativedelta(years=years))


def export_partition(partition: Partition, *, directory: Path) -> Archived:
    """Write the partition's rows to ``<directory>/<name>.csv.gz`` and verify the file by reading it back.

    Written under a temporary name and renamed once complete and synced, so a file with the
    final name is always whole. Raises ArchiveError when the file cannot be written or does
    not hold the rows the partition held.
    """
    final = directory / f"{partition.name}.csv.gz"
    partial = directory / f"{partition.name}.csv.gz.partial"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Through the parent, by range: the application's role reads partitions only through it.
        query = (
            f"COPY (SELECT {', '.join(ARCHIVE_COLUMNS)} FROM {PARENT} WHERE at >= %s AND at < %s ORDER BY id)"
            " TO STDOUT WITH (FORMAT csv, HEADER true)"
        )
        with open(partial, "wb") as raw, connection.cursor() as cursor:
            with (
                gzip.GzipFile(fileobj=raw, mode="wb") as gz,
                cursor.cursor.copy(query, [partition.lower, partition.upper]) as copy,
            ):
                for chunk in copy:
                    gz.write(chunk)
            expected = cursor.cursor.rowcount
            raw.flush()
            os.fsync(raw.fileno())
        written = count_archived_rows(partial)
        if written != expected:
            partial.unlink()
            raise ArchiveError(f"The archive of {partition.name} holds {written} rows, the partition {expected}")
        partial.rename(final)
    except OSError as error:
        if partial.parent.is_dir():
            partial.unlink(missing_ok=True)
        raise ArchiveError(f"Could not write the archive of {partition.name}: {error}") from error
    return Archived(partition=partition.name, rows=written, path=final)


def count_archived_rows(path: Path) -> int:
    """Data rows in a gzip CSV archive (its header excluded), parsed as CSV: a quoted newline is one row."""
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def retire_expired(*, now: dt.datetime, years: int, directory: Path) -> list[Archived]:
    """Export, verify, detach and drop every partition past retention, oldest first.

    A partition whose export fails is kept and the error raised, so the task fails loudly;
    the database drops a partition only when the verified count matches what it holds.
    """
    cutoff = retention_cutoff(now=now, years=years)
    done = []
    for partition in partitions():
        if partition.upper > cutoff:
            break
        archived = export_partition(partition, directory=directory)
        with connection.cursor() as cursor:
            cursor.execute("SELECT clinic_audit_drop_partition(%s, %s, %s)", [partition.name, archived.rows, cutoff])
        done.append(archived)
    return done
