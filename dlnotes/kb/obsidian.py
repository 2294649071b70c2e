"""The Obsidian forms of the notes: wikilinks, embeds, callouts, comments, tags.

The notes are written in Obsidian (https://help.obsidian.md/syntax); these are the
forms that are not plain Markdown, declared once here and used by the site
(:mod:`dlnotes.site.obsidian`), the importer, ``dlnotes check`` and the tracker:

* ``[[page]]``, ``[[page|alias]]``, ``[[page#heading]]``, ``[[page#heading|alias]]``
  (wikilinks) and ``![[file]]``, ``![[image.png|400]]``, ``![[note#heading]]``
  (embeds); in a table the ``|`` is written ``\\|``;
* ``%%comment%%``, inline or over several lines: never published;
* callouts: a block quote whose first line is ``> [!type] title``, ``> [!type]-``
  (folded) or ``> [!type]+`` (foldable, open);
* ``#tags``: ``#`` then letters, digits, ``_``, ``-`` or ``/``, not only digits,
  preceded by the start of the line or white space; question IDs (``#Q-cnn-01``)
  are not tags;
* ``==highlight==`` (rendered by ``pymdownx.mark``).

None of them counts inside code (fences, indented code, inline code spans), HTML
comments or the YAML front matter; :func:`scan` finds them in the text that remains.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from dlnotes.kb.grammar import (
    CALLOUT_TYPES,
    CODE_SPAN_RE,
    COMMENT,
    COMMENT_MARK,
    HEADING_LINE_RE,
    NOT_TAG_RE,
    TAG_RE,
    TEXT,
    WIKILINK_RE,
    classify_lines,
    line_body,
    split_lines,
)


@dataclass(frozen=True, slots=True)
class WikiLink:
    """One ``[[...]]`` or ``![[...]]`` of a note (``line`` 1-based, ``col`` 0-based).

    ``target`` is the page or file as written (may be empty: ``[[#heading]]`` links
    into the same note), ``heading`` what follows ``#`` (``""`` if nothing),
    ``alias`` what follows ``|`` (``""`` if nothing).
    """

    target: str
    heading: str
    alias: str
    line: int
    col: int = 0
    embed: bool = False
    raw: str = ""

    @property
    def text(self) -> str:
        """What the reader sees: the alias, else the target (and heading)."""
        if self.alias:
            return self.alias
        if self.target and self.heading:
            return f"{self.target} > {self.heading}"
        return self.target or self.heading


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    line: int
    col: int


@dataclass(slots=True)
class Scan:
    """Where the Obsidian forms are in a note.

    ``hidden[i]`` lists the ``(start, end)`` column ranges of line ``i`` (0-based)
    inside ``%%`` comments; ``code[i]`` those in inline code spans.
    """

    lines: list[str]
    kinds: list[int]
    hidden: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    code: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    unclosed_comment: int = 0  # 1-based line of a `%%` never closed (0: none)

    def segments(self, i: int) -> Iterator[tuple[int, int]]:
        """``(start, end)`` column ranges of line ``i`` that are prose."""
        if self.kinds[i] != TEXT:
            return
        body = line_body(self.lines[i])
        cuts = sorted(self.hidden.get(i, []) + self.code.get(i, []))
        pos = 0
        for start, end in cuts:
            if start > pos:
                yield pos, start
            pos = max(pos, end)
        if pos < len(body):
            yield pos, len(body)

    def prose(self, i: int) -> str:
        """Line ``i`` with code spans and comments blanked (columns kept)."""
        body = line_body(self.lines[i])
        if self.kinds[i] != TEXT:
            return " " * len(body)
        out = [" "] * len(body)
        for start, end in self.segments(i):
            out[start:end] = body[start:end]
        return "".join(out)


def _code_spans(body: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in CODE_SPAN_RE.finditer(body)]


def scan(text: str | list[str]) -> Scan:
    """Classify the lines of ``text`` and find its comments and code spans."""
    lines = split_lines(text) if isinstance(text, str) else text
    kinds, _ = classify_lines(lines)
    result = Scan(lines, list(kinds))
    open_at: tuple[int, int] | None = None  # (line, col) of an open `%%`
    for i, line in enumerate(lines):
        kind = result.kinds[i]
        if open_at is None and kind != TEXT:
            continue
        body = line_body(line)
        spans = _code_spans(body) if kind == TEXT and "`" in body else []
        if spans:
            result.code[i] = spans
        pos = 0
        while True:
            at = body.find(COMMENT_MARK, pos)
            if open_at is None:
                # a `%%` inside a code span does not open a comment
                while at >= 0 and any(a <= at < b for a, b in spans):
                    at = body.find(COMMENT_MARK, at + 1)
            if at < 0:
                break
            if open_at is None:
                open_at = (i, at)
                pos = at + 2
                continue
            start = open_at[1] if open_at[0] == i else 0
            result.hidden.setdefault(i, []).append((start, at + 2))
            open_at = None
            pos = at + 2
        if open_at is not None:
            start = open_at[1] if open_at[0] == i else 0
            result.hidden.setdefault(i, []).append((start, len(body)))
            if open_at[0] != i and kind != TEXT:
                # a fence or code inside a comment is hidden with it
                result.kinds[i] = COMMENT
    if open_at is not None:
        result.unclosed_comment = open_at[0] + 1
    # lines wholly inside a comment are comment lines (the tracker skips them)
    for i, ranges in result.hidden.items():
        body = line_body(lines[i])
        if result.kinds[i] == TEXT and _covers(ranges, body):
            result.kinds[i] = COMMENT
    return result


def _covers(ranges: list[tuple[int, int]], body: str) -> bool:
    keep = list(body)
    for start, end in ranges:
        keep[start:end] = [" "] * (end - start)
    return not "".join(keep).strip()


def comment_lines(lines: list[str], kinds: list[int]) -> list[int]:
    """``kinds`` with lines wholly inside ``%%`` comments marked ``COMMENT``.

    The tracker (:mod:`dlnotes.kb.notes`) uses it so that a question written inside
    a comment is neither tracked nor published.
    """
    if not any(COMMENT_MARK in line for line in lines):
        return kinds
    return scan(lines).kinds


def without_comments(s: Scan) -> list[str]:
    """The lines with the text of ``%%`` comments removed (line endings kept)."""
    out = list(s.lines)
    for i, ranges in s.hidden.items():
        line = s.lines[i]
        body = line_body(line)
        keep = [True] * len(body)
        for start, end in ranges:
            keep[start:end] = [False] * (end - start)
        text = "".join(ch for ch, k in zip(body, keep, strict=True) if k)
        out[i] = text.rstrip() + line[len(body) :]
    return out


def _prose_lines(markdown: str | Scan, marker: str) -> Iterator[tuple[int, str]]:
    """``(index, prose)`` of the text lines holding ``marker`` outside code."""
    s = markdown if isinstance(markdown, Scan) else scan(markdown)
    for i, line in enumerate(s.lines):
        if marker in line and s.kinds[i] == TEXT:
            yield i, s.prose(i)


def find_links(markdown: str | Scan) -> list[WikiLink]:
    """Every wikilink and embed of a note, outside code and comments, in order."""
    return [
        WikiLink(
            target=m["target"].strip(),
            heading=(m["heading"] or "").strip(),
            alias=(m["alias"] or "").strip(),
            line=i + 1,
            col=m.start(),
            embed=bool(m["embed"]),
            raw=m.group(0),
        )
        for i, prose in _prose_lines(markdown, "[[")
        for m in WIKILINK_RE.finditer(prose)
    ]


def find_tags(markdown: str | Scan) -> list[Tag]:
    """Every ``#tag`` of a note outside code, comments, headings and links."""
    return [
        Tag(m["tag"], i + 1, m.start())
        for i, prose in _prose_lines(markdown, "#")
        if not HEADING_LINE_RE.match(prose)
        for m in TAG_RE.finditer(_without_links(prose))
    ]


def _without_links(prose: str) -> str:
    """Blank URLs, link targets, wikilinks, entities and attribute lists."""
    return NOT_TAG_RE.sub(lambda m: " " * len(m[0]), prose)


def front_matter(text: str) -> dict[str, object]:
    """The YAML front matter of a note (``{}`` without one or when it is invalid)."""
    if not text.startswith("---"):
        return {}
    lines = split_lines(text)
    if line_body(lines[0]) != "---":
        return {}
    for j in range(1, len(lines)):
        if line_body(lines[j]) in ("---", "..."):
            import yaml

            # libyaml's loader when PyYAML has it (the pure-Python one was 3/4 of it)
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            try:
                data = yaml.load("".join(lines[1:j]), Loader=loader)
            except yaml.YAMLError:
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def string_list(value: object) -> list[str]:
    """A front matter ``tags:``/``aliases:`` value as a list of strings.

    Obsidian accepts a YAML list or one comma-separated string; a leading ``#`` of a
    tag is dropped.
    """
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    out = [str(item).strip().lstrip("#").strip() for item in items if item is not None]
    return [item for item in out if item]


def callout_type(name: str) -> str:
    """The admonition type for an Obsidian callout type (unknown ones kept)."""
    low = name.lower()
    return CALLOUT_TYPES.get(low, low)
