"""(6) FHIR bulk export of every patient through a real Celery worker: its time, rows and peak memory.

The export streams rows in chunks into NDJSON files, so the worker's peak memory
should not grow with the number of patients: the report shows it at each scale.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.config import ROOT, VENV_BIN, bench_environment
from bench.memory import _children, peak_rss_tree


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
    env = bench_environment()
    log = open(out / "celery-fhir-export.log", "w")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(
        [str(VENV_BIN / "celery"), "-A", "clinic", "worker", "--concurrency", "1", "--pool", "prefork",
         "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", "benchfhir@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _children(process.pid):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Celery worker did not start; see celery-fhir-export.log")
            time.sleep(0.2)
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
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
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
