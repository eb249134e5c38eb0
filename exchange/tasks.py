"""Celery entry points of the FHIR layer: thin, by id, quiet when the row is gone."""

from __future__ import annotations

from celery import shared_task

from exchange import services


@shared_task(name="exchange.run_export", acks_late=True)
def run_export(export_id: int) -> None:
    services.run_export(export_id=export_id)


@shared_task(name="exchange.purge_expired_exports")
def purge_expired_exports() -> int:
    return services.purge_expired_exports()
