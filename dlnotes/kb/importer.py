"""``dlnotes import``: turn a raw note into a page of the knowledge base.

Raw notes are written the way the seeds are: Obsidian ``![[...]]`` embeds and
``#tags``, ``- [ ]`` items, 疑问/资料 headings, links copied from CSDN or zhihu with
tracking parameters, 2-space list nesting, CRLF, other encodings, or Markdown that
lost its line breaks (every heading and bullet run together on one line).

The normalised page has

* clean links (:func:`dlnotes.kb.links.clean_url` / ``clean_title``) and bare URLs
  turned into ``<autolinks>``;
* questions in the tracker's form with IDs: list items under a 疑问/问题 heading, list
  items and one-line paragraphs that end with ``？``/``?``, ``- [ ]`` items that are
  not links, and headings that ask a question (the heading's section becomes the
  indented block below the question);
* every list item that starts with a link as a resource ``- [ ] [title](url)``;
* lists re-indented to 4 spaces per level (as MkDocs renders them), ``*``/``+``
  bullets as ``-``, headings and paragraphs at the left margin, ``#tags`` as
  `` `#tag` ``, anchor links pointing at the heading ids MkDocs gives;
* images that do not exist replaced by an HTML comment (the strict build would fail
  on them), local images that exist copied to ``assets/imported/<page>/``.

What it changed and what it could not place is reported. The result is a fixpoint:
importing an imported page gives it back unchanged, and questions keep their IDs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import posixpath
import re
import shutil
import stat
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from dlnotes.fileio import atomic_write
from dlnotes.kb.errors import StudyError
from dlnotes.kb.grammar import (
    ANY_AUTOLINK_RE,
    ATX_HEADING_RE,
    BARE_BRACKETS_RE,
    BARE_URL_RE,
    CALLOUT_RE,
    CHAPTER_TITLE_RE,
    CHECKBOX_RE,
    CODE_SPAN_RE,
    CODE_TAG_RE,
    COMMENT_MARK,
    DONE_DATE_RE,
    DONE_MARK,
    EMBED_RE,
    FENCE_RE,
    FRONT_MATTER,
    GLUED_BULLET_RE,
    GLUED_HEADING_RE,
    GLUED_IMAGE_RE,
    GLUED_NUMBER_RE,
    HEADING_NUMBER_RE,
    HTTP_RE,
    LINKED_URL_RE,
    LIST_ITEM_RE,
    QUESTION_END_RE,
    QUESTION_RE,
    QUESTION_TAIL_RE,
    RAW_HTML_START_RE,
    RAW_IMAGE_RE,
    RAW_LINK_AT_START_RE,
    RAW_LINK_RE,
    RAW_TAG_RE,
    RUN_TOGETHER_RE,
    SCHEME_RE,
    TASK_RE,
    THEMATIC_BREAK_RE,
    WIKILINK_RE,
    WORDISH_RE,
    classify_lines,
    heading_slug,
    is_plan_heading,
    is_question_heading,
    is_script_url,
    line_body,
    next_question_id,
    question_ids,
    split_lines,
)
from dlnotes.kb.links import clean_title, clean_url
from dlnotes.kb.notes import KnowledgeBase, parse_page, read_note
from dlnotes.kb.obsidian import front_matter, scan, without_comments
from dlnotes.kb.wikilinks import ATTACHMENT_FOLDERS, LinkError, Vault

MAX_BYTES = 2 * 1024 * 1024
ENCODINGS = ("utf-8", "gb18030")
PLACEHOLDER = "#Q-@@"
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp"}


class ImportFailure(StudyError):
    """A file that cannot be imported (empty, binary, too large, undecodable)."""


@dataclass
class ImportResult:
    text: str
    encoding: str
    report: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    images: list[tuple[Path, str]] = field(default_factory=list)  # (source, dest uri)
    recovered: bool = False


# --------------------------------------------------------------------------- #
# Bytes -> text
# --------------------------------------------------------------------------- #


def decode_note(raw: bytes, name: str = "file") -> tuple[str, str]:
    """``(text, encoding)``; garbage (empty, binary, huge) raises ImportFailure."""
    if len(raw) > MAX_BYTES:
        raise ImportFailure(_too_large(name, len(raw)))
    boms = (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    )
    text = None
    encoding = ""
    for bom, enc in boms:
        if raw.startswith(bom):
            try:
                text, encoding = raw.decode(enc), enc
            except UnicodeDecodeError as exc:
                raise ImportFailure(
                    f"{name}: invalid {enc} text ({exc.reason})"
                ) from exc
            break
    if text is None:
        if b"\x00" in raw:
            raise ImportFailure(f"{name}: binary data (NUL bytes), not a text note")
        for enc in ENCODINGS:
            try:
                text, encoding = raw.decode(enc), enc
                break
            except UnicodeDecodeError:
                continue
    if text is None:
        raise ImportFailure(
            f"{name}: cannot decode as {', '.join(ENCODINGS)} or UTF-16 with a BOM"
        )
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ImportFailure(f"{name}: empty note")
    controls = sum(
        1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f"
    )
    odd = controls + text.count("\ufffd")
    if "\x00" in text or odd > max(2, len(text) // 200):
        raise ImportFailure(f"{name}: binary data ({odd} control characters), not text")
    return text, encoding


# --------------------------------------------------------------------------- #
# Markdown that lost its line breaks
# --------------------------------------------------------------------------- #


def lost_line_breaks(text: str) -> bool:
    """True when some long line holds several headings/bullets run together."""
    return any(
        len(line) > 300 and len(RUN_TOGETHER_RE.findall(line)) >= 4
        for line in text.split("\n")
    )


def _split_code_spans(line: str) -> list[tuple[bool, str]]:
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in CODE_SPAN_RE.finditer(line):
        if m.start() > pos:
            parts.append((False, line[pos : m.start()]))
        parts.append((True, m.group(0)))
        pos = m.end()
    if pos < len(line):
        parts.append((False, line[pos:]))
    return parts


def recover_line_breaks(line: str) -> list[str]:
    """Split one run-together line back into Markdown lines.

    Breaks go before ATX headings, before ``*`` bullets and numbered items (the
    spaces before a marker become its indentation, as they were before the line
    breaks were lost), and before images that follow a heading. ``*`` that closes an
    emphasis, escaped ``\\*`` and code spans are left alone.
    """
    out: list[str] = []
    current = ""
    stars = 0  # '*' seen in the current line that are not bullets (emphasis)

    def flush(indent: str) -> None:
        nonlocal current, stars
        out.append(current)
        current = indent
        stars = 0

    for is_code, chunk in _split_code_spans(line):
        if is_code:
            current += chunk
            continue
        i = 0
        while i < len(chunk):
            rest = chunk[i:]
            prev = (current + chunk[:i])[-1:] if (current or i) else ""
            m = GLUED_HEADING_RE.match(rest)
            glued = prev and (
                not WORDISH_RE.match(prev) or len(m.group(2) if m else "") > 1
            )
            if m and prev != "#" and glued and current.strip():
                flush("")
                current = m.group(2) + " "
                i += m.end()
                continue
            m = GLUED_BULLET_RE.match(rest)
            if m and prev != "\\" and current.strip() and stars % 2 == 0:
                flush(m.group(1))
                current += "* "
                i += m.end()
                continue
            m = GLUED_NUMBER_RE.match(rest)
            if m and current.strip():
                flush(m.group(1).replace("\t", "    "))
                current += f"{m.group(2)}. "
                i += m.end()
                continue
            m = GLUED_IMAGE_RE.match(rest)
            if m and current.lstrip().startswith("#") and current.strip("# "):
                flush("")
                i += len(m.group(1))
                continue
            if chunk[i] == "*":
                stars += 1
            current += chunk[i]
            i += 1
    out.append(current)
    cleaned = []
    for piece in out:
        indent = len(piece) - len(piece.lstrip(" "))
        body = re.sub(r"[ \t]{2,}", " ", piece.strip())
        if body:
            cleaned.append(" " * indent + body)
    return cleaned


# --------------------------------------------------------------------------- #
# Structure: lists, headings, questions, resources
# --------------------------------------------------------------------------- #


def _width(s: str) -> int:
    return len(s.expandtabs(4))


@dataclass
class _Line:
    text: str
    code: bool = False


def _question_item(indent: str, mark: str, text: str, date: str | None) -> str:
    m = QUESTION_RE.match(text)
    if m:  # already a tracked question: keep its ID (and date)
        text = m["text"]
        tail = f" #{m['id']}"
        date = m["date"] or date
    else:
        tail = f" {PLACEHOLDER}"
    if mark.lower() == "x":
        return f"{indent}- [x] {text}{tail} {DONE_MARK} {date}"
    return f"{indent}- [ ] {text}{tail}"


def normalise_structure(lines: list[str], report: list[str], date: str) -> list[_Line]:
    """Re-indent lists and headings; mark questions and resources."""
    out: list[_Line] = []
    stack: list[int] = []  # source indents of the open list levels
    asks: list[bool] = []  # whether the item open at each level is a question
    fence: tuple[str, int] | None = None
    heading_text = ""
    prev_blank = True
    for raw in lines:
        if fence is not None:
            out.append(_Line(raw, code=True))
            body = raw.strip()
            if body and set(body) == {fence[0]} and len(body) >= fence[1]:
                fence = None
            continue
        f = FENCE_RE.match(raw)
        if f:
            fence = (f["fence"][0], len(f["fence"]))
            level_indent = " " * (4 * len(stack)) if stack else ""
            out.append(_Line(level_indent + raw.lstrip(), code=True))
            continue
        if not raw.strip():
            out.append(_Line(""))
            prev_blank = True
            continue
        h = ATX_HEADING_RE.match(raw)
        if h:
            stack.clear()
            heading_text = h["text"]
            out.append(_Line(f"{h['level']} {h['text']}"))
            prev_blank = False
            continue
        item = LIST_ITEM_RE.match(raw)
        if item and not THEMATIC_BREAK_RE.match(raw):
            src = _width(item["indent"])
            while stack and src < stack[-1]:
                stack.pop()
            if not stack or src > stack[-1]:
                stack.append(src)
            level = len(stack) - 1
            del asks[level:]
            indent = " " * (4 * level)
            marker = "-" if item["marker"] in "-*+" else item["marker"]
            text, asked = _list_item(
                indent,
                marker,
                item["body"],
                level,
                heading_text,
                report,
                date,
                in_answer=any(asks),
            )
            asks.append(asked)
            out.append(_Line(text))
            prev_blank = False
            continue
        if raw.lstrip().startswith(">") and _width(raw) - _width(raw.lstrip()) < 4:
            stack.clear()  # a quote or callout at the margin ends the list
            asks.clear()
        ind = _width(raw) - _width(raw.lstrip())
        if stack and (not prev_blank or ind > 0):
            # continuation of the current list item
            while len(stack) > 1 and ind < stack[-1] and prev_blank:
                stack.pop()
            out.append(_Line(" " * (4 * len(stack)) + raw.strip()))
            prev_blank = False
            continue
        stack.clear()
        text = raw.strip() if ind <= 3 else raw.rstrip()
        if (
            ind <= 3
            and prev_blank
            and QUESTION_END_RE.search(text)
            and len(text) <= 120
            and not text.startswith((">", "|", "<", "!["))
        ):
            out.append(_Line(_question_item("", " ", text, date)))
            out.append(_Line(""))
            prev_blank = True
            continue
        out.append(_Line(text))
        prev_blank = False
    return out


def _list_item(
    indent: str,
    marker: str,
    body: str,
    level: int,
    heading: str,
    report: list[str],
    date: str,
    *,
    in_answer: bool = False,
) -> tuple[str, bool]:
    """The normalised item and whether it is a question.

    Items nested under a question (``in_answer``) are its draft answer: a guess
    that ends with ``？`` stays a list item of the answer, not a new question.
    """
    body = body.strip()
    box = CHECKBOX_RE.match(body)
    mark = box["mark"] if box else None
    content = box["rest"] if box else body
    if BARE_BRACKETS_RE.fullmatch(content):
        report.append(f"link without a URL, not placed (kept as written): {content}")
        return f"{indent}{marker} {content}", False
    link = RAW_LINK_AT_START_RE.match(content)
    if link:
        url = link["url"]
        if HTTP_RE.match(url):
            content = content[: link.start()] + content[link.start() :].replace(
                link.group(0), f"[{link['title']}]({url})", 1
            )
            return f"{indent}{marker} [{mark or ' '}] {content}", False
        return f"{indent}{marker} {content}", False
    if in_answer and QUESTION_RE.match(content) is None:
        if mark is not None:
            report.append(f"checkbox of a draft answer dropped: {content[:40]}")
        return f"{indent}{marker} {content}", False
    question_like = (
        QUESTION_RE.match(content) is not None
        or bool(QUESTION_END_RE.search(content))
        or (
            mark is not None
            and not is_plan_heading(heading)
            and not CHAPTER_TITLE_RE.match(content)
        )
        or (level == 0 and is_question_heading(heading))
    )
    if question_like and content:
        if marker != "-":
            report.append(f"numbered item made a bullet question: {content[:40]}")
        return _question_item(indent, mark or " ", content, date), True
    if mark is not None:
        return f"{indent}{marker} [{mark}] {content}", False
    return f"{indent}{marker} {content}", False


def questions_from_headings(lines: list[_Line], date: str) -> list[_Line]:
    """A heading that asks a question becomes a question; its section its block."""
    out: list[_Line] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        h = None if line.code else ATX_HEADING_RE.match(line.text)
        if h and QUESTION_END_RE.search(h["text"]) and len(h["text"]) <= 120:
            level = len(h["level"])
            text = HEADING_NUMBER_RE.sub("", h["text"])
            out.append(_Line(_question_item("", " ", text, date)))
            j = i + 1
            body: list[_Line] = []
            while j < len(lines):
                nxt = lines[j]
                hh = None if nxt.code else ATX_HEADING_RE.match(nxt.text)
                if hh and len(hh["level"]) <= level:
                    break
                body.append(nxt)
                j += 1
            while body and not body[0].text.strip():
                body.pop(0)
            while body and not body[-1].text.strip():
                body.pop()
            if body:
                out.append(_Line(""))
                for b in body:
                    text_ = b.text
                    hb = None if b.code else ATX_HEADING_RE.match(text_)
                    if hb:  # sub-headings cannot sit inside a list item
                        text_ = f"**{hb['text']}**"
                    out.append(_Line("    " + text_ if text_.strip() else "", b.code))
            out.append(_Line(""))
            i = j
            continue
        out.append(line)
        i += 1
    return out


def _space_blocks(lines: list[_Line]) -> list[_Line]:
    """Blank lines around headings and before a list that follows a paragraph."""
    out: list[_Line] = []
    in_list = False
    for line in lines:
        text = line.text
        prev = out[-1] if out else None
        prev_text = prev.text if prev and not prev.code else ""
        is_heading = not line.code and bool(ATX_HEADING_RE.match(text))
        is_item = not line.code and bool(LIST_ITEM_RE.match(text))
        starts_list = is_item and not text.startswith(" ") and not in_list
        if prev_text.strip() and (is_heading or starts_list):
            out.append(_Line(""))
        if ATX_HEADING_RE.match(prev_text) and text.strip():
            out.append(_Line(""))
        out.append(line)
        if is_item:
            in_list = True
        elif not text.strip() or line.code:
            pass
        elif not text.startswith(" "):
            in_list = False
    return out


# --------------------------------------------------------------------------- #
# Inline: links, images, embeds, bare URLs, tags
# --------------------------------------------------------------------------- #


@dataclass
class _Inline:
    source_dir: Path | None
    page: str
    slugs: dict[str, str]
    report: list[str]
    images: list[tuple[Path, str]]
    line_no: int = 0
    vault: Vault | None = None
    attachments: Path | None = None  # a folder the user allows images from
    keep_html: bool = False  # keep raw HTML and script links as written

    def note(self, message: str) -> str:
        """Report ``message`` for the current line; returns "" to chain in a sub."""
        self.report.append(f"line {self.line_no}: {message}")
        return ""


def _comment(text: str) -> str:
    return f"<!-- dlnotes import: {text.replace('--', '- -')} -->"


def _local_file(ctx: _Inline, target: str) -> Path | None:
    """The file ``target`` names, if it lies inside the note's box.

    The box is the note's own folder (and below), or the ``--attachments`` folder
    the user named. A path that leads out of it (``../``, an absolute path, a
    symlink pointing elsewhere) is refused and reported: importing a note never
    copies a file the note's author could not see beside it.
    """
    if ctx.source_dir is None:
        return None
    target = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not target:
        return None
    boxes = [ctx.source_dir] + ([ctx.attachments] if ctx.attachments else [])
    outside = False
    for box in boxes:
        real_box = box.resolve()
        path = (box / target).resolve()
        if path.is_relative_to(real_box):
            if path.is_file():
                return path
        elif path.is_file():
            outside = True
    if outside:
        ctx.note(
            f"{target} lies outside the note's folder: not copied "
            "(--attachments DIR allows a folder)"
        )
    return None


def _attachment(ctx: _Inline, target: str) -> Path | None:
    """A file an embed names: beside the note or in one of its attachment folders."""
    for folder in ATTACHMENT_FOLDERS:
        found = _local_file(ctx, f"{folder}/{target}" if folder else target)
        if found is not None:
            return found
    return None


def _copy_image(ctx: _Inline, found: Path) -> str:
    """Copy an image of the note into ``assets/imported/<page>/``; its docs path."""
    stem = Path(ctx.page).with_suffix("").as_posix().replace("/", "-")
    uri = f"assets/imported/{stem}/{found.name}"
    ctx.images.append((found, uri))
    return uri


def _wikilink(ctx: _Inline, m: re.Match[str]) -> str:
    """Keep a wikilink or embed that resolves by Obsidian's rules, as written.

    An image the note embeds is copied into the docs folder and embedded by its
    path there; a link that resolves only by a page title (a rule of the site,
    not of Obsidian) is rewritten to the page's path so that Obsidian follows it
    too; a link to nothing is kept as its text and an embed of nothing as a
    comment, and both are reported.
    """
    raw, target = m.group(0), m["target"].strip()
    heading, alias = (m["heading"] or "").strip(), (m["alias"] or "").strip()
    bar = "\\|" if "\\|" in raw else "|"
    if m["embed"]:
        found = _attachment(ctx, target) if target else None
        if found is not None and found.suffix.lower() in IMAGE_EXTS:
            uri = _copy_image(ctx, found)
            ctx.note(f"image {raw} copied to docs/{uri}")
            return f"![[{uri}{bar + alias if alias else ''}]]"
    if ctx.vault is not None:
        try:
            ctx.vault.resolve(target, ctx.page, heading, titles=False)
            return raw
        except LinkError as exc:
            reason = str(exc)
        try:
            hit = ctx.vault.resolve(target, ctx.page, heading)
        except LinkError:
            pass
        else:  # by its title: write the path, which Obsidian resolves too
            path = hit.path.removesuffix(".md")
            shown = alias or target
            new = (
                f"{m['embed']}[[{path}{'#' + heading if heading else ''}{bar}{shown}]]"
            )
            ctx.note(f"{raw} names a page by its title: written {new}")
            return new
    else:
        reason = "no docs folder to resolve it in"
    if m["embed"]:
        what = "image" if Path(target).suffix.lower() in IMAGE_EXTS else "embed"
        ctx.note(f"missing {what} {raw} ({reason}): left as a comment")
        return _comment(f"missing {what} {target}")
    shown = alias or (
        f"{target} > {heading}" if target and heading else target or heading
    )
    ctx.note(f"wikilink {raw} does not resolve ({reason}): kept as text")
    return shown


def _image(ctx: _Inline, m: re.Match[str]) -> str:
    alt, src = m["alt"], m["src"].strip("<>")
    if HTTP_RE.match(src):
        ctx.note(
            f"remote image {src} turned into a link (the site loads nothing remote)"
        )
        return f"[图片：{alt or src}]({clean_url(src)})"
    if src.startswith("data:"):
        return m.group(0)
    found = _local_file(ctx, src)
    if found is not None and found.suffix.lower() in IMAGE_EXTS:
        uri = _copy_image(ctx, found)
        rel = "../" * ctx.page.count("/") + uri
        ctx.note(f"image {src} copied to docs/{uri}")
        return f"![{alt}]({rel})"
    ctx.note(f"missing image {src} (left as a comment)")
    return _comment(f"missing image {src}")


def _link(ctx: _Inline, m: re.Match[str]) -> str:
    title, url = m["title"], m["url"].strip()
    if url.startswith("#"):
        slug = heading_slug(unquote(url[1:]))
        if slug in ctx.slugs.values():
            return f"[{title}](#{slug})"
        ctx.note(f"link to a missing heading {url}: kept as text")
        return title
    if HTTP_RE.match(url):
        cleaned, new_title = clean_url(url), clean_title(title)
        return f"[{new_title}]({cleaned})"
    if is_script_url(url) and not ctx.keep_html:
        ctx.note(f"script link {url[:40]} kept as its text (--keep-html keeps it)")
        return title
    if SCHEME_RE.match(url):
        return m.group(0)
    if ctx.page and url.endswith(".md") and _local_file(ctx, url) is None:
        ctx.note(f"link to a local page {unquote(url)}: kept as text")
        return title
    ctx.note(f"link to a local file {unquote(url)} not placed: kept as text")
    return title


# Tags without attributes that only format text: kept as written.
FORMATTING_TAGS = frozenset(
    {"br", "sub", "sup", "kbd", "mark", "u", "b", "i", "em", "strong", "del", "s"}
)


def escape_raw_html(chunk: str, ctx: _Inline) -> str:
    """``chunk`` with its raw HTML shown as text (``<`` written ``&lt;``).

    HTML comments, autolinks and bare formatting tags (``<br>``, ``<sub>`` ...)
    stay; so does everything with ``--keep-html`` (the site's sanitiser still
    removes what would run script).
    """
    at: dict[int, str] = {}  # position of each `<` to escape -> what it opens
    for m in RAW_HTML_START_RE.finditer(chunk):
        tag = RAW_TAG_RE.match(chunk, m.start())
        bare = tag is not None and not tag["attrs"].strip(" /")
        if bare and tag is not None and tag["name"].lower() in FORMATTING_TAGS:
            continue
        at[m.start()] = tag.group(0)[:20] if tag else chunk[m.start() : m.start() + 8]
    for m in ANY_AUTOLINK_RE.finditer(chunk):
        if is_script_url(m["url"]):
            at[m.start()] = m.group(0)[:20]
    if not at:
        return chunk
    ctx.note(
        f"raw HTML shown as text: {', '.join(list(at.values())[:3])} "
        "(--keep-html keeps it)"
    )
    return "".join("&lt;" if i in at else ch for i, ch in enumerate(chunk))


def transform_inline(text: str, ctx: _Inline) -> str:
    """Clean the links, images, embeds, bare URLs and tags of one line."""
    parts = []
    for is_code, chunk in _split_code_spans(text):
        if is_code or chunk.lstrip().startswith("<!--"):
            parts.append(chunk)
            continue
        if "[[" in chunk:
            chunk = EMBED_RE.sub(  # an embed left unclosed: `![[x.png]`
                lambda m: (
                    m.group(0)
                    if m.group(0).endswith("]]")
                    else ctx.note(f"missing image {m.group(0)} (unclosed embed)")
                    + _comment(f"missing image {m['target']}")
                ),
                chunk,
            )
            chunk = WIKILINK_RE.sub(lambda m: _wikilink(ctx, m), chunk)
        if "<" in chunk and not ctx.keep_html:
            chunk = escape_raw_html(chunk, ctx)
        chunk = RAW_IMAGE_RE.sub(lambda m: _image(ctx, m), chunk)
        chunk = RAW_LINK_RE.sub(lambda m: _link(ctx, m), chunk)
        chunk = _bare_urls(chunk)
        parts.append(chunk)
    return "".join(parts)


def _bare_urls(chunk: str) -> str:
    out = []
    pos = 0
    # skip URLs inside Markdown links and autolinks
    protected = [(m.start(), m.end()) for m in LINKED_URL_RE.finditer(chunk)]
    for m in BARE_URL_RE.finditer(chunk):
        if any(a <= m.start() < b for a, b in protected):
            continue
        url = m.group(0).rstrip(".,;:!?")
        out.append(chunk[pos : m.start()])
        out.append(f"<{clean_url(url)}>")
        pos = m.start() + len(url)
    out.append(chunk[pos:])
    return "".join(out)


# --------------------------------------------------------------------------- #
# The whole note
# --------------------------------------------------------------------------- #


def import_text(
    text: str,
    *,
    page: str,
    topic: str,
    used_ids: set[str],
    date: str,
    source_dir: Path | None = None,
    encoding: str = "utf-8",
    vault: Vault | None = None,
    previous: str | None = None,
    attachments: Path | None = None,
    keep_html: bool = False,
) -> ImportResult:
    """Normalise the raw note ``text`` into the page ``page`` (docs-relative).

    ``vault``: the docs folder the wikilinks resolve in; ``previous``: the text of
    the page an earlier import of this note made, whose tracker state (question IDs,
    statuses, dates, answers, review state; resource and chapter statuses) the new
    page keeps.
    """
    report: list[str] = []
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    front, text = split_front_matter(text)
    text = _drop_comments(text, report, front.count("\n"))
    text = text.replace("\t", "    ") if "```" not in text else text
    raw_lines = text.split("\n")
    recovered = False
    if lost_line_breaks(text):
        fixed: list[str] = []
        for line in raw_lines:
            if len(line) > 300 and len(RUN_TOGETHER_RE.findall(line)) >= 4:
                fixed.extend(recover_line_breaks(line))
                recovered = True
            else:
                fixed.append(line)
        raw_lines = fixed
        report.append("recovered the line breaks the note had lost")
    lines = [raw.rstrip() for raw in raw_lines]
    structured = _space_blocks(
        questions_from_headings(normalise_structure(lines, report, date), date)
    )
    # collapse blank runs (outside code) and trim
    collapsed: list[_Line] = []
    for item in structured:
        if not item.code and not item.text.strip():
            if collapsed and not collapsed[-1].code and not collapsed[-1].text.strip():
                continue
            collapsed.append(_Line(""))
        else:
            collapsed.append(item)
    while collapsed and not collapsed[0].text.strip():
        collapsed.pop(0)
    while collapsed and not collapsed[-1].text.strip() and not collapsed[-1].code:
        collapsed.pop()
    slugs = {
        ln.text: heading_slug(CODE_TAG_RE.sub(r"#\1", m["text"]))
        for ln in collapsed
        if not ln.code and (m := ATX_HEADING_RE.match(ln.text))
    }
    images: list[tuple[Path, str]] = []
    if vault is not None:  # the new page itself, for `[[#heading]]`
        draft = "".join(f"{x.text}\n" for x in collapsed)
        vault = vault.with_page(page, draft)
    ctx = _Inline(
        source_dir,
        page,
        slugs,
        report,
        images,
        vault=vault,
        attachments=attachments,
        keep_html=keep_html,
    )
    out_lines: list[str] = []
    for n, item in enumerate(collapsed, 1):
        ctx.line_no = n
        out_lines.append(item.text if item.code else transform_inline(item.text, ctx))
    codes = [item.code for item in collapsed]
    out_lines = keep_line_breaks(out_lines, codes)
    # question IDs: keep existing ones unless taken elsewhere, then number the new
    ids: list[str] = []
    taken = set(used_ids)
    if previous is not None:
        out_lines = _keep_tracker_state(out_lines, previous, page, taken, report)
    for n, line in enumerate(out_lines):
        m = QUESTION_TAIL_RE.search(line)
        if m and "- [" in line:
            if m[1] in taken:
                new = next_question_id(m[1].split("-")[1], taken)
                report.append(f"question ID {m[1]} is already used: renumbered {new}")
                out_lines[n] = line[: m.start(1)] + new + line[m.end(1) :]
                taken.add(new)
                ids.append(new)
            else:
                taken.add(m[1])
                ids.append(m[1])
    fresh = question_ids(topic, taken)
    for n, line in enumerate(out_lines):
        if PLACEHOLDER in line:
            qid = next(fresh)
            taken.add(qid)
            ids.append(qid)
            out_lines[n] = line.replace(PLACEHOLDER, f"#{qid}")
    body = "\n".join(out_lines) + "\n"
    result = ImportResult(front + body, encoding, report, ids, images, recovered)
    return result


def split_front_matter(text: str) -> tuple[str, str]:
    """``(front matter, rest)``: the YAML block at the top of a note, kept as is."""
    lines = split_lines(text)
    kinds, _ = classify_lines(lines)
    n = 0
    while n < len(kinds) and kinds[n] == FRONT_MATTER:
        n += 1
    return "".join(lines[:n]), "".join(lines[n:])


def _drop_comments(text: str, report: list[str], offset: int = 0) -> str:
    """The note without its Obsidian ``%%comments%%`` (each one reported)."""
    if COMMENT_MARK not in text:
        return text
    found = scan(text)
    if not found.hidden:
        return text
    starts = sorted(
        {i + 1 + offset for i, ranges in found.hidden.items() for a, _ in ranges}
    )
    opened = [n for n in starts if n == 1 or n - 1 not in starts]
    report.append(
        f"dropped {len(opened)} Obsidian comment(s) (%%…%%, never published) "
        f"at line(s) {', '.join(map(str, opened))}"
    )
    if found.unclosed_comment:
        report.append(
            f"the comment opened at line {found.unclosed_comment + offset} is never "
            "closed: the rest of the note was dropped with it"
        )
    kept = without_comments(found)
    out = [
        line
        for i, line in enumerate(kept)
        if not (i in found.hidden and not line_body(line).strip())
    ]
    return "".join(out)


def keep_line_breaks(lines: list[str], code: list[bool]) -> list[str]:
    """A hard break (two trailing spaces) where a paragraph line goes on below.

    Obsidian shows each line of a paragraph on its own line; Markdown joins them
    into one. Lines of code, headings, tables, tracked items and the lines before
    a new block keep their ending.
    """
    out = list(lines)
    for i in range(len(out) - 1):
        cur, nxt = out[i], out[i + 1]
        if code[i] or code[i + 1] or not cur.strip() or not nxt.strip():
            continue
        if cur.endswith(("  ", "\\", "<br>", "<br/>", "<br />")):
            continue
        body = cur.lstrip(" >")
        if (
            ATX_HEADING_RE.match(body)
            or body.startswith(("|", "<", "$$", "!!!", "???"))
            or TASK_RE.match(cur)
            or PLACEHOLDER in cur
            or CALLOUT_RE.match(cur)
            or THEMATIC_BREAK_RE.match(cur)
        ):
            continue
        quoted = cur.lstrip().startswith(">")
        rest = nxt.lstrip()
        if rest.startswith(">") != quoted:
            continue
        rest = rest.lstrip(" >") if quoted else rest
        if not rest or _starts_block(rest):
            continue
        out[i] = cur.rstrip() + "  "
    return out


def _starts_block(text: str) -> bool:
    return bool(
        LIST_ITEM_RE.match(text)
        or ATX_HEADING_RE.match(text)
        or FENCE_RE.match(text)
        or THEMATIC_BREAK_RE.match(text)
        or text.startswith(("|", "<", "$$", "!!!", "???", "[!"))
    )


def canonical_hash(text: str, page: str) -> str:
    """A hash of a page without its tracker state (statuses, dates, answers).

    Two versions of a page that differ only in what the tracker writes hash alike:
    that is how a re-import tells a page it may update from one the user edited.
    """
    _, body = split_front_matter(text)
    parsed = parse_page(body, page)
    lines = [line_body(line) for line in parsed.lines]
    drop: set[int] = set()
    for q in parsed.questions:
        lines[q.line - 1] = f"{q.text} #{q.id}"
        drop.update(range(q.line, q.end_line))
    for n in [r.line for r in parsed.resources] + [c.line for c in parsed.chapters]:
        m = TASK_RE.match(lines[n - 1])
        if m is not None:
            rest = DONE_DATE_RE.sub("", m["rest"])
            lines[n - 1] = f"{m['indent']}{m['bullet']} [ ] {rest}"
    # blank lines do not count: the tracker adds some around an answer
    kept = [x.rstrip() for i, x in enumerate(lines) if i not in drop and x.strip()]
    return hashlib.sha256("\n".join(kept).strip().encode("utf-8")).hexdigest()[:16]


def _keep_tracker_state(
    lines: list[str], previous: str, page: str, taken: set[str], report: list[str]
) -> list[str]:
    """Carry the tracker state of the page's previous import over to the new text."""
    _, old_body = split_front_matter(previous)
    old = parse_page(old_body, page)
    by_text = {_norm(q.text): q for q in old.questions}
    by_url = {r.url: r for r in old.resources}
    by_chapter = {(c.plan, _norm(c.text)): c for c in old.chapters}
    new = parse_page("\n".join(lines) + "\n", page)
    out = list(lines)
    inserts: dict[int, list[str]] = {}
    kept = 0
    for n, line in enumerate(lines):
        if PLACEHOLDER not in line:
            continue
        m = TASK_RE.match(line)
        text = line.split(f" {PLACEHOLDER}")[0]
        text = m["rest"].split(f" {PLACEHOLDER}")[0] if m else text
        q = by_text.pop(_norm(text), None)
        if q is None or q.id in taken:
            continue
        indent = line[: len(line) - len(line.lstrip())]
        old_line = line_body(old.lines[q.line - 1])
        out[n] = indent + old_line.lstrip()  # its ID is taken by the caller
        kept += 1
        has_answer = n + 1 < len(lines) and any(
            x.strip() and x.startswith(indent + "    ") for x in lines[n + 1 : n + 3]
        )
        if q.answer and not has_answer:
            inserts[n] = [""] + [
                f"{indent}    {a}" if a.strip() else "" for a in q.answer.split("\n")
            ]
    for r in new.resources:
        was = by_url.get(r.url)
        if was is not None and was.mark != r.mark:
            out[r.line - 1] = line_body(old.lines[was.line - 1])
    for c in new.chapters:
        was_c = by_chapter.get((c.plan, _norm(c.text)))
        if was_c is not None and was_c.mark != c.mark:
            body = out[c.line - 1]
            m = TASK_RE.match(body)
            if m is not None:
                at = m.start("mark")
                out[c.line - 1] = body[:at] + was_c.mark + body[at + 1 :]
    for q in by_text.values():
        report.append(
            f"question {q.id} ({q.text[:30]}) is no longer in the note: "
            "dropped with its state"
        )
    if inserts:
        merged: list[str] = []
        for n, line in enumerate(out):
            merged.append(line)
            merged.extend(inserts.get(n, []))
        out = merged
    if kept:
        report.append(f"kept the tracker state of {kept} question(s) of docs/{page}")
    return out


def _norm(text: str) -> str:
    return " ".join(text.split())


# Pages the site generates from the notes (the defaults of the dlnotes and
# dlnotes-obsidian plugins): an imported page there would hide or break them.
GENERATED_PAGES = frozenset({"progress.md", "review.md", "tags.md"})


def read_source(source: Path) -> bytes:
    """The bytes of a raw note; anything but a regular file of sane size is refused.

    The file is opened without blocking and checked (``fstat``) before a byte is
    read: a FIFO, a device such as ``/dev/zero`` or a socket gets one clear line,
    never a hang or an out-of-memory, and a large file is refused by its size.
    """
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except IsADirectoryError:
        raise ImportFailure(f"{source}: is a folder, not a note") from None
    except OSError as exc:
        raise ImportFailure(f"{source}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ImportFailure(f"{source}: is a folder, not a note")
        if not stat.S_ISREG(st.st_mode):
            raise ImportFailure(
                f"{source}: not a regular file (a pipe, device or socket); nothing read"
            )
        if st.st_size > MAX_BYTES:
            raise ImportFailure(_too_large(source, st.st_size))
        raw = f.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:  # it grew while being read
        raise ImportFailure(_too_large(source, len(raw)))
    return raw


def _too_large(source: Path | str, size: int) -> str:
    return (
        f"{source}: too large for a note ({size / 2**20:.1f} MiB > "
        f"{MAX_BYTES // 2**20} MiB)"
    )


def page_in_docs(
    docs_dir: Path, page: str, option: str, *, folder: bool = False
) -> str:
    """``page`` as a docs-relative path that stays inside ``docs_dir``.

    Accepts ``cnn/x.md``, ``docs/cnn/x.md`` and a path to a file in docs; refuses
    absolute paths elsewhere, ``..`` that leads out, and the pages the site
    generates. ``folder``: ``page`` names a folder (``--dest``).
    """
    raw = page.replace("\\", "/")
    if os.path.isabs(raw):
        docs = os.path.abspath(docs_dir)
        inside = os.path.normpath(raw)
        if not inside.startswith(docs + os.sep):
            raise StudyError(f"{option} {page}: not inside the docs folder {docs_dir}")
        raw = os.path.relpath(inside, docs)
    rel = posixpath.normpath(raw.removeprefix("docs/"))
    if rel in ("", ".") and folder:
        return "."
    if rel in ("", ".", "..") or rel.startswith("../"):
        raise StudyError(f"{option} {page}: not inside the docs folder {docs_dir}")
    if folder:
        return rel
    if not rel.endswith(".md"):
        rel += ".md"
    if rel in GENERATED_PAGES:
        raise StudyError(
            f"{option} {page}: docs/{rel} is generated from the notes; "
            "import to another page"
        )
    return rel


def run_import(
    docs_dir: Path,
    files: list[Path],
    *,
    write: bool = False,
    force: bool = False,
    to: str | None = None,
    dest: str = "inbox",
    topic: str | None = None,
    attachments: Path | None = None,
    keep_html: bool = False,
    out: Callable[[str], None] | None = None,
    err: Callable[[str], None] | None = None,
) -> int:
    """Import ``files`` (dry run unless ``write``). Returns the exit code.

    ``to`` / ``dest`` name a page / folder inside ``docs_dir`` (never a page the
    site generates); images are copied from the note's folder or ``attachments``.
    """
    say = out or (lambda s: print(s))
    warn = err or (lambda s: print(s, file=sys.stderr))
    if to and len(files) > 1:
        raise StudyError("--to takes one FILE; use --dest DIR for several")
    if attachments is not None and not attachments.is_dir():
        raise StudyError(f"--attachments {attachments}: not a folder")
    failed = 0
    for source in files:
        try:
            raw = read_source(source)
            text, encoding = decode_note(raw, str(source))
        except ImportFailure as exc:
            warn(f"dlnotes import: error: {exc}")
            failed += 1
            continue
        origin = str(source.resolve())
        kb = KnowledgeBase.scan(docs_dir)
        made = _page_made_from(kb, origin)  # re-import: the page it made before
        if to:
            page = page_in_docs(docs_dir, to, "--to")
        elif made:
            page = made
        else:
            folder = page_in_docs(docs_dir, dest, "--dest", folder=True)
            page = page_in_docs(docs_dir, f"{folder}/{_page_name(source)}", "--dest")
        target = docs_dir / page
        previous = _previous_import(target, origin)
        chosen = topic or _topic_for(page)
        used = {q.id for q in kb.questions if q.page != page}
        mtime = dt.date.fromtimestamp(source.stat().st_mtime).isoformat()
        try:
            result = import_text(
                text,
                page=page,
                topic=chosen,
                used_ids=used,
                date=mtime,
                source_dir=source.resolve().parent,
                encoding=encoding,
                vault=Vault.scan(docs_dir),
                previous=previous,
                attachments=attachments,
                keep_html=keep_html,
            )
        except ValueError as exc:
            raise StudyError(str(exc)) from exc
        result.text = with_origin(result.text, origin, page)
        edited = previous is not None and _edited_since_import(previous, page)
        header = f"dlnotes import: {source} -> docs/{page}"
        notes = [
            f"  encoding: {result.encoding}",
            f"  questions: {len(result.questions)}"
            + (f" ({', '.join(result.questions)})" if result.questions else ""),
            *(f"  {line}" for line in result.report),
        ]
        exists = target.exists()
        same = exists and target.read_bytes() == result.text.encode("utf-8")
        if not write:
            if len(files) > 1:
                say(f"==> docs/{page} <==")
            say(result.text.rstrip("\n"))
            warn(header + " (dry run; --write writes it)")
            for line in notes:
                warn(line)
            if exists and not same and previous is not None and not edited:
                warn(f"  docs/{page} was made from this note: --write updates it")
            elif exists and not same:
                warn(f"  docs/{page} exists: --write --force would overwrite it")
            continue
        if same:
            warn(f"{header}: up to date, nothing to do")
            continue
        if exists and not force and (previous is None or edited):
            why = (
                "was edited after it was imported (more than its tracker state); "
                "--force imports the note again, keeping the tracker state"
                if edited
                else "exists; --force overwrites it"
            )
            warn(f"dlnotes import: error: docs/{page} {why}")
            failed += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        for src, uri in result.images:
            dst = docs_dir / uri
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                shutil.copyfile(src, dst)
        atomic_write(target, result.text.encode("utf-8"))
        warn(f"{header}: written")
        for line in notes:
            warn(line)
        warn(
            f"  add it to the nav of mkdocs.yml: - {_title(result.text, page)}: {page}"
        )
    return 2 if failed else 0


# Front matter of an imported page: the note it was made from, and the hash of the
# page as imported without its tracker state (see canonical_hash).
IMPORTED_FROM = "imported_from"
IMPORTED_HASH = "imported_sha"


def with_origin(text: str, origin: str, page: str) -> str:
    """``text`` with front matter naming the note it came from (and its hash)."""
    front, body = split_front_matter(text)
    keys = (f"{IMPORTED_FROM}:", f"{IMPORTED_HASH}:")
    mine = [
        f"{IMPORTED_FROM}: {json.dumps(origin, ensure_ascii=False)}\n",
        f"{IMPORTED_HASH}: {canonical_hash(body, page)}\n",
    ]
    if not front:
        return "---\n" + "".join(mine) + "---\n\n" + body
    lines = [line for line in split_lines(front) if not line.startswith(keys)]
    return "".join(lines[:-1] + mine + lines[-1:]) + body


def _page_made_from(kb: KnowledgeBase, origin: str) -> str | None:
    for parsed in kb.pages:
        if parsed.lines and line_body(parsed.lines[0]) == "---":
            meta = front_matter("".join(parsed.lines))
            if meta.get(IMPORTED_FROM) == origin:
                return parsed.page
    return None


def _previous_import(target: Path, origin: str) -> str | None:
    """The page's text when an earlier import of ``origin`` made it."""
    if not target.is_file():
        return None
    text = read_note(target)
    return text if front_matter(text).get(IMPORTED_FROM) == origin else None


def _edited_since_import(text: str, page: str) -> bool:
    """Whether the page changed since it was imported, beyond its tracker state."""
    recorded = front_matter(text).get(IMPORTED_HASH)
    return str(recorded) != canonical_hash(text, page)


def _page_name(source: Path) -> str:
    stem = re.sub(r"[^\w\-]+", "-", source.stem, flags=re.UNICODE).strip("-").lower()
    return f"{stem or 'note'}.md"


def _topic_for(page: str) -> str:
    folder = page.split("/")[0] if "/" in page else Path(page).stem
    topic = re.sub(r"[^a-z0-9]", "", folder.lower())
    if not topic or not topic[0].isalpha():
        topic = "note" + topic
    return topic


def _title(text: str, page: str) -> str:
    for line in text.split("\n"):
        m = ATX_HEADING_RE.match(line)
        if m and m["level"] == "#":
            return m["text"]
    return Path(page).stem
