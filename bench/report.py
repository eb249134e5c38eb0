"""The report: ``report.md``, ``results.json`` (every figure) and PNG plots, from the runs at each scale."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from bench.measures import MEASURES


def _met(flag: bool | None) -> str:
    return {True: "**met**", False: "**not met**", None: "not measured yet"}[flag]


def write(results: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    runs = results["runs"]
    targets = [t for m in MEASURES for t in m.targets(runs)]
    results["targets"] = [t.__dict__ for t in targets]
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    plots = _plots(runs, out)

    meta = results["meta"]
    scales_text = ", ".join(f"x{r['scale']:g} ({r['dataset']})" for r in runs)
    lines = [
        "# Benchmarks (issue 8)",
        "",
        f"Run {meta['finished_at']} on {meta['machine']}; commit `{meta['commit']}`; scales "
        f"{scales_text}. Every figure is in `results.json`. "
        f"Produced by `{meta['command']}`.",
        "",
        "## Targets",
        "",
        "| target | goal | figure (largest scale) | status |",
        "|---|---|---|---|",
    ]
    lines += [f"| {t.name} | {t.goal} | {t.figure} | {_met(t.met)} |" for t in targets]
    misses = [t for t in targets if t.met is False and t.note]
    if misses:
        lines += ["", "### Why a target is missed, and what would close it", ""]
        lines += [f"- **{t.name}**: {t.note}" for t in misses]
    lines += ["", "## Dataset and seeding", "", "| scale | dataset | seeding s | sessions | bookings | placements "
              "| patients |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in runs:
        rows = r["seed"]["rows"]
        lines.append(f"| x{r['scale']:g} | {r['dataset']} | {r['seed']['seconds']} | {rows['sessions']:,} "
                     f"| {rows['bookings']:,} | {rows['placements']:,} | {rows['patients']:,} |")  # fmt: skip
    lines += ["", "Seeding writes in bulk (COPY, INSERT ... SELECT) with every constraint and trigger in force; "
              "the past weeks' sessions and track bookings come from `services.generate_sessions` itself."]  # fmt: skip
    for m in MEASURES:
        lines += ["", f"## {m.title}", "", m.section(runs)]
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def _plots(runs: list[dict], out: Path) -> list[Path]:
    paths = []
    scales = [r["scale"] for r in runs]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    ax = axes[0][0]
    gen = [r.get("generation") for r in runs]
    if all(g and "steps" in g for g in gen):
        for step, style in (("sessions", "o"), ("bookings", "^")):
            ax.plot(scales, [g["steps"][step]["service_seconds"] for g in gen], f"{style}-", label=f"{step}: service")
            ax.plot(scales, [g["steps"][step]["raw_seconds"] for g in gen], f"{style}--", label=f"{step}: raw SQL")
    ax.set(title="Session generation (12 weeks)", xlabel="scale", ylabel="seconds")
    ax.legend(fontsize=8)
    ax = axes[0][1]
    if all(r.get("api") for r in runs):
        for key in runs[0]["api"]["endpoints"]:
            ax.plot(scales, [r["api"]["endpoints"][key]["real"]["p95_ms"] for r in runs], "o-", label=f"{key}")
            ax.plot(scales, [r["api"]["endpoints"][key]["raw"]["p95_ms"] for r in runs], "s--", label=f"{key} raw")
    ax.set(title="API p95 latency", xlabel="scale", ylabel="ms")
    ax.legend(fontsize=8)
    ax = axes[1][0]
    if all(r.get("memory") for r in runs):
        ax.plot(scales, [max(r["api"]["web_memory"]["children_mib"] or [0]) for r in runs], "o-",
                label="gunicorn worker")  # fmt: skip
        ax.plot(scales, [max(r["memory"]["worker_children_mib"] or [0]) for r in runs], "s-", label="Celery child")
    ax.set(title="Peak RSS per process", xlabel="scale", ylabel="MiB")
    ax.legend(fontsize=8)
    ax = axes[1][1]
    ax.plot(scales, [r["seed"]["seconds"] for r in runs], "o-", label="seeding")
    ax.set(title="Seeding time", xlabel="scale", ylabel="seconds")
    ax.legend(fontsize=8)
    ax = axes[0][2]
    plan = [r.get("planning") for r in runs]
    if all(plan):
        ax.plot(scales, [p["service_seconds"] for p in plan], "o-", label="services.plan_for")
        ax.plot(scales, [p["raw_seconds"] for p in plan], "s-", label="raw INSERT ... SELECT")
    ax.set(title="Reminder planning (next 48 h)", xlabel="scale", ylabel="seconds")
    ax.legend(fontsize=8)
    ax = axes[1][2]
    disp = [r.get("dispatch") for r in runs]
    if all(d and d.get("celery") for d in disp):
        ax.plot(scales, [d["celery"]["per_second"] for d in disp], "o-", label="Celery worker (2 processes)")
        ax.plot(scales, [d["in_process"]["per_second"] for d in disp], "o--", label="one dispatcher in-process")
        ax.plot(scales, [d["raw"]["per_second"] for d in disp], "s-", label="raw SKIP LOCKED loop")
        ax.axhline(1000, color="grey", linestyle=":", label="target 1,000/s")
        ax.set_yscale("log")
    ax.set(title="Dispatch throughput", xlabel="scale", ylabel="reminders / second")
    ax.legend(fontsize=8)
    fig.suptitle("How each figure grows with scale (1 = 20 sites, 5,000 patients, 500 series)")
    fig.tight_layout()
    paths.append(out / "scaling.png")
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)

    largest = max(runs, key=lambda r: r["scale"])
    if largest.get("api"):
        fig, ax = plt.subplots(figsize=(8, 5))
        pct = list(range(0, 101, 5))
        for key, e in largest["api"]["endpoints"].items():
            ax.plot(pct, e["real"]["histogram_ms"], label=key)
            ax.plot(pct, e["raw"]["histogram_ms"], "--", label=f"{key} raw")
        ax.set(title=f"API latency by percentile at x{largest['scale']:g}", xlabel="percentile", ylabel="ms")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(out / "api_latency.png")
        fig.savefig(paths[-1], dpi=90)
        plt.close(fig)
    return paths
