"""(4) API latency and throughput, served by gunicorn as in production, beside a raw-SQL view of the same rows.

gunicorn runs as a subprocess on a loopback port (3 sync workers, as the Dockerfile
runs it, DEBUG off); the load comes from another process (``bench.loadgen``),
bounded in requests and seconds. Queries per request are counted in-process with
Django's test client for callers with short and long histories: a constant count
is what shows there is no N+1.

To measure an endpoint when it lands, add one line to ENDPOINTS (the raw views for
the three awaited ones are already in ``bench/views.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.config import ROOT, VENV_BIN, bench_environment
from bench.memory import peak_rss_tree


@dataclass(frozen=True)
class Endpoint:
    key: str
    path: str
    caller: str  # "patient" or "staff": whose token it is called with
    raw_path: str  # the raw-SQL baseline (bench/urls.py)
    target_p95_ms: float | None = None  # a target of issue 8, judged at full scale
    target_ratio: float | None = None  # issue 17: p95 within this many times the raw view's p95, same run
    # The raw view again, also writing the audit row the API must write: how much of the ratio is the audit.
    audited_raw_path: str | None = None


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "me", "/api/v1/me/", "patient", "/bench/raw/me/", target_ratio=2, audited_raw_path="/bench/raw/me/audited/"
    ),
    Endpoint("me-care", "/api/v1/me/care/", "patient", "/bench/raw/me/care/", target_ratio=2),
    # The default page: upcoming sessions, nearest first (issue 17), as the raw view reads them.
    Endpoint(
        "me-sessions", "/api/v1/me/sessions/", "patient", "/bench/raw/me/sessions/", target_p95_ms=25, target_ratio=2
    ),
    # The staff census is the programs list (each program with today's census).
    Endpoint("staff-census", "/api/v1/programs/", "staff", "/bench/raw/staff/census/"),
    # The raw baseline returns 50 patients; the API is asked for the same page size.
    Endpoint("staff-patients", "/api/v1/patients/?page_size=50", "staff", "/bench/raw/staff/patients/", target_ratio=3),
]
AWAITED: list[str] = []

GUNICORN_WORKERS = 3
# Each endpoint and its baselines take turns in this many bursts (the seconds split between them).
ROUNDS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(log_path: Path) -> Iterator[tuple[int, subprocess.Popen]]:
    port = _free_port()
    log = open(log_path, "w")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "clinic.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(GUNICORN_WORKERS), "--worker-tmp-dir", "/dev/shm", "--graceful-timeout", "5"],
        cwd=ROOT, env=bench_environment(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {log_path}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/raw/me/", timeout=2)
            except urllib.error.HTTPError:
                break  # 401: up, and the raw views are mounted
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start in 60 s; see {log_path}") from None
                time.sleep(0.2)
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _tokens() -> dict[str, list[tuple[int, str]]]:
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    users = get_user_model().objects.order_by("pk")
    patients = [(u.pk, str(AccessToken.for_user(u))) for u in users.filter(patient__isnull=False)]
    staff = [(u.pk, str(AccessToken.for_user(u))) for u in users.filter(is_staff=True)]
    return {"patient": patients, "staff": staff}


def _queries_per_request(path: str, callers: list[tuple[int, str]]) -> list[int]:
    """Queries each of a few callers' requests makes: those with the shortest and longest histories, and others."""
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from patients.models import Patient

    by_user = dict(callers)
    # Callers with at least one booking, so every page has rows: an empty page skips its SELECT,
    # which would read as "not constant" without any query growing with the history.
    ranked = list(
        Patient.objects.filter(user_id__in=by_user)
        .annotate(n=Count("placements", distinct=True) + Count("bookings", distinct=True))
        .filter(bookings__isnull=False)
        .distinct()
        .order_by("n", "pk")
        .values_list("user_id", flat=True)
    )
    chosen = ranked[:2] + ranked[-2:] + ranked[len(ranked) // 2 : len(ranked) // 2 + 1] if ranked else list(by_user)[:5]
    client = Client()
    counts = []
    for user_id in dict.fromkeys(chosen):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {by_user[user_id]}")
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code} in-process")
        counts.append(len(captured.captured_queries))
    return counts


def _drive(port: int, path: str, tokens: list[str], *, seconds: float, concurrency: int, max_requests: int) -> dict:
    """One bounded burst of load from the generator's own process: its latencies, statuses and errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as fh:
        fh.write("\n".join(tokens))
    try:
        completed = subprocess.run(
            [str(VENV_BIN / "python"), "-m", "bench.loadgen", "--port", str(port), "--path", path,
             "--tokens-file", fh.name, "--concurrency", str(concurrency), "--max-requests", str(max_requests),
             "--max-seconds", str(seconds)],
            cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120, check=True,
        )  # fmt: skip
    finally:
        Path(fh.name).unlink(missing_ok=True)
    return json.loads(completed.stdout)


def _summary(bursts: list[dict]) -> dict:
    """Percentiles and throughput over every burst of one path, as if it had been one run."""
    latencies = [ms for burst in bursts for ms in burst["latencies_ms"]]
    statuses: dict[str, int] = {}
    for burst in bursts:
        for status, n in burst["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    seconds = sum(burst["seconds"] for burst in bursts)
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "requests": len(latencies),
        "ok": statuses.get("200", 0),
        "non_200": {k: v for k, v in statuses.items() if k != "200"},
        "errors": sum(burst["errors"] for burst in bursts),
        "seconds": round(seconds, 2),
        "rounds": len(bursts),
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p95_ms": round(float(np.percentile(lat, 95)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "histogram_ms": [round(float(x), 2) for x in np.percentile(lat, list(range(0, 101, 5)))],
    }


def _load_alternating(port: int, paths: list[str], tokens: list[str], *, seconds: float, concurrency: int,
                      max_requests: int, rounds: int = ROUNDS) -> list[dict]:  # fmt: skip
    """Each path's load in ``rounds`` bursts, the paths taking turns, so a shared machine's drift falls on all alike."""
    bursts: dict[str, list[dict]] = {path: [] for path in paths}
    for _ in range(rounds):
        for path in paths:
            bursts[path].append(
                _drive(port, path, tokens, seconds=seconds / rounds, concurrency=concurrency,
                       max_requests=max(1, max_requests // rounds))
            )  # fmt: skip
    return [_summary(bursts[path]) for path in paths]


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                pids.append(int(entry.name))
        except OSError:
            continue  # gone since the listing, or not ours to read
    return pids


@contextlib.contextmanager
def postgres_on_its_own_core() -> Iterator[bool]:
    """PostgreSQL's processes on the last core, this process (and all it starts) on the others; then as before.

    On this machine PostgreSQL, gunicorn and the load generator share two cores, so a request's
    database CPU queues behind Python and the other way round. Production runs the database on a host
    of its own; this is the nearest the bench can come to that. It moves the machine's PostgreSQL
    processes, new backends following the postmaster, for the few seconds of one measurement. Yields
    False (and changes nothing) when there is one core or the processes may not be moved.
    """
    cores = sorted(os.sched_getaffinity(0))
    before: dict[int, set[int]] = {}
    for pid in _postgres_pids() if len(cores) > 1 else []:
        with contextlib.suppress(ProcessLookupError):  # a backend or autovacuum worker that has just ended
            before[pid] = os.sched_getaffinity(pid)
    mine = os.sched_getaffinity(0)
    moved: list[int] = []
    try:
        for pid in before:
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(pid, {cores[-1]})
                moved.append(pid)
        os.sched_setaffinity(0, set(cores[:-1]))
    except PermissionError:
        before = {}
    try:
        yield bool(before)
    finally:
        os.sched_setaffinity(0, mine)
        for pid in moved:
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(pid, before.get(pid) or set(cores))


def _measure(port: int, endpoint: Endpoint, tokens: list[str], *, seconds: float, concurrency: int,
             max_requests: int) -> dict:  # fmt: skip
    """The endpoint beside its raw view (and the audited one, if it has one), taking turns."""
    paths = [endpoint.path, endpoint.raw_path, *filter(None, [endpoint.audited_raw_path])]
    real, raw, *audited = _load_alternating(port, paths, tokens, seconds=seconds, concurrency=concurrency,
                                            max_requests=max_requests)  # fmt: skip
    measured = {
        "real": real,
        "raw": raw,
        "p95_ratio": round(real["p95_ms"] / raw["p95_ms"], 2),
        "rps_ratio": round(raw["rps"] / real["rps"], 2) if real["rps"] else None,
    }
    if audited:
        measured |= {
            "raw_audited_path": endpoint.audited_raw_path,
            "raw_audited": audited[0],
            # What the audit row alone costs the raw view, and how far the API is from a raw view that keeps it.
            "raw_audited_ratio": round(audited[0]["p95_ms"] / raw["p95_ms"], 2),
            "p95_ratio_to_audited": round(real["p95_ms"] / audited[0]["p95_ms"], 2),
        }
    return measured


def measure(*, out: Path, seconds: float, concurrency: int = 4, max_requests: int = 20_000) -> dict:
    tokens = _tokens()
    results: dict = {"concurrency": concurrency, "gunicorn_workers": GUNICORN_WORKERS, "endpoints": {}}
    with gunicorn(out / "gunicorn.log") as (port, process):
        for endpoint in ENDPOINTS:
            callers = tokens[endpoint.caller]
            if not callers:
                raise RuntimeError(f"no {endpoint.caller} logins in the bench data")
            measured = _measure(port, endpoint, [t for _, t in callers], seconds=seconds, concurrency=concurrency,
                                max_requests=max_requests)  # fmt: skip
            queries = _queries_per_request(endpoint.path, callers)
            results["endpoints"][endpoint.key] = {
                "path": endpoint.path,
                "raw_path": endpoint.raw_path,
                "target_p95_ms": endpoint.target_p95_ms,
                "target_ratio": endpoint.target_ratio,
                **measured,
                "queries_per_request": queries,
                "queries_constant": len(set(queries)) == 1,
            }
        results["web_memory"] = peak_rss_tree(process.pid)
    results["split_cores"] = _split_cores(out=out, tokens=tokens, seconds=seconds, concurrency=concurrency,
                                          max_requests=max_requests)  # fmt: skip
    return results


def _split_cores(*, out: Path, tokens: dict, seconds: float, concurrency: int, max_requests: int) -> dict:
    """The endpoints with an audited baseline once more, PostgreSQL on a core of its own (a fresh gunicorn)."""
    measured = {}
    with postgres_on_its_own_core() as split:
        if not split:
            why = "one core, or PostgreSQL's processes are not on this machine or may not be moved"
            return {"measured": False, "why": why}
        with gunicorn(out / "gunicorn-split.log") as (port, _process):
            for endpoint in ENDPOINTS:
                if not endpoint.audited_raw_path:
                    continue
                measured[endpoint.key] = {
                    "path": endpoint.path,
                    **_measure(port, endpoint, [t for _, t in tokens[endpoint.caller]], seconds=seconds,
                               concurrency=concurrency, max_requests=max_requests),
                }  # fmt: skip
    return {"measured": True, "endpoints": measured}
