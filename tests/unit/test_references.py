"""Nothing in the repository cites a file that is not in it.

Code comments and docs cite the design by section (`docs/design.md §6.3`); the README and
docs name files (`src/fcfs/...`, `bench/...`, `deploy/...`) and link pages. A reader who
follows any of these must find the file, and the section.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "docs" / "design.md"
SECTION_CITE = re.compile(r"design\.md\s+§\s*(\d+[a-z]?)(?:\.(\d+))?")
BARE_DESIGN = re.compile(r"(?<![\w/.])DESIGN\.md")
PATH_CITE = re.compile(r"`((?:src|tests|bench|deploy|docs|scripts)/[\w./-]+)`")
MD_LINK = re.compile(r"\]\(((?!https?:|#|mailto:)[^)\s#]+)(?:#[^)]*)?\)")
TEXT_SUFFIXES = {".py", ".md", ".lua", ".toml", ".yml", ".yaml", ".conf", ".sh", ".cfg", ".ini", ""}


@cache
def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    files = [ROOT / name for name in listed]
    return [f for f in files if f.is_file() and f.suffix in TEXT_SUFFIXES and "static" not in f.parts]


@cache
def design_sections() -> set[str]:
    """Headings `## 6.` / `### 6b.` give sections 6 and 6b; numbered list items under 6 give 6.1, 6.2, ..."""
    sections: set[str] = set()
    current = ""
    for line in DESIGN.read_text().splitlines():
        heading = re.match(r"#{2,3}\s+(\d+[a-z]?)\.", line)
        if heading:
            current = heading.group(1)
            sections.add(current)
            continue
        item = re.match(r"(\d+)\.\s+\*\*", line)
        if item and current:
            sections.add(f"{current}.{item.group(1)}")
    return sections


def test_the_design_is_in_the_repository() -> None:
    assert DESIGN.is_file()
    assert {"1", "2", "3", "4", "5", "6", "6.3", "6.7", "7", "8"} <= design_sections()


def test_no_file_cites_a_design_page_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in tracked_text_files()
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if BARE_DESIGN.search(line)
    ]
    assert not offenders, f"cite docs/design.md, not DESIGN.md: {offenders}"


def test_every_section_cited_exists_in_docs_design() -> None:
    sections = design_sections()
    missing = []
    for path in tracked_text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            for major, minor in SECTION_CITE.findall(line):
                cited = f"{major}.{minor}" if minor else major
                if cited not in sections and major not in sections:
                    missing.append(f"{path.relative_to(ROOT)}:{number} §{cited}")
    assert not missing, f"sections cited but not in docs/design.md: {missing}"


@pytest.mark.parametrize("page", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))])
def test_every_file_a_page_names_exists(page: str) -> None:
    path = ROOT / page if page == "README.md" else ROOT / "docs" / page
    text = path.read_text()
    named = {m for m in PATH_CITE.findall(text) if "*" not in m and "<" not in m}
    linked = {m for m in MD_LINK.findall(text)}
    missing = sorted(m for m in named if not (ROOT / m.rstrip("/")).exists())
    missing += sorted(m for m in linked if not (path.parent / m).exists())
    assert not missing, f"{page} names files that are not in the repository: {missing}"
