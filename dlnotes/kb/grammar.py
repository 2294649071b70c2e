"""The Markdown grammar of the notes: every form dlnotes reads or writes, once.

The parser (:mod:`dlnotes.kb.notes`), the edits (:mod:`dlnotes.kb.edits`), the
importer, ``dlnotes check``, the renderer, the page-code runner and the ``mkdocs
serve`` endpoint all ask this module; none of them declares a pattern of its own for
a form listed here. ``docs/guide/writing-notes.md`` describes the same forms for the
user.

Sections:

* lines: only ``\\n`` ends a line, a ``\\r`` before it stays part of the line;
* statuses: the checkbox character of a tracked item;
* IDs: ``Q-<topic>-<nn>`` questions, ``r-`` resources, ``c-`` plan chapters;
* tracked lines: ``- [ ] text #Q-topic-nn ✅ YYYY-MM-DD``, ``- [/] [title](url)``;
* headings: ATX headings, the question section (疑问 / 问题), plan headings;
* blocks: fences, indented code, HTML comments, front matter, lists, admonitions;
* inline: code spans, links, images, autolinks, bare URLs, snippet includes;
* Obsidian forms: wikilinks, embeds, comments, callouts, tags, highlights.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

# --------------------------------------------------------------------------- #
# Lines
# --------------------------------------------------------------------------- #

BOM = "\ufeff"


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


# --------------------------------------------------------------------------- #
# Statuses: the checkbox character of a tracked item
# --------------------------------------------------------------------------- #

QuestionStatus = Literal["open", "resolved"]
ResourceStatus = Literal["unread", "read", "digested"]
ChapterStatus = Literal["todo", "doing", "done"]

QUESTION_STATUS: dict[str, QuestionStatus] = {
    " ": "open",
    "/": "open",  # not a valid question mark; `dlnotes check` reports it
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
# Status -> checkbox character, for the edits.
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
DONE_MARK = "✅"  # before the date a question was resolved on

# --------------------------------------------------------------------------- #
# IDs
# --------------------------------------------------------------------------- #

TOPIC = r"[a-z][a-z0-9]*"
TOPIC_RE = re.compile(TOPIC)
DATE = r"\d{4}-\d{2}-\d{2}"
# `Q-cnn-01`: topic, at least two digits.
ID_RE = re.compile(rf"Q-(?P<topic>{TOPIC})-(?P<num>\d{{2,}})")
QUESTION_ID_RE = ID_RE
# `r-` / `c-` + 8 hex digits of a hash, `-2`, `-3` ... for repeats on one page.
RESOURCE_ID_RE = re.compile(r"r-[0-9a-f]{8}(?:-\d+)?")
CHAPTER_ID_RE = re.compile(r"c-[0-9a-f]{8}(?:-\d+)?")
# What a user may type for a question: `Q-cnn-01`, `#q-CNN-01`, `cnn-01`.
_LOOSE_QID_RE = re.compile(rf"(?:q-)?({TOPIC})-(\d{{2,}})")
# Anything that looks like it wants to be a question ID (for `dlnotes check`).
LOOSE_ID_RE = re.compile(r"#Q-\S*")


def normalize_question_id(ref: str) -> str | None:
    """``Q-cnn-01`` from ``Q-cnn-01``, ``#q-CNN-01``, ``cnn-01``; None if not an ID."""
    m = _LOOSE_QID_RE.fullmatch(ref.strip().lstrip("#").lower())
    return f"Q-{m[1]}-{m[2]}" if m else None


def next_question_id(topic: str, used: Iterable[str]) -> str:
    """The next free ``Q-<topic>-<nn>``: one more than the largest number in use."""
    return next(question_ids(topic, used))


def question_ids(topic: str, used: Iterable[str]) -> Iterator[str]:
    """``Q-<topic>-<nn>`` IDs after the largest number in use, one after another.

    ``used`` is read once; numbering many new questions costs one pass over it.
    """
    if not TOPIC_RE.fullmatch(topic):
        raise ValueError(
            f"topic must be lower-case letters and digits starting with a letter, "
            f"got {topic!r}"
        )
    largest = 0
    width = 2
    for qid in used:
        m = ID_RE.fullmatch(qid)
        if m and m["topic"] == topic:
            largest = max(largest, int(m["num"]))
            width = max(width, len(m["num"]))
    return (f"Q-{topic}-{n:0{width}d}" for n in itertools.count(largest + 1))


def short_hash(*parts: str) -> str:
    """8 hex digits identifying ``parts`` (the key of a resource or chapter ID)."""
    return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()[:8]


def item_id(prefix: str, key: str, count: int) -> str:
    """``r-<key>`` for the first item with ``key`` on a page, ``r-<key>-2`` ..."""
    return f"{prefix}-{key}" if count == 1 else f"{prefix}-{key}-{count}"


# --------------------------------------------------------------------------- #
# Tracked lines
# --------------------------------------------------------------------------- #

BULLET = r"[-*+]"
ORDERED = r"\d{1,9}[.)]"
# `- [ ] rest`: bullet or ordered marker, checkbox, text. Group `mark` is the status.
TASK_RE = re.compile(
    rf"(?P<indent>[ \t]*)(?P<bullet>{BULLET}|{ORDERED})[ \t]+"
    r"\[(?P<mark>[ xX/])\][ \t]+(?P<rest>\S.*?)[ \t]*\r?$"
)
# A checkbox at the start of a list item's body (the importer's view of raw notes).
CHECKBOX_RE = re.compile(r"\[(?P<mark>[ xX/])\][ \t]+(?P<rest>.*)$")
# HTML comments at the very end of a question line: its review state
# (`<!--review …-->`, see REVIEW_COMMENT_RE) and/or the state Obsidian's
# spaced-repetition plugin keeps (`<!--SR:!2026-12-03,3,250-->`). Invisible on the
# site; the question's text and ID come before them.
LINE_COMMENTS = r"(?P<comments>(?:[ \t]*<!--(?:(?!-->).)*-->)+)"
# The tail of a question: text, `#Q-topic-nn`, optional `✅ YYYY-MM-DD`, comments.
QUESTION_RE = re.compile(
    rf"(?P<text>.*?\S)[ \t]+#(?P<id>Q-(?P<topic>{TOPIC})-(?P<num>\d{{2,}}))"
    rf"(?:[ \t]+{DONE_MARK}[ \t]*(?P<date>{DATE}))?{LINE_COMMENTS}?$"
)
# The ID (and date) that ends a question line, wherever the line starts.
QUESTION_TAIL_RE = re.compile(
    rf"#(?P<id>Q-{TOPIC}-\d{{2,}})(?:[ \t]+{DONE_MARK}[ \t]*(?P<date>{DATE}))?"
    rf"{LINE_COMMENTS}?$"
)
# dlnotes' review state of a question (dlnotes.kb.review formats and parses the body):
# `<!--review due=2026-12-03T09:15Z s=3.2104 d=5.1012 state=review step=0
# last=2026-11-30T09:15Z log=2026-11-28:3,2026-11-30:3-->` (one line).
REVIEW_COMMENT_RE = re.compile(r"<!--review (?P<body>(?:(?!-->)[^\n])*)-->")
# Obsidian spaced-repetition plugin: `<!--SR:!due,interval,ease-->` (one card);
# several cards on one line are `!due,interval,ease` groups one after another.
SR_COMMENT_RE = re.compile(r"<!--SR:(?P<cards>(?:!\d{4}-\d{2}-\d{2},\d+,\d+)+)-->")
SR_CARD_RE = re.compile(r"!(?P<due>\d{4}-\d{2}-\d{2}),(?P<interval>\d+),(?P<ease>\d+)")
# `✅ YYYY-MM-DD` ending a resource line: the day it was read (set by `dlnotes read`).
DONE_DATE_RE = re.compile(rf"[ \t]+{DONE_MARK}[ \t]*(?P<date>{DATE})[ \t]*$")
# A bullet item with some text (where `dlnotes ask` may add a question right after).
BULLET_ITEM_RE = re.compile(rf"[ \t]*{BULLET}[ \t]+\S")


def question_line(
    indent: str, text: str, qid: str, date: str | None = None, comments: str = ""
) -> str:
    """The body of a question line: ``- [ ] text #Q-x-01`` or ``- [x] … ✅ date``.

    ``comments``: the line's trailing HTML comments (review state), kept verbatim.
    """
    if date:
        return f"{indent}- [x] {text} #{qid} {DONE_MARK} {date}{comments}"
    return f"{indent}- [ ] {text} #{qid}{comments}"


# --------------------------------------------------------------------------- #
# Headings
# --------------------------------------------------------------------------- #

# The parser's heading (a line already known to start with `#`); `{#id .cls}`
# attributes are dropped from the text by ATTRS_RE.
HEADING_RE = re.compile(r"(?P<level>#{1,6})(?!#)[ \t]*(?P<text>.*?)[ \t]*\r?$")
ATTRS_RE = re.compile(r"\s*\{[^{}]*\}$")
# A CommonMark ATX heading of a raw note: up to 3 spaces, a space after the #s,
# optional closing #s.
ATX_HEADING_RE = re.compile(
    r" {0,3}(?P<level>#{1,6})[ \t]+(?P<text>.*?)[ \t]*#*[ \t]*$"
)


def heading_text(raw: str) -> str:
    """The text of a heading as the parser keeps it (attributes, closing #s gone)."""
    return ATTRS_RE.sub("", raw).rstrip("#").strip()


# The heading `dlnotes ask` writes when a page has no question section yet.
QUESTION_HEADING = "疑问"
# A question section: 疑问, 问题, 提问 or Q&A, optionally numbered, with a qualifier
# (一些, 其它, 常见 ...) before it and 和解答 / 与思考 ... after it. Every module
# uses this one test, so `## 问题` of an imported page is the section `dlnotes ask`
# adds to, and a content heading such as `### 退化问题` is not.
QUESTION_SECTION_RE = re.compile(
    r"(?:\d{1,3}\s*[、.．)）]\s*)?"
    r"(?:(?:一些|其它|其他|常见|遗留|待解决的?|我的|相关)\s*的?\s*)?"
    r"(?:疑问|问题|提问|q\s*&\s*a)"
    r"(?:\s*(?:和|与|及|&|/)\s*(?:解答|回答|答案|思考|想法))?"
    r"\s*[:：]?",
    re.IGNORECASE,
)
# A plan section (a book's table of contents): a heading that names one.
PLAN_WORDS = ("目录", "计划", "大纲", "章节", "plan", "contents")
CHAPTER_TITLE_RE = re.compile(r"第\s*\S+\s*章")
# `1、` / `2.` numbering in front of a heading that asks a question.
HEADING_NUMBER_RE = re.compile(r"^\d+\s*[、.．]\s*")


def is_question_heading(text: str) -> bool:
    """Whether the heading ``text`` starts the question section of a page."""
    return QUESTION_SECTION_RE.fullmatch(heading_text(text)) is not None


def is_plan_heading(text: str) -> bool:
    low = text.lower()
    return any(word in low for word in PLAN_WORDS)


# A line that ends with a question mark asks a question.
QUESTION_END_RE = re.compile(r"[?？]\s*$")


def heading_slug(text: str) -> str:
    """The anchor MkDocs gives a heading (``pymdownx.slugs``, lower case)."""
    try:
        from pymdownx.slugs import slugify

        return str(slugify(case="lower")(text, "-"))
    except ImportError:  # pragma: no cover - pymdown-extensions is a dependency
        return re.sub(r"[^\w\- ]", "", text).strip().lower().replace(" ", "-")


# --------------------------------------------------------------------------- #
# Blocks: fences, indented code, comments, front matter, lists, admonitions
# --------------------------------------------------------------------------- #

FRONT_MATTER_OPEN = "---"
FRONT_MATTER_CLOSE = ("---", "...")
FENCE_RE = re.compile(r"(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*?)\r?$")
# The language of a fence's info string: "python", "py title=x", "{.python .x}".
FENCE_LANG_RE = re.compile(r"\{?[ \t]*\.?(?P<lang>[\w+-]*)")
# Blocks whose content is indented 4 spaces: admonitions, details, content tabs.
CONTAINER_RE = re.compile(r"[ \t]*(?:!!!|\?\?\?\+?|===)[ \t]")
# The start of a list item (possibly empty), for nesting.
LIST_START_RE = re.compile(rf"[ \t]*(?:{BULLET}|{ORDERED})(?:[ \t]|\r?$)")
# A list item with its parts (the importer re-indents them).
LIST_ITEM_RE = re.compile(
    rf"(?P<indent>[ \t]*)(?P<marker>{BULLET}|{ORDERED})[ \t]+(?P<body>.*)$"
)
THEMATIC_BREAK_RE = re.compile(r"\s*[-*_](?:\s*[-*_]){2,}\s*$")
# Lines that start a new block (and so end a lazy continuation line).
BLOCK_START_RE = re.compile(
    rf"[ \t]*(?:{BULLET}|{ORDERED}|#|>|`{{3}}|~{{3}}|!!!|\?\?\?|===)"
)
COMMENT_OPEN, COMMENT_CLOSE = "<!--", "-->"

TEXT, CODE, COMMENT, FRONT_MATTER = 0, 1, 2, 3


def leading_spaces(line: str) -> int:
    """:func:`indent_width`, at C speed for the usual indent of spaces only.

    (Lines of a deeply nested list are thousands of spaces long.)
    """
    k = len(line) - len(line.lstrip())
    return k if line.startswith(" " * k) else indent_width(line)


_BLOCK_FIRST = frozenset("-*+0123456789#>`~!?=")
_CONTAINER_FIRST = frozenset("-*+0123456789!?=")


@dataclass(slots=True)
class CodeBlock:
    """A code block the parser skipped (1-based, inclusive line numbers)."""

    start: int
    end: int
    kind: Literal["fence", "indented"]
    info: str = ""
    closed: bool = True


def fence_opening(line: str) -> re.Match[str] | None:
    """The fence that ``line`` opens, or None (```` ``` ```` info has no backtick)."""
    fence = FENCE_RE.match(line)
    if fence is None or (fence["fence"][0] == "`" and "`" in fence["info"]):
        return None
    return fence


def closes_fence(line: str, char: str, size: int) -> bool:
    """Whether ``line`` closes a fence of ``size`` ``char`` characters."""
    body = line_body(line).strip()
    return bool(body) and set(body) == {char} and len(body) >= size


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
    if n and line_body(lines[0]) == FRONT_MATTER_OPEN:
        for j in range(1, n):
            if line_body(lines[j]) in FRONT_MATTER_CLOSE:
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
        ind = leading_spaces(line)
        first = stripped[0]
        if stack and ind < stack[-1]:
            lazy = not prev_blank and not (
                first in _BLOCK_FIRST and BLOCK_START_RE.match(line)
            )
            if not lazy:
                while stack and ind < stack[-1]:
                    stack.pop()
        base = stack[-1] if stack else 0
        fence = fence_opening(line) if first in "`~" else None
        if fence:
            char, size = fence["fence"][0], len(fence["fence"])
            start = i
            kinds[i] = CODE
            i += 1
            closed = False
            while i < n:
                kinds[i] = CODE
                if closes_fence(lines[i], char, size):
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
        if first == "<" and stripped.startswith(COMMENT_OPEN):
            j = i
            rest = stripped[len(COMMENT_OPEN) :]
            while COMMENT_CLOSE not in rest and j + 1 < n:
                j += 1
                rest = lines[j]
            for k in range(i, j + 1):
                kinds[k] = COMMENT
            i = j + 1
            prev_blank = False
            continue
        if first in _CONTAINER_FIRST and (
            LIST_START_RE.match(line) or CONTAINER_RE.match(line)
        ):
            stack.append(ind + 4)
        prev_blank = False
        i += 1
    return kinds, blocks


# --------------------------------------------------------------------------- #
# Inline: code spans, links, images, URLs, snippet includes
# --------------------------------------------------------------------------- #

CODE_SPAN_RE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK_TEXT = r"\[(?P<title>[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*)\]"
# A URL with balanced parentheses and no white space.
_PAREN_URL = r"[^()\s]*(?:\([^()\s]*\)[^()\s]*)*"
_LINK_URL = rf"(?P<url><[^<>]*>|{_PAREN_URL})"
_LINK_TITLE = r"(?:[ \t]+\"[^\"]*\")?"
# A Markdown link `[title](url "optional title")` (balanced brackets/parentheses);
# group `image` is "!" for an image.
LINK_RE = re.compile(rf"(?P<image>!?){_LINK_TEXT}\({_LINK_URL}{_LINK_TITLE}\)")
# The link a resource line starts with.
LINK_START_RE = re.compile(rf"{_LINK_TEXT}\({_LINK_URL}{_LINK_TITLE}\)")
# Raw notes (the importer): a link at the start of an item, maybe in **bold**; links
# and images whose URL may hold spaces, as notes copied from the web have them.
RAW_LINK_AT_START_RE = re.compile(
    rf"(?P<bold>\*\*)?{_LINK_TEXT}\((?P<url>{_PAREN_URL})\)(?P=bold)?"
)
RAW_LINK_RE = re.compile(
    rf"(?<!!){_LINK_TEXT}\((?P<url>[^()\n]*?(?:\([^()\s]*\)[^()\n]*?)*)\)"
)
RAW_IMAGE_RE = re.compile(rf"!\[(?P<alt>[^\]\n]*)\]\((?P<src>{_PAREN_URL})\)")
# `[text]` alone: a link that lost its URL.
BARE_BRACKETS_RE = re.compile(r"\[[^\[\]]+\]")
AUTOLINK_RE = re.compile(r"<(?P<url>https?://[^<>\s]+)>")
# A URL written out in the text (not inside a link, an autolink or a word).
BARE_URL_RE = re.compile(r"(?<![(<\[\"'=/A-Za-z0-9_])https?://[!-~]+")
# Where a bare URL is not bare: inside `](...)` or `<...>`.
LINKED_URL_RE = re.compile(r"\]\([^)]*\)|<https?://[^>]*>")
HTTP_RE = re.compile(r"https?://")
# Any URL scheme (`https:`, `mailto:`, `data:` ...).
SCHEME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
# pymdownx.snippets: `--8<-- "path:section"` and the section marks in the files.
SNIPPET_INCLUDE_RE = re.compile(
    r"^[ \t]*-{1,2}8<-{1,2}[ \t]+(?P<q>[\"'])(?P<path>[^\"':]+)"
    r"(?::(?P<section>[\w-]+))?(?P=q)[ \t]*$"
)
SNIPPET_SECTION_RE = re.compile(
    r"^\s*#\s*-{1,2}8<-{1,2}\s*\[(?P<kind>start|end):(?P<name>[\w-]+)\]"
)
# A figure drawn at build time by `dlnotes.viz` (`@figure("name")`).
FIGURE_RE = re.compile(r"@figure\(\s*[\"']([^\"']+)[\"']")
FIGURE_ASSET_RE = re.compile(r"assets/figures/(.+)\.png")


def is_url(target: str) -> bool:
    """Whether a link target is a URL (has a scheme or is scheme-relative)."""
    return bool(SCHEME_RE.match(target)) or target.startswith("//")


# --------------------------------------------------------------------------- #
# Raw HTML in a note (what may run in the reader's browser)
# --------------------------------------------------------------------------- #

# A start or end tag, possibly over several lines; quoted attribute values may
# hold `>`.
RAW_TAG_RE = re.compile(
    r"<(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9-]*)"
    r"(?P<attrs>(?:[^<>\"']|\"[^\"]*\"|'[^']*')*)>"
)
# Where raw HTML starts: `<tag` / `</tag` (then white space, `/`, `>` or the end
# of the line), `<!DOCTYPE`, `<![CDATA[`, `<?xml`. Not comments `<!--` and not
# autolinks `<https://…>` / `<a@b.c>`.
RAW_HTML_START_RE = re.compile(
    r"<(?=/?[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)|!(?!--)[A-Za-z\[]|\?)"
)
# Tags whose content is a program.
SCRIPT_TAGS = frozenset({"script"})
# An event handler attribute: `onerror=`, `onclick =` ...
EVENT_HANDLER_RE = re.compile(r"(?<![\w:-])(?P<attr>on[a-z]+)\s*=", re.IGNORECASE)
# An attribute that holds a URL, and its value.
URL_ATTR_RE = re.compile(
    r"(?<![\w:-])(?:href|src|action|formaction|xlink:href|data|poster|background)"
    r"\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s>]+))",
    re.IGNORECASE,
)
# `<scheme:…>`: an autolink of any scheme.
ANY_AUTOLINK_RE = re.compile(r"<(?P<url>[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
# `[label]: url` (a link reference definition).
LINK_DEFINITION_RE = re.compile(r" {0,3}\[[^\]]+\]:[ \t]*<?(?P<url>[^\s>]+)")
_URL_JUNK_RE = re.compile(r"[\x00-\x20\x7f]+")
_SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:text/html")


def is_script_url(url: str) -> bool:
    """Whether a link target runs script when followed (``javascript:`` ...).

    Entities are decoded and the white space and control characters browsers
    ignore in a scheme are dropped first (``java&#115;cript:``, ``java\tscript:``).
    """
    cleaned = _URL_JUNK_RE.sub("", html.unescape(url)).lower()
    return cleaned.startswith(_SCRIPT_SCHEMES)


# --------------------------------------------------------------------------- #
# Raw notes that lost their line breaks (headings and bullets run together)
# --------------------------------------------------------------------------- #

# A heading or `*` bullet glued to the text before it; four on a long line mean the
# note lost its line breaks.
RUN_TOGETHER_RE = re.compile(r"(?<=[^\s#A-Za-z0-9/&])\s*#{1,6} \S|\S\s*(?<!\\)\* \S")
GLUED_HEADING_RE = re.compile(r"( *)(#{1,6}) (?=\S)")
GLUED_BULLET_RE = re.compile(r"( *)\*[ \t]+(?=\S|$)")
GLUED_NUMBER_RE = re.compile(r"( {2,}|\t)(\d{1,2})\.[ \t]+(?=\S|$)")
GLUED_IMAGE_RE = re.compile(r"( *)!\[")
# A character that may stand right before `#` inside a word or URL (`C#`, `/#x`).
WORDISH_RE = re.compile(r"[#A-Za-z0-9/&]")


# --------------------------------------------------------------------------- #
# Obsidian forms
#
# The forms an Obsidian vault uses (https://help.obsidian.md/syntax): wikilinks and
# embeds, %%comments%%, callouts, #tags, ==highlight==. dlnotes.kb.obsidian finds
# them outside code; the parser, importer, checker and the dlnotes-obsidian plugin
# read them from this section.
# --------------------------------------------------------------------------- #

# Wikilinks: `[[target#heading|alias]]`; with `!` before it (group `embed`) an embed
# `![[file.png|400]]`, `![[note#heading]]`. Inside a table the `|` is written `\|`.
# Obsidian forbids `[ ] # ^ |` in file names.
WIKILINK_RE = re.compile(
    r"(?P<embed>!?)\[\[(?P<target>[^\[\]#|^\n]*?)"
    r"(?:#(?P<heading>[^\[\]|\n]*?))?"
    r"(?:\\?\|(?P<alias>[^\[\]\n]*?))?\]\]"
)
# `![[file.png]]` (an unclosed `![[file.png]` is matched too, to be reported).
EMBED_RE = re.compile(r"!\[\[(?P<target>[^\]\n]*)\]\]?")
# The size of an image embed: `![[x.png|400]]`, `![[x.png|400x300]]`.
EMBED_SIZE_RE = re.compile(r"(?P<w>\d+)(?:x(?P<h>\d+))?")
# What may stand before an embed that is alone on its line: list and quote markers.
BLOCK_PREFIX_RE = re.compile(rf"[ \t>]*(?:(?:{BULLET}|{ORDERED})[ \t]+)?")
# `%%` opens and closes an Obsidian comment (inline or over several lines).
COMMENT_MARK = "%%"
# A callout: a block quote whose first line is `> [!type] title`; `-` after the
# type folds it, `+` makes it foldable and open. QUOTE_RE: a line of the quote.
CALLOUT_RE = re.compile(
    r"(?P<indent>[ \t]*)>[ \t]?\[!(?P<type>[A-Za-z][\w-]*)\](?P<fold>[-+]?)"
    r"(?:[ \t]+(?P<title>.*?))?[ \t]*\r?$"
)
QUOTE_RE = re.compile(r"(?P<indent>[ \t]*)>[ \t]?(?P<rest>.*?)\r?$")
# Obsidian's callout types (and their aliases) -> Material's admonition types.
CALLOUT_TYPES: dict[str, str] = {
    "note": "note",
    "abstract": "abstract",
    "summary": "abstract",
    "tldr": "abstract",
    "info": "info",
    "todo": "info",
    "tip": "tip",
    "hint": "tip",
    "important": "tip",
    "success": "success",
    "check": "success",
    "done": "success",
    "question": "question",
    "help": "question",
    "faq": "question",
    "warning": "warning",
    "caution": "warning",
    "attention": "warning",
    "failure": "failure",
    "fail": "failure",
    "missing": "failure",
    "danger": "danger",
    "error": "danger",
    "bug": "bug",
    "example": "example",
    "quote": "quote",
    "cite": "quote",
}
# `#tag`: after white space or at the start of the text; letters, digits, `_`, `-`
# and `/` (nested tags), not only digits; question IDs `#Q-x-01` are no tags.
TAG_RE = re.compile(rf"(?:(?<=\s)|^)#(?!Q-{TOPIC}-\d)(?P<tag>[\w/-]*[^\W\d][\w/-]*)")
# Where a `#` is no tag: link targets and URLs, wikilinks, autolinks and HTML tags,
# entities, a trailing `{#id}` attribute list.
NOT_TAG_RE = re.compile(
    r"\[\[[^\]\n]*\]\]|!?\[[^\[\]\n]*\]\([^)\n]*\)(?:\{[^}\n]*\})?|<[^>\n]*>"
    r"|[a-z]+://\S+|&#?\w+;|\{[^{}\n]*\}\s*$"
)
# A line that is an ATX heading (its `#` starts no tag).
HEADING_LINE_RE = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]|$)")


def is_tag_line(line: str) -> bool:
    """A line that starts with a `#tag` (`#tips`): a tag on the site, no heading."""
    return line[:1] == "#" and HEADING_LINE_RE.match(line) is None


# `{#id}` at the end of a heading: its anchor.
HEADING_ID_RE = re.compile(r"\{[^{}]*#(?P<id>[\w-]+)[^{}]*\}\s*$")
# Inline markup a table of contents drops from a heading's text.
EMPHASIS_RE = re.compile(r"(\*\*|__|==|~~)(.+?)\1")
STAR_EMPHASIS_RE = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*")
HTML_TAG_RE = re.compile(r"<[^>]+>")
# `==highlight==` (rendered by pymdownx.mark).
HIGHLIGHT_RE = re.compile(r"==(?=\S)(?P<text>[^=\n]*?\S)==")
# A tag the importer put in a code span (`` `#tag` ``) before tags were rendered.
CODE_TAG_RE = re.compile(r"`#([^`]+)`")
