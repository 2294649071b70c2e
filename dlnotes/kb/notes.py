"""Parse the tracked items of the notes: questions, resources and plan chapters.

The Markdown notes are the single source of truth (``docs/guide/writing-notes.md``).
A tracked item is a list item with a checkbox whose character is its status:

=========  ===========  ==========  ==========
checkbox   question     resource    chapter
=========  ===========  ==========  ==========
``[ ]``    ``open``     ``unread``  ``todo``
``[/]``    (invalid)    ``read``    ``doing``
``[x]``    ``resolved`` ``digested`` ``done``
=========  ===========  ==========  ==========

* a **question** ends with ``#Q-<topic>-<nn>``, optionally followed by
  ``✅ YYYY-MM-DD``; its answer is the block indented 4 spaces below it;
* a **resource** is a checkbox followed by a Markdown link ``[title](url)``;
* any other checkbox item is a **plan chapter** (a book's table of contents).

Fenced code blocks (```` ``` ```` and ``~~~``, also inside lists and admonitions),
indented code blocks, HTML comments and YAML front matter are skipped. Only ``\\n``
ends a line, so CRLF files keep their ``\\r`` inside the line text: every line is
kept byte for byte, which is what lets :mod:`dlnotes.kb.edits` change only the
lines it must. The forms themselves are declared in :mod:`dlnotes.kb.grammar`.

Items get IDs that stay stable when other lines change: questions carry theirs,
resources get ``r-`` + 8 hex digits of a hash of their page and cleaned URL, plan
chapters ``c-`` + 8 hex digits of a hash of their page, plan heading and text
(``-2``, ``-3`` ... for repeats on one page).
"""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dlnotes.kb.grammar import (
    BOM,
    CHAPTER_STATUS,
    DONE_DATE_RE,
    HEADING_RE,
    LINK_START_RE,
    QUESTION_RE,
    QUESTION_STATUS,
    RESOURCE_STATUS,
    TASK_RE,
    TEXT,
    ChapterStatus,
    CodeBlock,
    QuestionStatus,
    ResourceStatus,
    classify_lines,
    heading_text,
    is_blank,
    is_tag_line,
    item_id,
    leading_spaces,
    line_body,
    short_hash,
    split_lines,
)
from dlnotes.kb.links import clean_url


@dataclass(slots=True)
class Heading:
    line: int
    level: int
    text: str


@dataclass(slots=True)
class Question:
    """A tracked question. ``line`` is 1-based; ``end_line`` ends its answer block."""

    id: str
    text: str
    status: QuestionStatus
    resolved: str | None
    page: str
    line: int
    end_line: int
    heading: str = ""
    mark: str = " "
    path: Path | None = None
    comments: str = ""  # the HTML comments that end the line (review state)
    # The page's lines and the block's indent: the answer is cut out when asked
    # for (a question nested 1,000 deep would otherwise cost its whole page).
    block_lines: list[str] = field(default_factory=list, repr=False, compare=False)
    block_indent: int = field(default=0, repr=False, compare=False)
    _answer: str | None = field(default=None, repr=False, compare=False)

    @property
    def answer(self) -> str:
        """The Markdown of the block indented below the question, dedented."""
        if self._answer is None:
            block = self.block_lines[self.line : self.end_line]
            self._answer = _dedent([line_body(x) for x in block], self.block_indent)
        return self._answer

    @property
    def topic(self) -> str:
        return self.id.split("-")[1]

    @property
    def number(self) -> int:
        return int(self.id.rsplit("-", 1)[1])

    @property
    def anchor(self) -> str:
        """The HTML anchor of the question on its page (``q-cnn-01``)."""
        return self.id.lower()

    @property
    def section(self) -> str:
        return page_topic(self.page)


@dataclass(slots=True)
class Resource:
    """A link to read: its status says whether it is unread, read or digested."""

    id: str
    url: str
    title: str
    status: ResourceStatus
    section: str
    page: str
    line: int
    mark: str = " "
    path: Path | None = None
    date: str | None = None  # `✅ YYYY-MM-DD` at the end: the day it was read

    @property
    def topic(self) -> str:
        return page_topic(self.page)


@dataclass(slots=True)
class Chapter:
    """A chapter (or outline entry) of a study plan."""

    id: str
    text: str
    status: ChapterStatus
    plan: str
    page: str
    line: int
    mark: str = " "
    path: Path | None = None

    @property
    def topic(self) -> str:
        return page_topic(self.page)


@dataclass
class ParsedPage:
    """Everything the parser found on one page."""

    page: str
    lines: list[str]
    kinds: list[int]
    questions: list[Question] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    chapters: list[Chapter] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    code_blocks: list[CodeBlock] = field(default_factory=list)
    path: Path | None = None

    def question(self, qid: str) -> Question | None:
        return next((q for q in self.questions if q.id == qid), None)

    def resource(self, rid: str) -> Resource | None:
        return next((r for r in self.resources if r.id == rid), None)

    def chapter(self, cid: str) -> Chapter | None:
        return next((c for c in self.chapters if c.id == cid), None)


def page_topic(page: str) -> str:
    """The topic a page belongs to: its top folder (``cnn/x.md`` -> ``cnn``).

    Pages at the top of the docs folder belong to ``home``.
    """
    head, sep, _ = page.partition("/")
    return head if sep else "home"


def _norm_text(text: str) -> str:
    return " ".join(text.split())


def parse_page(text: str, page: str, path: Path | None = None) -> ParsedPage:
    """Parse the Markdown ``text`` of the page ``page`` (docs-relative POSIX path).

    A UTF-8 byte order mark before the first line is not part of it (MkDocs drops
    it too); the lines of the result are the text without it.
    """
    lines = split_lines(text.removeprefix(BOM))
    kinds, blocks = classify_lines(lines)
    visible = lines
    if "%%" in text:
        # Obsidian comments are never tracked nor published (dlnotes.kb.obsidian)
        from dlnotes.kb.obsidian import scan, without_comments

        found = scan(lines)
        kinds = found.kinds
        visible = without_comments(found)
    parsed = ParsedPage(page, lines, kinds, code_blocks=blocks, path=path)
    heading = ""
    resource_seen: dict[str, int] = {}
    chapter_seen: dict[str, int] = {}
    ends: list[int] | None = None
    for i, line in enumerate(visible):
        if kinds[i] != TEXT:
            continue
        first = line[:1]
        if first == "#":
            h = HEADING_RE.match(line)
            if h and not is_tag_line(line):
                heading = heading_text(h["text"])
                parsed.headings.append(Heading(i + 1, len(h["level"]), heading))
            continue
        if "[" not in line:
            continue
        m = TASK_RE.match(line)
        if m is None:
            continue
        mark, rest = m["mark"], m["rest"]
        q = QUESTION_RE.match(rest) if "#Q-" in rest else None
        if q is not None and m["bullet"] in "-*+":
            if ends is None:
                ends = block_ends(visible)
            parsed.questions.append(
                Question(
                    id=q["id"],
                    text=q["text"],
                    status=QUESTION_STATUS[mark],
                    resolved=q["date"],
                    page=page,
                    line=i + 1,
                    end_line=ends[i] + 1,
                    heading=heading,
                    mark=mark,
                    path=path,
                    comments=q["comments"] or "",
                    block_lines=visible,
                    block_indent=leading_spaces(line) + 4,
                )
            )
            continue
        link = LINK_START_RE.match(rest)
        if link is not None:
            url = link["url"].strip("<>")
            key = short_hash(page, clean_url(url) if "?" in url or "#" in url else url)
            count = resource_seen.get(key, 0) + 1
            resource_seen[key] = count
            rid = item_id("r", key, count)
            parsed.resources.append(
                Resource(
                    id=rid,
                    url=url,
                    title=link["title"],
                    status=RESOURCE_STATUS[mark],
                    section=heading,
                    page=page,
                    line=i + 1,
                    mark=mark,
                    path=path,
                    date=_done_date(rest),
                )
            )
            continue
        text_ = rest
        key = short_hash(page, heading, _norm_text(text_))
        count = chapter_seen.get(key, 0) + 1
        chapter_seen[key] = count
        cid = item_id("c", key, count)
        parsed.chapters.append(
            Chapter(
                id=cid,
                text=text_,
                status=CHAPTER_STATUS[mark],
                plan=heading,
                page=page,
                line=i + 1,
                mark=mark,
                path=path,
            )
        )
    return parsed


def _done_date(rest: str) -> str | None:
    m = DONE_DATE_RE.search(rest)
    return m["date"] if m else None


def block_ends(lines: list[str]) -> list[int]:
    """For each line, the last line of the block indented 4 more below it.

    The block of line ``i`` (0-based) runs to the last non-blank line before the
    first non-blank line indented less than ``width(i) + 4``; ``ends[i] == i``
    when it is empty. One pass from the end with a stack of the nearest lines of
    ever smaller indent, so deeply nested lists cost ``O(n log n)``, not ``O(n²)``.
    """
    n = len(lines)
    ends = list(range(n))
    stack: list[int] = []  # line numbers, the nearest last
    widths: list[int] = []  # their indents, strictly increasing
    prev_text = [-1] * (n + 1)  # prev_text[k]: last non-blank line before k
    seen = -1
    for k in range(n):
        prev_text[k] = seen
        if not is_blank(lines[k]):
            seen = k
    prev_text[n] = seen
    for i in range(n - 1, -1, -1):
        line = lines[i]
        if is_blank(line):
            continue
        w = leading_spaces(line)
        # the nearest line after i with an indent below w + 4 stops the block
        pos = bisect.bisect_left(widths, w + 4) - 1
        stop = stack[pos] if pos >= 0 else n
        ends[i] = max(i, prev_text[stop])
        while widths and widths[-1] >= w:
            widths.pop()
            stack.pop()
        stack.append(i)
        widths.append(w)
    return ends


def _dedent(lines: list[str], width: int) -> str:
    """Remove ``width`` columns of indentation and the surrounding blank lines."""
    out = []
    for line in lines:
        if is_blank(line):
            out.append("")
            continue
        cut = 0
        col = 0
        while cut < len(line) and col < width and line[cut] in " \t":
            col += 1 if line[cut] == " " else 4 - col % 4
            cut += 1
        out.append(line[cut:].rstrip())
    return "\n".join(out).strip("\n")


# --------------------------------------------------------------------------- #
# The whole knowledge base
# --------------------------------------------------------------------------- #


def iter_pages(docs_dir: Path) -> Iterator[tuple[str, Path]]:
    """``(page, path)`` of every Markdown page MkDocs would build, sorted.

    Mirrors MkDocs' default ``exclude_docs``: dot-files and dot-folders and the
    top-level ``templates/`` folder are not pages. Like MkDocs, symlinked folders
    are followed (a folder of an Obsidian vault linked into ``docs/``); a link back
    to a folder it is inside (a loop) is not followed again. The paths are the ones
    below ``docs_dir``, links not resolved.
    """
    found: list[tuple[str, Path]] = []
    # (st_dev, st_ino) of each walked folder and of the folders above it
    chains: dict[str, frozenset[tuple[int, int]]] = {}
    for dirpath, dirnames, filenames in os.walk(docs_dir, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        above = chains.pop(dirpath, frozenset())
        if key in above:  # a symlink loop
            dirnames[:] = []
            continue
        rel_dir = Path(dirpath).relative_to(docs_dir)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and not (rel_dir == Path(".") and d == "templates")
        )
        chain = above | {key}
        for d in dirnames:
            chains[os.path.join(dirpath, d)] = chain
        for name in filenames:
            if name.endswith(".md") and not name.startswith("."):
                page = (rel_dir / name).as_posix()
                found.append((page, Path(dirpath) / name))
    found.sort()
    yield from found


# An editor saving in place truncates the file, then writes it: an empty note
# modified this recently is read again after a moment.
SETTLE_NS = 1_000_000_000
SETTLE_WAIT = 0.02
SETTLE_TRIES = 5


def read_settled(path: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of the file at ``path`` and its ``stat``, read from one open file.

    A file that is empty and was modified within the last second is being saved
    in place by another program; it is read again, a few times, after a moment.
    """
    for attempt in range(SETTLE_TRIES):
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            raw = f.read()
        fresh = time.time_ns() - st.st_mtime_ns < SETTLE_NS
        if raw or not fresh or attempt == SETTLE_TRIES - 1:
            break
        time.sleep(SETTLE_WAIT)
    return raw, st


def read_note(path: Path) -> str:
    """The text of a note: UTF-8 (a BOM is kept as a character), newlines as-is.

    An editor that saves in place in several writes can be caught half-way, cutting
    a multi-byte character: a file modified within the last second that does not
    decode is read again after a moment (a few times) before the error stands.
    """
    for attempt in range(SETTLE_TRIES):
        raw, st = read_settled(path)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            fresh = time.time_ns() - st.st_mtime_ns < SETTLE_NS
            if not fresh or attempt == SETTLE_TRIES - 1:
                raise
            time.sleep(SETTLE_WAIT)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class KnowledgeBase:
    """Every tracked item below a docs folder."""

    docs_dir: Path
    pages: list[ParsedPage]

    @classmethod
    def scan(cls, docs_dir: Path | str) -> KnowledgeBase:
        root = Path(docs_dir)
        if not root.is_dir():
            raise FileNotFoundError(f"docs folder not found: {root}")
        pages = [
            parse_page(read_note(path), page, path) for page, path in iter_pages(root)
        ]
        return cls(root, pages)

    @classmethod
    def from_texts(
        cls, docs_dir: Path, texts: Iterable[tuple[str, str]]
    ) -> KnowledgeBase:
        """Build from ``(page, text)`` pairs (the MkDocs plugin's view of the pages)."""
        return cls(
            docs_dir,
            [parse_page(text, page, docs_dir / page) for page, text in sorted(texts)],
        )

    @property
    def questions(self) -> list[Question]:
        return [q for p in self.pages for q in p.questions]

    @property
    def resources(self) -> list[Resource]:
        return [r for p in self.pages for r in p.resources]

    @property
    def chapters(self) -> list[Chapter]:
        return [c for p in self.pages for c in p.chapters]

    def page(self, page: str) -> ParsedPage | None:
        return next((p for p in self.pages if p.page == page), None)
