"""Celery entry points for schedules: thin, they take ids and call the services."""

from __future__ import annotations

import logging

from celery import shared_task

from scheduling import services

logger = logging.getLogger(__name__)


@shared_task(name="scheduling.generate_sessions")
def generate_sessions(series_ids: list[int] | None = None) -> dict[str, int]:
    """Roll the horizon forward: create missing sessions (all series, or the given ones) and book them.

    Idempotent, so a redelivered or overlapping run does no harm. Series that no
    longer exist are simply not found.
    """
    result = services.generate_sessions(series_ids=series_ids)
    logger.info(
        "Generated %s sessions and %s bookings for %s series",
        result.sessions_created,
        result.bookings_created,
        result.series,
    )
    return {"series": result.series, "sessions": result.sessions_created, "bookings": result.bookings_created}
