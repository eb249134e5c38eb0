"""(6) FHIR bulk export of every patient through a real Celery worker: its time, rows and peak memory.

The export streams rows in chunks into NDJSON files, so the worker's peak memory
should not grow with the number of patients: the report shows it at each scale.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.config import bench_environment
from bench.memory import peak_rss_tree, running_worker


def measure(*, out: Path, timeout: float = 600) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from exchange import services
    from exchange.models import BulkExport, ExportStatus
    from exchange.readers import Reader
    from patients.models import Patient

    user, _ = get_user_model().objects.get_or_create(
        username="bench.fhir", defaults={"is_superuser": True, "is_staff": True}
    )
    BulkExport.objects.filter(requested_by=user).update(status=ExportStatus.CANCELLED)
    with running_worker(
        env=bench_environment(), log=out / "celery-fhir-export.log", concurrency=1, name="fhir"
    ) as process:
        baseline = peak_rss_tree(process.pid)["max_process_mib"]
        started = time.perf_counter()
        with transaction.atomic():
            export = services.start_export(
                reader=Reader(user=user),
                request_url="bench:/fhir/R4/Patient/$export",
                types=list(services.EXPORT_TYPES),
                since=None,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            export.refresh_from_db()
            if export.status not in ("accepted", "running"):
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        memory = peak_rss_tree(process.pid)
    folder = services.export_dir(export)
    sizes = {p.stem: p.stat().st_size for p in folder.glob("*.ndjson")} if folder.exists() else {}
    services.delete_export(export=export)
    return {
        "status": export.status,
        "patients": Patient.objects.count(),
        "resources": {item["type"]: item["count"] for item in export.output},
        "megabytes": round(sum(sizes.values()) / 1e6, 1),
        "seconds": round(elapsed, 2),
        "worker_idle_mib": baseline,
        "worker_peak_mib": memory["max_process_mib"],
    }
