"""The repository is self-contained: its docs live in docs/ and nothing points outside it (issue 11, defect 8)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / n for n in names if (ROOT / n).is_file() and not n.endswith((".png", ".svg", ".ico", ".woff2"))]


def test_no_file_refers_to_the_shared_folder_outside_the_repository():
    outside = "../" + "shared"  # spelled in two parts so this file does not match itself
    offenders = [
        str(path.relative_to(ROOT))
        for path in _tracked_text_files()
        if outside in path.read_text(encoding="utf-8", errors="ignore")
    ]
    assert offenders == []


def test_the_readmes_links_to_docs_resolve_and_cover_the_domain():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = set(re.findall(r"\]\((docs/[^)#]+)\)", readme))
    assert {"docs/domain.md", "docs/style.md"} <= links
    assert all((ROOT / link).is_file() for link in links)
    domain = (ROOT / "docs/domain.md").read_text(encoding="utf-8").lower()
    for topic in (
        "asam", "2.1", "step-down", "step-up", "aftercare", "7 and within 30 days", "90-day", "part 2", "hipaa",
        "tcpa", "quiet hours", "fhir", "waitlist", "utilization review", "h0015", "42cfrpart2", "spanish",
    ):  # fmt: skip
        assert topic in domain, topic
    style = (ROOT / "docs/style.md").read_text(encoding="utf-8").lower()
    for topic in ("services", "selectors", "clinic.clock", "constraints", "uuid"):
        assert topic in style, topic
