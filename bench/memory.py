"""(5) Peak memory of the web and worker processes: the kernel's high-water mark of resident memory (VmHWM).

The web figure is read from gunicorn's master and workers after the API load; the
worker figure from a real Celery worker (prefork, concurrency 2, as deployed) after
it has regenerated the whole horizon of sessions and bookings at this scale.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from bench.config import ROOT, VENV_BIN, bench_environment


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def peak_rss_tree(pid: int) -> dict:
    """Peak RSS of a process and its children, in MiB."""
    children = _children(pid)
    parent = _status_kib(pid, "VmHWM") / 1024
    kids = [_status_kib(c, "VmHWM") / 1024 for c in children]
    return {
        "parent_mib": round(parent, 1),
        "children_mib": [round(k, 1) for k in kids],
        "max_process_mib": round(max([parent, *kids]), 1),
        "total_mib": round(parent + sum(kids), 1),
    }


@contextmanager
def running_worker(*, env: dict[str, str], log: Path, concurrency: int, name: str):
    """A real Celery worker (prefork) as a subprocess, started and ready; stopped on exit. Yields the process."""
    with open(log, "w") as output:
        process = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "clinic", "worker", "--concurrency", str(concurrency), "--pool",
             "prefork", "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-n", f"{name}@%h"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not _children(process.pid):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Celery worker did not start; see {log.name}")
                time.sleep(0.2)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def measure_worker(*, out: Path, today: dt.date, weeks: int, timeout: float = 300) -> dict:
    """Drop the generated horizon, let a real worker regenerate it through the Redis broker, read its peak RSS."""
    from django.db import connection, transaction

    from bench.generation import _clear_window
    from clinic.celery import app
    from scheduling.models import Session

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scheduling_session WHERE local_date >= %s", [today])
        expected = cursor.fetchone()[0]
    _clear_window(today)

    env = bench_environment()
    # The worker's nightly task rolls the horizon on from today; give it the same number of weeks.
    env["SCHEDULING_HORIZON_WEEKS"] = str(weeks)
    with running_worker(env=env, log=out / "celery-worker.log", concurrency=2, name="bench") as process:
        started = time.perf_counter()
        with transaction.atomic():
            transaction.on_commit(lambda: app.send_task("scheduling.generate_sessions", args=[None]))
        deadline = time.monotonic() + timeout
        done = 0
        while time.monotonic() < deadline:
            done = Session.objects.filter(local_date__gte=today).count()
            # The task writes sessions and bookings in one transaction: once they show, it is done.
            if done >= expected:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        memory = peak_rss_tree(process.pid)
    return {
        "task": "scheduling.generate_sessions (whole horizon)",
        "sessions_expected": expected,
        "sessions_regenerated": done,
        "seconds": round(elapsed, 2),
        **{f"worker_{k}": v for k, v in memory.items()},
    }
