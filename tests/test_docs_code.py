"""The code a page shows comes from the package, and every page example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlnotes.runner.blocks import page_blocks
from tests.support import DOCS, ROOT

INCLUDE = re.compile(
    r'^\s*-{1,2}8<-{1,2}\s+"(?P<path>[^"]+?)(?::(?P<section>[\w-]+))?"\s*$'
)
SECTION = re.compile(r"#\s*--8<--\s*\[(?P<kind>start|end):(?P<name>[\w-]+)\]")
FENCE_OPEN = re.compile(
    r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)(?P<rest>.*)$"
)


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "overrides" not in p.parts)


def includes() -> list[tuple[Path, int, str, str | None]]:
    found = []
    for md in pages():
        for n, line in enumerate(md.read_text(encoding="utf-8").splitlines(), 1):
            m = INCLUDE.match(line)
            if m:
                found.append((md, n, m["path"], m["section"]))
    return found


def sections(path: Path) -> dict[str, int]:
    """Section name -> number of start markers, checking each start has an end."""
    counts: dict[str, int] = {}
    open_: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        m = SECTION.search(line)
        if not m:
            continue
        if m["kind"] == "start":
            counts[m["name"]] = counts.get(m["name"], 0) + 1
            open_.add(m["name"])
        else:
            assert m["name"] in open_, f"{path}: end:{m['name']} without start"
            open_.discard(m["name"])
    assert not open_, f"{path}: sections never closed: {sorted(open_)}"
    return counts


def python_blocks(md: Path) -> list[tuple[int, str]]:
    """Fenced ```python blocks written in the page (not snippet includes)."""
    blocks: list[tuple[int, str]] = []
    lines = md.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m["indent"], m["fence"], m["lang"]
        body, start = [], i + 1
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(
                lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i]
            )
            i += 1
        i += 1
        code = "\n".join(body)
        if lang in ("python", "py") and not any(INCLUDE.match(b) for b in body):
            blocks.append((start, code))
    return blocks


def test_pages_embed_package_code() -> None:
    assert len(includes()) >= 10


@pytest.mark.parametrize(
    ("md", "line", "path", "section"),
    includes(),
    ids=lambda v: v.name if isinstance(v, Path) else str(v),
)
def test_every_include_resolves(
    md: Path, line: int, path: str, section: str | None
) -> None:
    target = ROOT / path
    assert target.is_file(), f"{md.relative_to(ROOT)}:{line}: {path} does not exist"
    assert path.startswith("dlnotes/"), "pages embed code from the package only"
    if section:
        assert section in sections(target), (
            f"{md.relative_to(ROOT)}:{line}: no section {section!r} in {path}"
        )


def test_every_marked_section_is_used_by_a_page() -> None:
    used = {(p, s) for _, _, p, s in includes()}
    unused = []
    for py in sorted((ROOT / "dlnotes").rglob("*.py")):
        rel = py.relative_to(ROOT).as_posix()
        for name, count in sections(py).items():
            assert count == 1, f"{rel}: section {name!r} marked {count} times"
            if (rel, name) not in used:
                unused.append(f"{rel}:{name}")
    assert unused == []


PAGES_WITH_CODE = [p for p in pages() if python_blocks(p)]
# Every block of every page runs when the site is built (dlnotes-outputs fails the
# strict build on an error) and again as the page's downloadable notebook
# (tests/site/test_notebooks.py, which also checks every example shows something).


def test_the_runner_sees_every_python_block() -> None:
    """The block parser of ``dlnotes run`` agrees with this file's independent one."""
    for md in PAGES_WITH_CODE:
        written = [line for line, _ in python_blocks(md)]
        found = page_blocks(DOCS, md.relative_to(DOCS).as_posix(), ROOT).blocks
        examples = [b.line for b in found if not b.sections]
        assert examples == written, md
