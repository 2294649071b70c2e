"""MkDocs plugin ``dlnotes-graph``: the links between notes.

* **Backlinks** (反向链接): at the end of each page, the notes that link to it, each
  with the sentence around the link, and a small graph of the page's neighbours.
* **知识图谱**: the page ``graph.md`` holds an element ``<div class="dl-graph">``; the
  plugin writes ``assets/graph.json`` (notes as nodes, sized by links, coloured by
  topic, open questions marked; links as edges) and publishes the script that draws
  it with Cytoscape.js (``node_modules/cytoscape``, vendored like Mermaid: the site
  loads nothing from another host).

Links are read from the page sources: Markdown links between pages
(``[text](../cnn/pooling.md#anchor)``) and Obsidian wikilinks (``[[pooling]]``,
resolved by Obsidian's rules, :mod:`dlnotes.kb.wikilinks`), outside code and
comments, found with the notes' grammar (:mod:`dlnotes.kb.grammar`). Each source
is parsed once per version, so a rebuild under ``mkdocs serve`` re-reads only what
changed, and asks the serve loop (:func:`dlnotes.site.live.request_rebuild`) to
rebuild the pages whose backlinks changed.

Options: ``page`` (the graph page, ``graph.md``), ``backlinks`` (default true),
``local_graph`` (default true), ``exclude`` (pages that are not nodes; the pages
plugins generate, such as the progress page that links to everything, never are),
``vendor_prefix`` (``assets/vendor``).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from dlnotes.kb.grammar import (
    CHECKBOX_RE,
    CODE_SPAN_RE,
    HEADING_LINE_RE,
    LINK_RE,
    LIST_START_RE,
    LOOSE_ID_RE,
    QUOTE_RE,
    TEXT,
    WIKILINK_RE,
    line_body,
)
from dlnotes.kb.notes import page_topic, parse_page, read_note
from dlnotes.kb.obsidian import Scan, find_links, scan
from dlnotes.kb.wikilinks import LinkError, Vault
from dlnotes.site.assets import AssetError, static_file
from dlnotes.site.live import request_rebuild

log = logging.getLogger("mkdocs.plugins.dlnotes.graph")

GRAPH_JSON = "assets/graph.json"

# What is no part of the sentence a reader sees: HTML comments, attribute lists,
# bold/italic/highlight marks.
_HTML_COMMENT = re.compile(r"<!--.*?-->")
_ATTRS = re.compile(r"\{[:.][^{}]*\}|\{\s*#[\w-]+[^{}]*\}")
_INLINE_MARKUP = re.compile(r"\*\*|__|==|~~|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")
_SENTENCE_END = re.compile(r"[。！？；!?;]|\.(?=\s|$)")

# Colours of the topics, in nav order (readable on light and dark backgrounds).
PALETTE = (
    "#3f51b5",
    "#e91e63",
    "#009688",
    "#ff9800",
    "#9c27b0",
    "#4caf50",
    "#03a9f4",
    "#795548",
    "#f44336",
    "#607d8b",
    "#cddc39",
    "#673ab7",
    "#00bcd4",
    "#8bc34a",
    "#ff5722",
    "#9e9e9e",
)
SENTENCE_MAX = 160


@dataclass(frozen=True)
class Link:
    """One link of a note to another: the target page and the sentence around it."""

    target: str
    sentence: str  # plain text
    text: str  # the link text, as the reader sees it


@dataclass
class NoteInfo:
    """What the graph needs of one page, parsed once per version of its source."""

    digest: str
    links: list[Link] = field(default_factory=list)
    open_questions: int = 0
    title: str = ""
    embeds: set[str] = field(default_factory=set)  # notes it transcludes (![[note]])


def _plain(body: str) -> str:
    """A line of prose as the reader sees it: links as their text, no markup."""
    line = _HTML_COMMENT.sub("", body)
    line = LINK_RE.sub(lambda m: "" if m.group("image") else m.group("title"), line)
    line = WIKILINK_RE.sub(_wiki_text, line)
    line = CODE_SPAN_RE.sub(lambda m: m.group(0).strip("`").strip(), line)
    line = LOOSE_ID_RE.sub("", line)
    line = _ATTRS.sub("", line)
    quote = QUOTE_RE.match(line)
    while quote is not None and line.lstrip().startswith(">"):
        line = quote.group("rest")
        quote = QUOTE_RE.match(line)
    if HEADING_LINE_RE.match(line):
        line = line.lstrip(" \t#")
    elif LIST_START_RE.match(line):
        line = line.lstrip(" \t")
        line = line[line.find(" ") + 1 :] if " " in line else ""
        box = CHECKBOX_RE.match(line.lstrip())
        if box is not None:
            line = box.group("rest")
    line = _INLINE_MARKUP.sub("", line)
    if line.lstrip().startswith("|"):  # a table row: its cells
        line = " · ".join(c.strip() for c in line.strip().strip("|").split("|"))
    return " ".join(line.split())


def _wiki_text(m: re.Match[str]) -> str:
    if m.group("embed"):
        return ""
    target, heading, alias = m.group("target"), m.group("heading"), m.group("alias")
    return alias or (f"{target} > {heading}" if target and heading else target or "")


def sentence_around(plain: str, text: str) -> str:
    """The sentence of ``plain`` that contains ``text`` (at most ~160 characters)."""
    at = plain.find(text) if text else -1
    if at < 0:
        return _clip(plain, 0, len(plain))
    start = 0
    for m in _SENTENCE_END.finditer(plain, 0, at):
        start = m.end()
    end = len(plain)
    after = _SENTENCE_END.search(plain, at + len(text))
    if after is not None:
        end = after.end()
    return _clip(plain, start, end, at)


def _clip(plain: str, start: int, end: int, at: int = 0) -> str:
    if end - start > SENTENCE_MAX:
        lo = max(start, min(at - SENTENCE_MAX // 3, end - SENTENCE_MAX))
        hi = min(end, lo + SENTENCE_MAX)
        return (
            ("…" if lo > start else "")
            + plain[lo:hi].strip()
            + ("…" if hi < end else "")
        )
    return plain[start:end].strip()


def resolve_md_link(target: str, from_page: str, pages: set[str]) -> str | None:
    """The page a relative Markdown link points at, or ``None`` (external, anchor)."""
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1]
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path or target.startswith("/"):
        return None
    path = unquote(parts.path)
    base = posixpath.dirname(from_page)
    resolved = posixpath.normpath(posixpath.join(base, path))
    if resolved.endswith("/") or resolved in pages:
        return resolved if resolved in pages else None
    for candidate in (f"{resolved}/index.md", f"{resolved}.md"):
        if candidate in pages:
            return candidate
    return None


def note_links(
    page: str,
    text: str,
    pages: set[str],
    vault: Vault | None = None,
    embeds: set[str] | None = None,
) -> list[Link]:
    """Every link of ``page`` to another page in ``pages``, outside code/comments.

    Markdown links resolve like MkDocs resolves them; wikilinks by Obsidian's rules
    (:meth:`dlnotes.kb.wikilinks.Vault.resolve_link`) when a ``vault`` is given.
    The notes it transcludes (``![[note]]``) are added to ``embeds``.
    """
    s = scan(text)
    found: list[Link] = []
    for i, line in enumerate(s.lines):
        if s.kinds[i] != TEXT or "](" not in line:
            continue
        prose = _HTML_COMMENT.sub(lambda m: " " * len(m.group(0)), s.prose(i))
        plain = ""
        for m in LINK_RE.finditer(prose):
            if m.group("image"):
                continue
            target = resolve_md_link(m.group("url"), page, pages)
            if target is None or target == page:
                continue
            plain = plain or _plain(_visible(s, i))
            shown = _plain(m.group("title"))
            found.append(Link(target, sentence_around(plain, shown), shown))
    if vault is not None and "[[" in text:
        for wl in find_links(s):
            try:
                resolved = vault.resolve_link(wl, page)
            except LinkError:
                continue  # dlnotes-obsidian reports it, with file:line
            if resolved.path not in pages or resolved.path == page:
                continue
            if wl.embed:
                if embeds is not None:
                    embeds.add(resolved.path)
                continue
            plain = _plain(_visible(s, wl.line - 1))
            found.append(Link(resolved.path, sentence_around(plain, wl.text), wl.text))
    return found


def _visible(s: Scan, i: int) -> str:
    """Line ``i`` without its ``%%comments%%`` (code spans kept)."""
    body = line_body(s.lines[i])
    for start, end in sorted(s.hidden.get(i, []), reverse=True):
        body = body[:start] + body[end:]
    return body


def _digest(data: str) -> str:
    return hashlib.blake2b(data.encode("utf-8"), digest_size=16).hexdigest()


class GraphConfig(Config):
    page = c.Type(str, default="graph.md")
    backlinks = c.Type(bool, default=True)
    local_graph = c.Type(bool, default=True)
    exclude = c.Type(list, default=[])
    vendor_prefix = c.Type(str, default="assets/vendor")


class GraphPlugin(BasePlugin[GraphConfig]):
    def __init__(self) -> None:
        self._serving = False
        self._notes: dict[str, NoteInfo] = {}
        self._backlinks: dict[str, list[tuple[str, Link]]] = {}
        self._topics: dict[str, str] = {}  # topic -> nav section title
        self._files: Files | None = None
        self._texts: dict[Path, tuple[tuple[int, int], str]] = {}
        self._generated: set[str] = set()

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self._serving = command == "serve"

    def on_config(self, config: Any) -> Any:
        for css in ("assets/dlnotes/graph.css",):
            if css not in config.extra_css:
                config.extra_css.append(css)
        if "assets/dlnotes/graph.js" not in [str(s) for s in config.extra_javascript]:
            config.extra_javascript.append("assets/dlnotes/graph.js")
        return config

    # -- the link graph, from the sources --------------------------------- #

    @event_priority(-110)  # after the serve loop planned its rebuilds (priority -100)
    def on_files(self, files: Files, /, *, config: Any) -> Files:
        root = Path(config.config_file_path).parent
        cytoscape = root / "node_modules/cytoscape/dist/cytoscape.min.js"
        if not cytoscape.is_file():
            raise PluginError(
                f"dlnotes-graph: {cytoscape} not found; run `make setup` "
                "(npm ci installs Cytoscape.js from package-lock.json)"
            )
        prefix = self.config.vendor_prefix
        files.append(
            File.generated(
                config,
                f"{prefix}/cytoscape/cytoscape.min.js",
                abs_src_path=str(cytoscape),
            )
        )
        try:
            for name in ("graph.js", "graph.css"):
                files.append(static_file(config, name))
        except AssetError as exc:
            raise PluginError(str(exc)) from exc

        sources = {
            f.src_uri: f
            for f in files.documentation_pages()
            if f.abs_src_path and not f.generated_by and f.src_uri.endswith(".md")
        }
        texts = {
            uri: self._read(Path(str(f.abs_src_path))) for uri, f in sources.items()
        }
        pages = {f.src_uri for f in files.documentation_pages()}
        self._generated = {
            f.src_uri for f in files.documentation_pages() if f.generated_by
        }
        vault = None
        if any("[[" in t for t in texts.values()):
            # the dlnotes-obsidian plugin indexed the notes already (cached)
            obsidian = config.plugins.get("dlnotes-obsidian")
            vault = getattr(obsidian, "vault", None)
            if not isinstance(vault, Vault):
                vault = Vault.from_texts(texts.items(), [f.src_uri for f in files])
        # the set of pages (and so what a link resolves to) is part of every key
        scope = _digest("\0".join(sorted(pages)))
        notes: dict[str, NoteInfo] = {}
        for uri, text in texts.items():
            digest = _digest(f"{scope}\0{text}")
            old = self._notes.get(uri)
            # a wikilink may resolve by another page's title: re-read those notes
            if (
                old is not None
                and old.digest == digest
                and not (vault and "[[" in text)
            ):
                notes[uri] = old
                continue
            parsed = parse_page(text, uri)
            embeds: set[str] = set()
            notes[uri] = NoteInfo(
                digest,
                note_links(uri, text, pages, vault, embeds),
                sum(q.status == "open" for q in parsed.questions),
                next((h.text for h in parsed.headings if h.level == 1), ""),
                embeds,
            )
        backlinks: dict[str, list[tuple[str, Link]]] = {}
        excluded = self._excluded()
        for uri in sorted(notes):
            if uri in excluded:
                continue
            seen: set[tuple[str, str]] = set()
            for link in notes[uri].links:
                if link.target in excluded or (link.target, link.sentence) in seen:
                    continue
                seen.add((link.target, link.sentence))
                backlinks.setdefault(link.target, []).append((uri, link))
        if self._serving and self._notes:
            changed = {
                uri
                for uri in set(backlinks) | set(self._backlinks)
                if backlinks.get(uri) != self._backlinks.get(uri)
            }
            # a note that transcludes an edited note shows the new text too
            edited = {
                uri
                for uri, note in notes.items()
                if uri not in self._notes or self._notes[uri].digest != note.digest
            }
            changed |= {uri for uri, note in notes.items() if note.embeds & edited}
            n = request_rebuild(files, sorted(changed))
            if n:
                log.debug("dlnotes-graph: %d pages get new backlinks", n)
        self._notes, self._backlinks, self._files = notes, backlinks, files
        return files

    def _read(self, path: Path) -> str:
        """A note's text, read again only when the file changed."""
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
        hit = self._texts.get(path)
        if hit is None or hit[0] != key:
            hit = (key, read_note(path))
            self._texts[path] = hit
        return hit[1]

    def _excluded(self) -> set[str]:
        return {self.config.page, *self.config.exclude, *self._generated}

    def on_nav(self, nav: Navigation, /, *, config: Any, files: Files) -> Navigation:
        """The nav section of each topic folder: the graph's colour legend."""
        topics: dict[str, str] = {}
        for page in nav.pages:
            top: Any = page
            while top.parent is not None:
                top = top.parent
            if isinstance(top, Section):
                topics.setdefault(page_topic(page.file.src_uri), top.title)
        self._topics = topics
        return nav

    # -- backlinks on each page ------------------------------------------- #

    def on_page_context(
        self, context: Any, /, *, page: Page, config: Any, nav: Navigation
    ) -> Any:
        uri = page.file.src_uri
        if not self.config.backlinks or uri in self._excluded() or not page.content:
            return context
        incoming = self._backlinks.get(uri, [])
        outgoing = {
            link.target
            for link in self._notes.get(uri, NoteInfo("")).links
            if link.target not in self._excluded()
        }
        if not incoming and not outgoing:
            return context
        page.content += self._backlinks_html(page, incoming)
        return context

    def _title(self, uri: str) -> str:
        f = self._files.get_file_from_path(uri) if self._files is not None else None
        if f is not None and f.page is not None and f.page.title:
            return str(f.page.title)
        note = self._notes.get(uri)
        return (note.title if note else "") or posixpath.basename(uri).removesuffix(
            ".md"
        )

    def _backlinks_html(self, page: Page, incoming: list[tuple[str, Link]]) -> str:
        parts = ['<section class="dl-backlinks">']
        parts.append('<h2 class="dl-backlinks__title">反向链接</h2>')
        if incoming:
            parts.append('<ul class="dl-backlinks__list">')
            by_source: dict[str, list[Link]] = {}
            for src, link in incoming:
                by_source.setdefault(src, []).append(link)
            for src, links in by_source.items():
                f = self._files.get_file_from_path(src) if self._files else None
                if f is None:
                    continue
                href = get_relative_url(f.url, page.url)
                parts.append(
                    f'<li><a class="dl-backlinks__page" href="{html.escape(href)}">'
                    f"{html.escape(self._title(src))}</a>"
                )
                for link in links:
                    parts.append(
                        '<p class="dl-backlinks__context">'
                        f"{_highlight(link.sentence, link.text)}</p>"
                    )
                parts.append("</li>")
            parts.append("</ul>")
        else:
            parts.append('<p class="dl-backlinks__none">还没有笔记链接到这里。</p>')
        if self.config.local_graph:
            parts.append(
                '<div class="dl-graph dl-graph--local" '
                f'data-page="{html.escape(page.file.src_uri)}" '
                'aria-label="本页的邻居笔记"></div>'
            )
        parts.append("</section>")
        return "\n".join(parts)

    # -- the graph data --------------------------------------------------- #

    def graph_data(self) -> dict[str, Any]:
        """Nodes (pages) and edges (links) of the knowledge graph."""
        files = self._files
        assert files is not None
        excluded = self._excluded()
        nodes_uris = [
            f.src_uri
            for f in files.documentation_pages()
            if f.src_uri not in excluded and not f.src_uri.startswith("404")
        ]
        known = set(nodes_uris)
        edges: dict[tuple[str, str], int] = {}
        for uri in nodes_uris:
            for link in self._notes.get(uri, NoteInfo("")).links:
                if link.target in known and link.target != uri:
                    key = (uri, link.target)
                    edges[key] = edges.get(key, 0) + 1
        degree = dict.fromkeys(nodes_uris, 0)
        for a, b in edges:
            degree[a] += 1
            degree[b] += 1
        order = ["home", *dict.fromkeys(self._topics)]
        for uri in nodes_uris:
            topic = page_topic(uri)
            if topic not in order:
                order.append(topic)
        colour = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(order)}
        nodes = []
        for uri in nodes_uris:
            f = files.get_file_from_path(uri)
            assert f is not None
            topic = page_topic(uri)
            note = self._notes.get(uri, NoteInfo(""))
            nodes.append(
                {
                    "id": uri,
                    "label": self._title(uri),
                    "url": f.url,
                    "topic": topic,
                    "section": self._topics.get(
                        topic, "首页" if topic == "home" else topic
                    ),
                    "color": colour[topic],
                    "degree": degree[uri],
                    "open": note.open_questions,
                }
            )
        return {
            "nodes": nodes,
            "edges": [
                {"source": a, "target": b, "weight": n} for (a, b), n in edges.items()
            ],
            "topics": [
                {
                    "topic": t,
                    "section": self._topics.get(t, "首页" if t == "home" else t),
                    "color": colour[t],
                }
                for t in order
                if t in {n["topic"] for n in nodes}
            ],
        }

    def on_post_build(self, *, config: Any) -> None:
        path = Path(config.site_dir) / GRAPH_JSON
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.graph_data(), ensure_ascii=False, separators=(",", ":"))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(data, encoding="utf-8")
        tmp.replace(path)


def _highlight(sentence: str, text: str) -> str:
    escaped = html.escape(sentence)
    if not text:
        return escaped
    mark = html.escape(text)
    return escaped.replace(mark, f"<strong>{mark}</strong>", 1)
