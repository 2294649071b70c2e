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
kept byte for byte, which is what lets :mod:`dlnotes.kb.editor` change only the
lines it must.

Items get IDs that stay stable when other lines change: questions carry theirs,
resources get ``r-`` + 8 hex digits of a hash of their page and cleaned URL, plan
chapters ``c-`` + 8 hex digits of a hash of their page, plan heading and text
(``-2``, ``-3`` ... for repeats on one page).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dlnotes.kb.links import clean_url

QuestionStatus = Literal["open", "resolved"]
ResourceStatus = Literal["unread", "read", "digested"]
ChapterStatus = Literal["todo", "doing", "done"]

QUESTION_STATUS: dict[str, QuestionStatus] = {
    " ": "open",
    "/": "open",
    "x": "resolved",
    "X": "resolved",
}
RESOURCE_STATUS: dict[str, ResourceStatus] = {
    " ": "unread",
    "/": "read",
    "x": "digested",
    "X": "digested",
}
CHAPTER_STATUS: dict[str, ChapterStatus] = {
    " ": "todo",
    "/": "doing",
    "x": "done",
    "X": "done",
}
# Status -> checkbox character, for the editor.
STATUS_MARK: dict[str, str] = {
    "open": " ",
    "resolved": "x",
    "unread": " ",
    "read": "/",
    "digested": "x",
    "todo": " ",
    "doing": "/",
    "done": "x",
}

# `- [ ] rest`: bullet or ordered marker, checkbox, text. Group `mark` is the status.
TASK_RE = re.compile(
    r"(?P<indent>[ \t]*)(?P<bullet>[-*+]|\d{1,9}[.)])[ \t]+"
    r"\[(?P<mark>[ xX/])\][ \t]+(?P<rest>\S.*?)[ \t]*\r?$"
)
# The tail of a question: text, `#Q-topic-nn`, optional `✅ YYYY-MM-DD`.
QUESTION_RE = re.compile(
    r"(?P<text>.*?\S)[ \t]+#(?P<id>Q-(?P<topic>[a-z][a-z0-9]*)-(?P<num>\d{2,}))"
    r"(?:[ \t]+✅[ \t]*(?P<date>\d{4}-\d{2}-\d{2}))?$"
)
ID_RE = re.compile(r"Q-(?P<topic>[a-z][a-z0-9]*)-(?P<num>\d{2,})")
# A Markdown link at the start of the text: `[title](url "optional title")`.
LINK_START_RE = re.compile(
    r"\[(?P<title>[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*)\]"
    r"\((?P<url><[^<>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:[ \t]+\"[^\"]*\")?\)"
)
HEADING_RE = re.compile(r"(?P<level>#{1,6})(?!#)[ \t]*(?P<text>.*?)[ \t]*\r?$")
FENCE_RE = re.compile(r"(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*?)\r?$")
# Blocks whose content is indented 4 spaces: admonitions, details, content tabs.
CONTAINER_RE = re.compile(r"[ \t]*(?:!!!|\?\?\?\+?|===)[ \t]")
LIST_ITEM_RE = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]|\r?$)")
BLOCK_START_RE = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)]|#|>|`{3}|~{3}|!!!|\?\?\?|===)")

TEXT, CODE, COMMENT, FRONT_MATTER = 0, 1, 2, 3
_ATTRS_RE = re.compile(r"\s*\{[^{}]*\}$")
_BLOCK_FIRST = frozenset("-*+0123456789#>`~!?=")
_CONTAINER_FIRST = frozenset("-*+0123456789!?=")


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` with their endings; only ``\\n`` ends a line.

    ``"".join(split_lines(text)) == text`` for every string.
    """
    if not text:
        return []
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def line_body(line: str) -> str:
    """``line`` without its ending (``\\n`` or ``\\r\\n``)."""
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


def line_ending(line: str) -> str:
    """The ending of ``line``: ``"\\r\\n"``, ``"\\n"`` or ``""``."""
    if line.endswith("\r\n"):
        return "\r\n"
    return "\n" if line.endswith("\n") else ""


def dominant_ending(lines: list[str]) -> str:
    """The line ending most lines of a file use (``"\\n"`` for an empty file)."""
    crlf = sum(1 for line in lines if line.endswith("\r\n"))
    lf = sum(1 for line in lines if line.endswith("\n")) - crlf
    return "\r\n" if crlf > lf else "\n"


def indent_width(line: str) -> int:
    """Columns of leading white space (a tab counts as 4)."""
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 4 - width % 4
        else:
            break
    return width


def is_blank(line: str) -> bool:
    return not line.strip()


@dataclass(slots=True)
class CodeBlock:
    """A code block the parser skipped (1-based, inclusive line numbers)."""

    start: int
    end: int
    kind: Literal["fence", "indented"]
    info: str = ""
    closed: bool = True


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
    answer: str
    resolved: str | None
    page: str
    line: int
    end_line: int
    heading: str = ""
    mark: str = " "
    path: Path | None = None

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


def _short_hash(*parts: str) -> str:
    return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()[:8]


def _norm_text(text: str) -> str:
    return " ".join(text.split())


def classify_lines(lines: list[str]) -> tuple[list[int], list[CodeBlock]]:
    """Mark each line as text, code, HTML comment or front matter.

    Follows Python-Markdown (4-space lists, as MkDocs renders them): inside a list
    item or an admonition the content is indented 4 spaces more than the marker, and
    indented code needs 4 more than that, after a blank line.
    """
    n = len(lines)
    kinds = [TEXT] * n
    blocks: list[CodeBlock] = []
    i = 0
    if n and line_body(lines[0]) == "---":
        for j in range(1, n):
            if line_body(lines[j]) in ("---", "..."):
                for k in range(j + 1):
                    kinds[k] = FRONT_MATTER
                i = j + 1
                break
    stack: list[int] = []  # content indents of the open list items / admonitions
    prev_blank = True
    while i < n:
        line = lines[i]
        stripped = line.lstrip()
        if not stripped:
            prev_blank = True
            i += 1
            continue
        lead = len(line) - len(line.lstrip(" \t"))
        ind = indent_width(line) if "\t" in line[:lead] else lead
        first = stripped[0]
        if stack and ind < stack[-1]:
            lazy = not prev_blank and not (
                first in _BLOCK_FIRST and BLOCK_START_RE.match(line)
            )
            if not lazy:
                while stack and ind < stack[-1]:
                    stack.pop()
        base = stack[-1] if stack else 0
        fence = FENCE_RE.match(line) if first in "`~" else None
        if fence and not (fence["fence"][0] == "`" and "`" in fence["info"]):
            char, size = fence["fence"][0], len(fence["fence"])
            start = i
            kinds[i] = CODE
            i += 1
            closed = False
            while i < n:
                kinds[i] = CODE
                body = line_body(lines[i]).strip()
                if body and set(body) == {char} and len(body) >= size:
                    closed = True
                    i += 1
                    break
                i += 1
            blocks.append(
                CodeBlock(start + 1, i, "fence", fence["info"].strip(), closed)
            )
            prev_blank = False
            continue
        if prev_blank and ind >= base + 4:
            start = i
            last = i
            while i < n:
                if not lines[i].strip():
                    i += 1
                    continue
                if indent_width(lines[i]) < base + 4:
                    break
                last = i
                i += 1
            for k in range(start, last + 1):
                kinds[k] = CODE
            blocks.append(CodeBlock(start + 1, last + 1, "indented"))
            i = last + 1
            prev_blank = False
            continue
        if first == "<" and stripped.startswith("<!--"):
            j = i
            rest = stripped[4:]
            while "-->" not in rest and j + 1 < n:
                j += 1
                rest = lines[j]
            for k in range(i, j + 1):
                kinds[k] = COMMENT
            i = j + 1
            prev_blank = False
            continue
        if first in _CONTAINER_FIRST and (
            LIST_ITEM_RE.match(line) or CONTAINER_RE.match(line)
        ):
            stack.append(ind + 4)
        prev_blank = False
        i += 1
    return kinds, blocks


def parse_page(text: str, page: str, path: Path | None = None) -> ParsedPage:
    """Parse the Markdown ``text`` of the page ``page`` (docs-relative POSIX path)."""
    lines = split_lines(text)
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
    n = len(lines)
    for i, line in enumerate(visible):
        if kinds[i] != TEXT:
            continue
        first = line[:1]
        if first == "#":
            h = HEADING_RE.match(line)
            if h:
                heading = _ATTRS_RE.sub("", h["text"]).rstrip("#").strip()
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
            ind = indent_width(line)
            end = i
            j = i + 1
            need = ind + 4
            while j < n:
                nxt = visible[j]
                if not nxt.strip():
                    j += 1
                    continue
                if not nxt.startswith(" " * need) and indent_width(nxt) < need:
                    break
                end = j
                j += 1
            answer = _dedent([line_body(x) for x in visible[i + 1 : end + 1]], ind + 4)
            parsed.questions.append(
                Question(
                    id=q["id"],
                    text=q["text"],
                    status=QUESTION_STATUS[mark],
                    answer=answer,
                    resolved=q["date"],
                    page=page,
                    line=i + 1,
                    end_line=end + 1,
                    heading=heading,
                    mark=mark,
                    path=path,
                )
            )
            continue
        link = LINK_START_RE.match(rest)
        if link is not None:
            url = link["url"].strip("<>")
            key = _short_hash(page, clean_url(url) if "?" in url or "#" in url else url)
            count = resource_seen.get(key, 0) + 1
            resource_seen[key] = count
            rid = f"r-{key}" if count == 1 else f"r-{key}-{count}"
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
                )
            )
            continue
        text_ = rest
        key = _short_hash(page, heading, _norm_text(text_))
        count = chapter_seen.get(key, 0) + 1
        chapter_seen[key] = count
        cid = f"c-{key}" if count == 1 else f"c-{key}-{count}"
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
    top-level ``templates/`` folder are not pages.
    """
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(docs_dir):
        rel_dir = Path(dirpath).relative_to(docs_dir)
        dirnames[:] = [
            d
            for d in dirnames
            if not d.startswith(".") and not (rel_dir == Path(".") and d == "templates")
        ]
        for name in filenames:
            if name.endswith(".md") and not name.startswith("."):
                page = (rel_dir / name).as_posix()
                found.append((page, Path(dirpath) / name))
    found.sort()
    yield from found


def read_note(path: Path) -> str:
    """The text of a note: UTF-8 (a BOM is kept as a character), newlines as-is."""
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


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


def normalize_question_id(ref: str) -> str | None:
    """``Q-cnn-01`` from ``Q-cnn-01``, ``#q-CNN-01``, ``cnn-01``; None if not an ID."""
    ref = ref.strip().lstrip("#")
    lowered = ref.lower()
    if lowered.startswith("q-"):
        lowered = lowered[2:]
    m = re.fullmatch(r"([a-z][a-z0-9]*)-(\d{2,})", lowered)
    return f"Q-{m[1]}-{m[2]}" if m else None


def next_question_id(topic: str, used: Iterable[str]) -> str:
    """The next free ``Q-<topic>-<nn>``: one more than the largest number in use."""
    if not re.fullmatch(r"[a-z][a-z0-9]*", topic):
        raise ValueError(
            f"topic must be lower-case letters and digits starting with a letter, "
            f"got {topic!r}"
        )
    numbers = [0]
    width = 2
    for qid in used:
        m = ID_RE.fullmatch(qid)
        if m and m["topic"] == topic:
            numbers.append(int(m["num"]))
            width = max(width, len(m["num"]))
    return f"Q-{topic}-{max(numbers) + 1:0{width}d}"
