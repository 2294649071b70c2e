"""Render the Obsidian forms of a note as the Markdown MkDocs builds.

Used by the ``dlnotes-obsidian`` MkDocs plugin (:mod:`dlnotes.site.obsidian`) on
every page; pure (no MkDocs), so the tests and ``dlnotes check`` run it directly.
The forms are those of :mod:`dlnotes.kb.obsidian`:

* ``[[page#heading|alias]]`` becomes a relative Markdown link ``[alias](../x.md#h)``
  (MkDocs then checks it like any link); one that does not resolve stays as its text
  and is reported as a :class:`Problem` with its line;
* ``![[image.png|400]]`` becomes ``![image](../img/image.png){ width="400" }``;
  ``![[note]]`` and ``![[note#heading]]`` insert the note (or the section) in a
  ``dl-embed`` block, its links rewritten for the page that embeds it, its headings
  shown in bold (so that they do not enter the table of contents twice); an embed
  that embeds itself again is reported and left as a link;
* a callout ``> [!tip]- title`` becomes an admonition ``??? tip "title"`` (``!!!``
  when it does not fold, ``???+`` when it folds and is open), nested callouts too;
* ``%%comments%%`` are removed (whole lines inside one are dropped);
* ``#tags`` become links to the tag index page and are returned, for the page's
  tags;
* ``==highlight==`` is left to ``pymdownx.mark``.

Code (fences, indented code, inline code) and HTML comments are never changed. The
output keeps one line per input line except where comment lines are dropped and
notes are embedded, and every problem carries the line of the source.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from dlnotes.kb.grammar import (
    BLOCK_PREFIX_RE,
    CALLOUT_RE,
    COMMENT_MARK,
    EMBED_SIZE_RE,
    FRONT_MATTER,
    HEADING_LINE_RE,
    HEADING_RE,
    LINK_RE,
    NOT_TAG_RE,
    QUOTE_RE,
    TAG_RE,
    TEXT,
    WIKILINK_RE,
    heading_text,
    is_url,
    line_body,
    line_ending,
)
from dlnotes.kb.obsidian import Scan, callout_type, scan
from dlnotes.kb.wikilinks import ATTACHMENT_FOLDERS, LinkError, Resolved, Vault

IMAGE_EXTS = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".avif"}
)
MAX_EMBED_DEPTH = 4


@dataclass(frozen=True, order=True)
class Problem:
    """Something the page says that the site cannot render (``line`` 1-based)."""

    line: int
    message: str


@dataclass
class Options:
    """How to render: the tag index page and the attachment folders searched."""

    tags_page: str | None = "tags.md"
    tag_anchor: Callable[[str], str] = field(default=lambda name: f"tag:{name}")
    attachments: tuple[str, ...] = ATTACHMENT_FOLDERS
    titles: bool = True


@dataclass
class Rendered:
    markdown: str
    problems: list[Problem] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    embeds: list[str] = field(default_factory=list)  # pages embedded, in order


SourceOf = Callable[[str], str]


def render(
    markdown: str,
    page: str,
    vault: Vault,
    source: SourceOf,
    options: Options | None = None,
) -> Rendered:
    """The MkDocs Markdown of the note ``page`` (docs-relative) of ``vault``.

    ``source(path)`` returns the Markdown of another note (for embeds).
    """
    if (
        "[[" not in markdown
        and COMMENT_MARK not in markdown
        and "[!" not in markdown
        and TAG_RE.search(markdown) is None
    ):
        return Rendered(markdown)  # no Obsidian form at all: the common case
    r = _Renderer(vault, source, options or Options(), page)
    out = r.convert(markdown, src_page=page, first_line=1, stack=(f"{page}#",))
    return Rendered(out, sorted(set(r.problems)), list(dict.fromkeys(r.tags)), r.embeds)


def _escape_text(text: str) -> str:
    return re.sub(r"([\[\]\\*_`<>])", r"\\\1", text)


def _is_image(path: str) -> bool:
    return posixpath.splitext(path)[1].lower() in IMAGE_EXTS


class _Renderer:
    def __init__(self, vault: Vault, source: SourceOf, options: Options, page: str):
        self.vault = vault
        self.source = source
        self.opt = options
        self.page = page  # the page being built: every URL is relative to it
        self.problems: list[Problem] = []
        self.tags: list[str] = []
        self.embeds: list[str] = []
        self._embed_line = 0  # inside an embed: problems carry the embed's line

    # ------------------------------------------------------------------ blocks

    def convert(
        self, text: str, *, src_page: str, first_line: int, stack: tuple[str, ...]
    ) -> str:
        """Convert ``text`` written in ``src_page`` (its line 1 is ``first_line``)."""
        s = scan(text)
        out: list[str] = []
        i = 0
        n = len(s.lines)
        while i < n:
            line = s.lines[i]
            kind = s.kinds[i]
            if kind != TEXT:
                if i not in s.hidden:  # code, HTML comment, front matter: as is
                    out.append(line)
                i += 1  # lines inside a %% comment are dropped
                continue
            if (
                i not in s.hidden
                and "[[" not in line
                and "#" not in line
                and ">" not in line
                and (src_page == self.page or "](" not in line)
            ):
                out.append(line)  # nothing Obsidian on this line
                i += 1
                continue
            prose = s.prose(i)
            m = CALLOUT_RE.match(prose) if ">" in prose else None
            if m is not None:
                j = self._quote_end(s, i, m["indent"])
                out.append(self._callout(s, i, j, m, src_page, first_line, stack))
                i = j
                continue
            out.append(self._line(s, i, src_page, first_line, stack))
            i += 1
        return "".join(out)

    def _quote_end(self, s: Scan, i: int, indent: str) -> int:
        j = i + 1
        while j < len(s.lines):
            body = line_body(s.lines[j])
            q = QUOTE_RE.match(body)
            if q is None or q["indent"] != indent or not body.strip():
                break
            j += 1
        return j

    def _callout(
        self,
        s: Scan,
        i: int,
        j: int,
        m: re.Match[str],
        src_page: str,
        first_line: int,
        stack: tuple[str, ...],
    ) -> str:
        indent = m["indent"]
        kind = callout_type(m["type"])
        marker = {"-": "???", "+": "???+"}.get(m["fold"], "!!!")
        title = (m["title"] or "").strip()
        if title:
            no = self._embed_line or first_line + i
            title_md = self._inline(title, src_page, no, stack)
            head = f'{indent}{marker} {kind} "{title_md.replace(chr(10), " ")}"'
        elif marker == "!!!":
            head = f"{indent}{marker} {kind}"
        else:  # a folded block needs a summary: the type, as Obsidian shows it
            head = f'{indent}{marker} {kind} "{m["type"].capitalize()}"'
        content = []
        for k in range(i + 1, j):
            q = QUOTE_RE.match(line_body(s.lines[k]))
            assert q is not None
            content.append(q["rest"] + "\n")
        inner = self.convert(
            "".join(content),
            src_page=src_page,
            first_line=first_line + i + 1,
            stack=stack,
        )
        end = line_ending(s.lines[j - 1]) or "\n"
        lines = [head + end]
        for piece in inner.splitlines(keepends=True):
            body = piece.rstrip("\r\n")
            lines.append(
                (f"{indent}    {body}" if body.strip() else "") + (piece[len(body) :])
            )
        if lines[-1] and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        return "".join(lines)

    # ------------------------------------------------------------------ lines

    def _line(
        self, s: Scan, i: int, src_page: str, first_line: int, stack: tuple[str, ...]
    ) -> str:
        line = s.lines[i]
        body = line_body(line)
        end = line[len(body) :]
        no = self._embed_line or first_line + i
        parts: list[str] = []
        pos = 0
        hidden = sorted(s.hidden.get(i, []))
        code = s.code.get(i, [])
        heading = bool(HEADING_LINE_RE.match(body))
        segments = list(s.segments(i))
        # an embed alone on its line (after list/quote markers) is a block
        if len(segments) and "![[" in body:
            block = self._block_embed(body, segments, src_page, no, stack)
            if block is not None:
                return block + (end if not block.endswith("\n") else "")
        for start, stop in segments:
            # the text between segments: code spans are kept, comments dropped
            parts.append(_kept(body, pos, start, code))
            parts.append(
                self._inline(body[start:stop], src_page, no, stack, tags=not heading)
            )
            pos = stop
        parts.append(_kept(body, pos, len(body), code))
        text = "".join(parts)
        if hidden and not text.strip():
            return ""
        if hidden:
            text = text.rstrip()
        return text + end

    def _inline(
        self,
        text: str,
        src_page: str,
        line: int,
        stack: tuple[str, ...],
        *,
        tags: bool = True,
    ) -> str:
        if src_page != self.page and "](" in text:
            text = LINK_RE.sub(lambda m: self._rebase(m, src_page), text)
        if "[[" in text:
            text = WIKILINK_RE.sub(
                lambda m: self._wikilink(m, src_page, line, stack), text
            )
        if tags and "#" in text:
            text = self._tags(text)
        return text

    def _tags(self, text: str) -> str:
        protected = [(m.start(), m.end()) for m in NOT_TAG_RE.finditer(text)]
        out: list[str] = []
        pos = 0
        for m in TAG_RE.finditer(text):
            if any(a <= m.start() < b for a, b in protected):
                continue
            name = m["tag"]
            self.tags.append(name)
            out.append(text[pos : m.start()])
            out.append(self._tag_link(name))
            pos = m.end()
        out.append(text[pos:])
        return "".join(out)

    def _tag_link(self, name: str) -> str:
        label = _escape_text(f"#{name}")
        if not self.opt.tags_page:
            return f'<span class="dl-tag">{label}</span>'
        url = Resolved(self.opt.tags_page, self.opt.tag_anchor(name)).url(self.page)
        return f"[{label}]({url}){{ .dl-tag }}"

    # -------------------------------------------------------------- wikilinks

    def _resolve(
        self, target: str, heading: str, src_page: str, line: int, raw: str
    ) -> Resolved | None:
        try:
            return self.vault.resolve(
                target,
                src_page,
                heading,
                titles=self.opt.titles,
                attachments=self.opt.attachments,
            )
        except LinkError as exc:
            # inside an embedded note: that note reports it at its own line
            if src_page == self.page:
                self.problems.append(Problem(line, f"unresolved {raw}: {exc}"))
            return None

    def _wikilink(
        self, m: re.Match[str], src_page: str, line: int, stack: tuple[str, ...]
    ) -> str:
        target = m["target"].strip()
        heading = (m["heading"] or "").strip()
        alias = (m["alias"] or "").strip()
        raw = m.group(0)
        found = self._resolve(target, heading, src_page, line, raw)
        if m["embed"]:
            return self._embed_inline(found, target, heading, alias, raw)
        shown = alias or (
            f"{target} > {heading}" if target and heading else target or heading
        )
        if found is None:
            return f'<span class="dl-broken-link">{_escape_text(shown)}</span>'
        return f"[{_escape_text(shown)}]({found.url(self.page)})"

    def _embed_inline(
        self, found: Resolved | None, target: str, heading: str, alias: str, raw: str
    ) -> str:
        if found is None:
            return f'<span class="dl-broken-link">{_escape_text(raw)}</span>'
        url = found.url(self.page)
        if _is_image(found.path):
            size = EMBED_SIZE_RE.fullmatch(alias) if alias else None
            alt = posixpath.splitext(posixpath.basename(found.path))[0]
            if alias and size is None:
                alt = alias
            attrs = ""
            if size is not None:
                attrs = f'{{ width="{size["w"]}"' + (
                    f' height="{size["h"]}" }}' if size["h"] else " }"
                )
            return f"![{_escape_text(alt)}]({url}){attrs}"
        label = alias or (f"{target} > {heading}" if heading else target)
        return f"[{_escape_text(label or found.title)}]({url})"

    def _block_embed(
        self,
        body: str,
        segments: list[tuple[int, int]],
        src_page: str,
        line: int,
        stack: tuple[str, ...],
    ) -> str | None:
        """A note embedded alone on its line: the note's text, in a block."""
        start, stop = segments[0][0], segments[-1][1]
        prefix_m = BLOCK_PREFIX_RE.match(body)
        lead = prefix_m.end() if prefix_m else 0
        rest = body[max(start, lead) : stop].strip()
        m = WIKILINK_RE.fullmatch(rest)
        if m is None or not m["embed"] or len(segments) != 1:
            return None
        target, heading = m["target"].strip(), (m["heading"] or "").strip()
        try:
            found = self.vault.resolve(
                target,
                src_page,
                heading,
                titles=self.opt.titles,
                attachments=self.opt.attachments,
            )
        except LinkError:
            return None  # reported by the inline path
        if not found.is_page:
            return None
        key = f"{found.path}#{found.anchor}"
        if key in stack or len(stack) > MAX_EMBED_DEPTH:
            why = (
                "embeds itself"
                if key in stack
                else f"nests embeds more than {MAX_EMBED_DEPTH} deep"
            )
            chain = " > ".join(stack)
            self.problems.append(Problem(line, f"{m.group(0)} {why} (via {chain})"))
            return None
        section = _section(self.source(found.path), found, self.vault)
        self.embeds.append(found.path)
        outer, self._embed_line = self._embed_line, line
        try:
            inner = self.convert(
                section, src_page=found.path, first_line=1, stack=(*stack, key)
            )
        finally:
            self._embed_line = outer
        inner = _demote_headings(inner)
        label = found.title + (f" › {found.heading}" if found.heading else "")
        link = f"[{_escape_text(label)}]({found.url(self.page)})"
        prefix = body[:lead]
        cont = re.sub(r"[^\s>]", " ", prefix)
        out = [
            f'{prefix}<div class="dl-embed" markdown>',
            f'{cont}<p class="dl-embed-source" markdown>{link}</p>',
            "",
        ]
        for piece in inner.splitlines():
            out.append(f"{cont}{piece}" if piece.strip() else cont.rstrip())
        out += ["", f"{cont}</div>"]
        return "\n".join(out) + "\n"

    def _rebase(self, m: re.Match[str], src_page: str) -> str:
        """A relative link of an embedded note, made relative to the host page."""
        url = m["url"].strip("<>")
        if not url or is_url(url) or url.startswith("/"):
            return m.group(0)
        path, _, frag = url.partition("#")
        if path:
            full = posixpath.normpath(
                posixpath.join(posixpath.dirname(src_page), unquote(path))
            )
        else:
            full = src_page
        new = Resolved(full, frag).url(self.page)
        start, end = m.start("url") - m.start(), m.end("url") - m.start()
        return m.group(0)[:start] + new + m.group(0)[end:]


def _kept(body: str, start: int, stop: int, code: list[tuple[int, int]]) -> str:
    """The code spans between two prose segments (comments there are dropped)."""
    if start >= stop:
        return ""
    return "".join(
        body[max(a, start) : min(b, stop)] for a, b in code if a < stop and b > start
    )


def _section(text: str, found: Resolved, vault: Vault) -> str:
    """The part of a note an embed shows: all of it, or one heading's section."""
    s = scan(text)
    lines = s.lines
    start = 0
    while start < len(lines) and s.kinds[start] == FRONT_MATTER:
        start += 1
    page = vault.pages.get(found.path)
    if not found.anchor or page is None:
        return "".join(lines[start:])
    heading = next(h for h in page.headings if h.anchor == found.anchor)
    end = len(lines)
    for h in page.headings:
        if h.line > heading.line and h.level <= heading.level:
            end = h.line - 1
            break
    return "".join(lines[heading.line : end])


def _demote_headings(markdown: str) -> str:
    """Headings of an embedded note as bold lines (no second table of contents)."""
    s = scan(markdown)
    out = []
    for i, line in enumerate(s.lines):
        if s.kinds[i] == TEXT and line.startswith("#"):
            m = HEADING_RE.match(line)
            if m and m["text"]:
                out.append(f"**{heading_text(m['text'])}**\n\n")
                continue
        out.append(line)
    return "".join(out)
