"""`make mutation` and `make mutation-sample`: mutmut over the modules that hold the rules.

Each target (tests/mutation/targets.py) runs in its own copy of the project under
var/mutation/work/<module>/, so mutmut's `mutants/` tree and its pyproject settings (the module to
mutate, the tests to run) belong to that target alone. mutmut forks every mutant from a pytest
process that has already imported Django, and tests/mutation/db.py lets each fork reuse the test
database as migrated once here: a mutant costs the fork plus the tests that reach its function.
Celery workers the tests start (threads, or subprocesses run from the copy with the mutant's name
in their environment) run the mutant too.

The report (var/mutation/report.md; `make mutation` copies it to docs/mutation-report.md) lists
every surviving mutant with file:line and its diff; a survivor named in
tests/mutation/equivalents.toml, with the reason it cannot change behaviour, counts as explained.
Exit status 1 when any survivor is unexplained.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tests.mutation.targets import TARGETS, Target

ROOT = Path(__file__).resolve().parents[2]
# A second run beside a first (another database, another queue) needs its own directory.
OUT = Path(os.environ.get("CLINIC_MUTATION_DIR", ROOT / "var" / "mutation"))
EQUIVALENTS = Path(__file__).with_name("equivalents.toml")
APPS = [
    "accounts",
    "admissions",
    "bench",
    "clinic",
    "exchange",
    "patients",
    "programs",
    "reminders",
    "scheduling",
    "utilization",
]
# mutmut's exit codes (mutmut.stats.status_by_exit_code, mutmut 3.8).
KILLED = {1, 3, 36, 24, -24, 152, 255, 37}  # failed tests, or timed out / out of CPU time
SURVIVED = {0}
NO_TESTS = {5, 33}
SEED = 18
# mutmut stops a mutant after (its tests' clean time + constant) * multiplier * 2 seconds.
PER_MUTANT_TIMEOUT = {"timeout_multiplier": 3.0, "timeout_constant": 3.0}


@dataclass
class Outcome:
    target: Target
    statuses: dict[str, int | None] = field(default_factory=dict)
    seconds: float = 0.0
    mutant_seconds: float = 0.0
    diffs: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    not_run: int = 0  # mutants a run cut short never reached (not counted)


def _env() -> dict[str, str]:
    return {**os.environ, "CLINIC_MUTATION_RUN": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def prepare(targets: list[Target], key: str) -> Path:
    """A fresh copy of the project under var/mutation/work/<key>, with mutmut's settings for these targets."""
    work = OUT / "work" / key
    if work.exists():
        shutil.rmtree(work)
    work.parent.mkdir(parents=True, exist_ok=True)
    skip = shutil.ignore_patterns(".venv", "var", ".git", "mutants", "node_modules", "__pycache__", "results")
    shutil.copytree(ROOT, work, ignore=skip, symlinks=True)
    tests = list(dict.fromkeys(t for target in targets for t in target.tests if (ROOT / t).exists()))
    pyproject = (work / "pyproject.toml").read_text()
    settings = {
        "source_paths": [*APPS, "manage.py"],
        "only_mutate": [target.module for target in targets],
        "also_copy": ["locale", "docs"],  # docs: a content test reads the domain guide's word list
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "--reuse-db", "-q", "--timeout", "60"],
        "pytest_add_cli_args_test_selection": tests,
        "use_git_change_detection": False,
        "use_setproctitle": False,
        **PER_MUTANT_TIMEOUT,
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    (work / "pyproject.toml").write_text(pyproject + "\n".join(lines) + "\n")
    return work


def generate(work: Path) -> list[str]:
    """Every mutant's name for the target in `work`, without running a test (for the sample)."""
    code = (
        "from mutmut.__main__ import copy_src_dir, copy_also_copy_files, setup_source_paths, create_mutants\n"
        "import os; os.makedirs('mutants', exist_ok=True)\n"
        "copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=work, env=_env(), check=True, capture_output=True)
    names: list[str] = []
    for meta in sorted((work / "mutants").rglob("*.meta")):
        names += json.loads(meta.read_text())["exit_code_by_key"]
    return names


def run_mutmut(targets: list[Target], work: Path, selection: list[str], log) -> list[Outcome]:
    """`mutmut run` on the selection in `work`; one outcome per target, survivors with their diffs."""
    started = time.monotonic()
    cpu = _children_cpu()
    log.write(f"\n===== mutmut run {' '.join(selection)}\n")
    log.flush()
    proc = subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", "1", *selection],
        cwd=work,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    seconds = time.monotonic() - started
    # CPU seconds of mutmut and its pytest forks (not PostgreSQL's): on a busy machine the wall time
    # says more about the neighbours than about the run.
    log.write(f"\n===== {seconds:.0f} s wall, {_children_cpu() - cpu:.0f} s CPU\n")
    if proc.returncode != 0:
        raise SystemExit(f"mutmut failed (exit {proc.returncode}); see the log in {OUT}")
    return collect(targets, work, selection, seconds)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def collect(targets: list[Target], work: Path, selection: list[str], seconds: float) -> list[Outcome]:
    """The outcome of each target's mutants from mutmut's records in `work` (also of a run cut short)."""
    outcomes = []
    for target in targets:
        outcome = Outcome(target, seconds=seconds if len(targets) == 1 else 0.0)
        meta = work / "mutants" / f"{target.module}.meta"
        if not meta.exists():
            continue
        data = json.loads(meta.read_text())
        for name, code in data["exit_code_by_key"].items():
            if name in selection or (_matches(name, target) and any("*" in p for p in selection)):
                if code is None:
                    outcome.not_run += 1
                    continue
                outcome.statuses[name] = code
                outcome.mutant_seconds += data.get("durations_by_key", {}).get(name) or 0.0
        for name, code in outcome.statuses.items():
            if code not in KILLED:
                outcome.diffs[name] = _diff(work, target, name)
                outcome.lines[name] = _line_of(target, name, outcome.diffs[name])
        outcomes.append(outcome)
    return outcomes


def _diff(work: Path, target: Target, name: str) -> str:
    """The mutant against the original function, from mutmut's generated file (as `mutmut show`, faster)."""
    mutated = (work / "mutants" / target.module).read_text().splitlines()
    spans = json.loads((work / "mutants" / f"{target.module}.spans").read_text())["spans"]
    local = name.rsplit(".", 1)[-1]
    orig = local.rsplit("__mutmut_", 1)[0] + "__mutmut_orig"

    def body(key: str) -> list[str]:
        first, last = spans[key]
        lines = mutated[first - 1 : last]
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "async def ")))
        return [re.sub(r"# type: ignore # mutmut generated$", "", line).rstrip() for line in lines[start + 1 :]]

    return "\n".join(difflib.unified_diff(body(orig), body(local), target.module, target.module, n=2, lineterm=""))


def _matches(name: str, target: Target) -> bool:
    import fnmatch

    return any(fnmatch.fnmatch(name, p) for p in target.patterns())


def _line_of(target: Target, name: str, diff: str) -> int:
    """The line in the original source that the mutant changes."""
    source = (ROOT / target.module).read_text().splitlines()
    function = name.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]
    function = function.split("ǁ")[-1] if "ǁ" in function else function.removeprefix("x_")
    start = next((i for i, line in enumerate(source) if re.match(rf"\s*def {re.escape(function)}\(", line)), 0)
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    for wanted in removed:
        for i in range(start, len(source)):
            if source[i].strip() == wanted.strip():
                return i + 1
    return start + 1


def load_equivalents() -> dict[str, str]:
    if not EQUIVALENTS.exists():
        return {}
    data = tomllib.loads(EQUIVALENTS.read_text())
    return {m["name"]: m["reason"] for m in data.get("mutant", [])}


def report(outcomes: list[Outcome], *, sample: bool, total_seconds: float) -> tuple[str, int]:
    equivalents = load_equivalents()
    lines = [
        "# Mutation report" + (" (sample)" if sample else ""),
        "",
        "mutmut over the modules that hold the rules (tests/mutation/targets.py), each against the tests",
        "that cover it. Killed includes timeouts. Score = killed / mutants; explained = (killed +",
        "equivalent) / mutants. Survivors not listed in tests/mutation/equivalents.toml fail the run.",
        "",
        f"Wall time: {total_seconds:.0f} s.",
        "",
        "| module | mutants | killed | survived | no tests | equivalent | score | explained | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    unexplained: list[tuple[Outcome, str]] = []
    explained: list[tuple[Outcome, str]] = []
    totals = [0, 0, 0, 0, 0]
    for o in outcomes:
        codes = list(o.statuses.values())
        killed = sum(c in KILLED for c in codes)
        survived = sum(c in SURVIVED for c in codes)
        no_tests = sum(c in NO_TESTS for c in codes)
        loose = [n for n, c in o.statuses.items() if c not in KILLED]
        equivalent = sum(n in equivalents for n in loose)
        explained += [(o, n) for n in loose if n in equivalents]
        unexplained += [(o, n) for n in loose if n not in equivalents]
        n = len(codes) or 1
        lines.append(
            f"| {o.target.module} | {len(codes)} | {killed} | {survived} | {no_tests} | {equivalent} "
            f"| {killed / n:.1%} | {(killed + equivalent) / n:.1%} | {o.seconds:.0f} |"
            + (f" not run: {o.not_run} (the run was cut short)" if o.not_run else "")
        )
        for i, v in enumerate((len(codes), killed, survived, no_tests, equivalent)):
            totals[i] += v
    t = totals
    n = t[0] or 1
    lines.append(
        f"| **all** | {t[0]} | {t[1]} | {t[2]} | {t[3]} | {t[4]} | {t[1] / n:.1%} | {(t[1] + t[4]) / n:.1%} "
        f"| {total_seconds:.0f} |"
    )
    lines += ["", f"## Unexplained survivors ({len(unexplained)})", ""]
    for o, name in unexplained:
        lines += [
            f"### {o.target.module}:{o.lines.get(name, 0)} `{name}`",
            "",
            "```diff",
            o.diffs[name].strip(),
            "```",
            "",
        ]
    if not unexplained:
        lines.append("None.")
    lines += ["", f"## Equivalent mutants ({len(explained)})", ""]
    for o, name in explained:
        lines += [
            f"### {o.target.module}:{o.lines.get(name, 0)} `{name}`",
            "",
            f"Why equivalent: {equivalents[name]}",
            "",
            "```diff",
            o.diffs[name].strip(),
            "```",
            "",
        ]
    if not explained:
        lines.append("None.")
    return "\n".join(lines) + "\n", len(unexplained)


def warm_test_database() -> None:
    """Create the test database afresh once (pytest-django --create-db); mutants reuse it as is.

    Afresh, because a run stopped mid-test can leave rows a fixture wrote outside a transaction,
    and every later mutant's tests would then fail for that reason: all "killed".
    """
    env = {k: v for k, v in os.environ.items() if k != "CLINIC_MUTATION_RUN"}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--create-db", TARGETS[0].tests[0]],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=0, help="run this many mutants drawn with a fixed seed")
    parser.add_argument("--only", action="append", default=[], help="module path(s) to run, e.g. reminders/rules.py")
    parser.add_argument("--out", default=str(OUT / "report.md"))
    parser.add_argument("--report-only", action="store_true", help="report what var/mutation/work holds, run nothing")
    args = parser.parse_args()
    targets = [t for t in TARGETS if (t.module in args.only if args.only else not args.sample or t.in_sample)]
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    outcomes: list[Outcome] = []
    if args.report_only:
        for target in targets:
            outcomes += collect([target], OUT / "work" / target.key, target.patterns(), 0.0)
        text, unexplained = report(outcomes, sample=False, total_seconds=0.0)
        Path(args.out).write_text(text)
        print(text.split("## Unexplained")[0])
        return 1 if unexplained else 0
    warm_test_database()
    with open(OUT / ("sample.log" if args.sample else "run.log"), "w") as log:
        if args.sample:
            # One mutmut run for the whole sample: one copy, one pass to map tests to functions.
            work = prepare(targets, "sample")
            pool = sorted(n for n in generate(work) if any(_matches(n, t) for t in targets))
            drawn = sorted(random.Random(SEED).sample(pool, min(args.sample, len(pool))))
            hit = [t for t in targets if any(_matches(n, t) for n in drawn)]
            if hit != targets:
                work = prepare(hit, "sample")
            outcomes = run_mutmut(hit, work, drawn, log)
        else:
            for index, target in enumerate(targets):
                if index:
                    # A module's race tests commit on a second connection; a mutant stopped mid-test leaves
                    # those rows, and the next module's tests would fail on them before mutating anything.
                    warm_test_database()
                work = prepare([target], target.key)
                outcomes += run_mutmut([target], work, target.patterns(), log)
                print(f"{target.module}: {len(outcomes[-1].statuses)} mutants in {outcomes[-1].seconds:.0f} s")
    text, unexplained = report(outcomes, sample=bool(args.sample), total_seconds=time.monotonic() - started)
    Path(args.out).write_text(text)
    print(text.split("## Unexplained")[0])
    print(f"{unexplained} unexplained surviving mutant(s); report: {args.out}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
