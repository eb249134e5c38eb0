"""Beat entry points for admissions (thin: they call the services)."""

from __future__ import annotations

import logging

from celery import shared_task

from admissions import services

logger = logging.getLogger(__name__)


@shared_task(name="admissions.lapse_reservations", ignore_result=True)
def lapse_reservations() -> int:
    """Mark held reservations past their expiry as lapsed; their beds are free again."""
    count = services.lapse_expired_reservations()
    if count:
        logger.info("admissions: %d reservations lapsed", count)
    return count
