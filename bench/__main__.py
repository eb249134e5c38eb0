"""``python -m bench``: seed, measure and report at one or more scales (see ``make bench``)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from bench.config import ROOT, Scale, bench_database_url, setup_django
from clinic import clock


def _machine() -> str:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "0")  # fmt: skip
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip() or "PostgreSQL"
    return f"{os.cpu_count()} cores, {int(mem) // 1024 // 1024} GiB, Python {platform.python_version()}, {pg}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", type=float, action="append",
                        help="1 = 20 sites, 5,000 patients, 500 series (repeatable; default 0.1 and 1)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small scales and short load (the CI smoke test)")
    parser.add_argument("--api-seconds", type=float, help="seconds of load per endpoint and baseline")
    parser.add_argument("--out", type=Path, help="where report.md, results.json and the plots go")
    parser.add_argument("--seed-only", action="store_true", help="seed the first scale and stop")
    parser.add_argument("--only", action="append", metavar="KEY",
                        help="measure only these (repeatable; e.g. api); prints figures, writes no report")  # fmt: skip
    args = parser.parse_args(argv)
    scales = args.scale or ([0.02, 0.1] if args.quick else [0.1, 1.0])
    api_seconds = args.api_seconds or (3.0 if args.quick else 10.0)
    out = args.out or ROOT / "bench" / "results" / ("quick" if args.quick else "")
    out.mkdir(parents=True, exist_ok=True)

    setup_django()
    from django.core.management import call_command

    from bench import report
    from bench.measures import MEASURES, Context
    from bench.seed import seed

    print(f"Bench database: {bench_database_url().rsplit('/', 1)[-1]} (dev and test data untouched)")
    call_command("ensure_db")
    (ROOT / "var" / "static").mkdir(parents=True, exist_ok=True)  # whitenoise's folder; the API serves no files
    call_command("migrate", "--no-input", verbosity=0)
    if args.only and (unknown := set(args.only) - {m.key for m in MEASURES}):
        parser.error(f"no measure named {', '.join(sorted(unknown))}; known: {', '.join(m.key for m in MEASURES)}")
    measures = [m for m in MEASURES if not args.only or m.key in args.only]
    results: dict = {"meta": {}, "runs": []}
    started = time.perf_counter()
    for factor in sorted(scales):
        scale = Scale(factor)
        today = clock.today()
        print(f"\n== scale x{factor:g}: {scale.describe()}")
        seeded = seed(scale, today=today)
        print(f"   seeded in {seeded.seconds} s: {seeded.rows['sessions']:,} sessions, {seeded.rows['bookings']:,} "
              f"bookings, {seeded.rows['placements']:,} placements")  # fmt: skip
        if args.seed_only:
            return
        run: dict = {"scale": factor, "dataset": scale.describe(),
                     "seed": {"seconds": seeded.seconds, "rows": seeded.rows, "steps": seeded.steps}}  # fmt: skip
        ctx = Context(scale=scale, today=today, quick=args.quick, out=out, api_seconds=api_seconds)
        for measure in measures:
            t0 = time.perf_counter()
            figures = measure.run(ctx)
            if figures is not None:
                run[measure.key] = figures
                print(f"   {measure.title}: done in {time.perf_counter() - t0:.1f} s")
            else:
                print(f"   {measure.title}: not measured yet")
        results["runs"].append(run)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    results["meta"] = {
        "finished_at": clock.now().strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
        "commit": commit.stdout.strip() or "unknown",
        "command": "make bench-quick" if args.quick else "make bench",
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    if args.only:
        # A partial run would overwrite the whole report with holes; print its figures instead.
        print(json.dumps(results["runs"], indent=1, default=str))
        return
    path = report.write(results, out)
    print(f"\nReport: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
          f"({results['meta']['total_seconds']} s in all)")  # fmt: skip


if __name__ == "__main__":
    main()
