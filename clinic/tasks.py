"""Celery entry points for the audit trail's partitions: thin, they read the settings and the clock."""

from __future__ import annotations

import logging
from pathlib import Path

from celery import shared_task
from django.conf import settings

from clinic import audit_partitions, clock

logger = logging.getLogger(__name__)


@shared_task(name="clinic.audit_create_partitions")
def audit_create_partitions() -> list[str]:
    """Partition the audit trail's coming months (CLINIC_AUDIT_PARTITIONS_AHEAD). Idempotent."""
    created = audit_partitions.ensure_partitions(now=clock.now(), months_ahead=settings.CLINIC_AUDIT_PARTITIONS_AHEAD)
    if created:
        logger.info("Created audit partitions %s", ", ".join(created))
    return created


# A month of a large trail takes minutes to export: longer limits than the default, still under
# the broker's visibility timeout (an hour) so a running export is not delivered twice.
@shared_task(name="clinic.audit_retire_partitions", soft_time_limit=3000, time_limit=3300)
def audit_retire_partitions() -> list[dict]:
    """Export, verify and drop the audit trail's months past CLINIC_AUDIT_RETENTION_YEARS.

    An export that cannot be written or verified raises (the task fails, the partition stays).
    """
    done = audit_partitions.retire_expired(
        now=clock.now(),
        years=settings.CLINIC_AUDIT_RETENTION_YEARS,
        directory=Path(settings.CLINIC_AUDIT_ARCHIVE_DIR),
    )
    for archived in done:
        logger.info("Archived audit partition %s (%s rows) to %s and dropped it", *vars(archived).values())
    return [{"partition": a.partition, "rows": a.rows, "path": str(a.path)} for a in done]
