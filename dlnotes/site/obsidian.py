"""The ``dlnotes-obsidian`` MkDocs plugin: Obsidian-flavoured Markdown on every page.

Each page's Markdown goes through :func:`dlnotes.kb.obsidian_render.render` (after
the tracker, before Material's tags plugin): wikilinks and embeds resolve by
Obsidian's rules (:mod:`dlnotes.kb.wikilinks`) to ordinary relative links, which
MkDocs then validates; callouts become admonitions; ``%%comments%%`` are dropped
before Markdown sees them (so they reach neither the HTML nor the search index);
``#tags`` and front matter ``tags:`` become the page's tags for Material's ``tags``
plugin, whose index page is ``tags.md``. A wikilink that does not resolve, or an
embed that embeds itself, is a warning ``docs/PAGE:LINE: ...``: ``mkdocs build
--strict`` fails on it.

Why not the plugins on PyPI: mkdocs-callouts (maintained, offline) was tried first,
but it converts callouts inside ``~~~`` fences and indented code, quotes titles
naively and inserts lines (which shifts the ``file:line`` of every later problem);
the wikilink plugins (roamlinks, ezlinks, obsidian-bridge) each carry their own
resolution rules, which the importer and ``dlnotes check`` could not share. Here every
form comes from the one
grammar (:mod:`dlnotes.kb.grammar`) that the importer, ``dlnotes check`` and the
tracker use, so they agree with what the site renders.

Options (``plugins: - dlnotes-obsidian: {...}``): ``attachments`` (folders searched
for ``![[file]]`` after the note's own folder; Obsidian's defaults),
``titles`` (also resolve ``[[Page title]]``, default true), ``tags_page``
(``tags.md``; empty: tags are shown but not linked).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from dlnotes.kb.notes import read_note
from dlnotes.kb.obsidian import string_list
from dlnotes.kb.obsidian_render import Options, Rendered, render
from dlnotes.kb.wikilinks import ATTACHMENT_FOLDERS, Slugify, Vault, page_info

log = logging.getLogger("mkdocs.plugins.dlnotes.obsidian")

# Extensions the rendered forms need: attribute lists (image widths, tag classes),
# Markdown inside the embed blocks, admonitions and foldable details, ==mark==.
REQUIRED_EXTENSIONS = (
    "attr_list",
    "md_in_html",
    "admonition",
    "pymdownx.details",
    "pymdownx.mark",
)


class ObsidianConfig(Config):
    attachments = c.ListOfItems(c.Type(str), default=list(ATTACHMENT_FOLDERS))
    titles = c.Type(bool, default=True)
    tags_page = c.Type(str, default="tags.md")


class ObsidianPlugin(BasePlugin[ObsidianConfig]):
    def __init__(self) -> None:
        self.vault: Vault | None = None
        self._slugify: Slugify | None = None
        self._tag_slugify: Any = None
        self._cache: dict[str, tuple[int, int, str, Any]] = {}  # path -> info
        self._fingerprint = 0
        # page -> (markdown, vault key, result, texts of the notes it embeds)
        self._rendered: dict[
            str, tuple[str, tuple[int, str | None, bool], Rendered, dict[str, str]]
        ] = {}
        self._docs = Path()
        self._root = Path()

    # Defining on_startup keeps this object (and its caches) across serve rebuilds.
    def on_startup(self, *, command: str, dirty: bool) -> None:
        self._rendered.clear()

    def on_config(self, config: Any) -> Any:
        names = [e if isinstance(e, str) else "" for e in config.markdown_extensions]
        for ext in REQUIRED_EXTENSIONS:
            if ext not in names:
                config.markdown_extensions.append(ext)
        toc = config.mdx_configs.get("toc", {})
        self._slugify = toc.get("slugify")
        if self._slugify is None:
            from pymdownx.slugs import slugify

            self._slugify = slugify(case="lower")
        tags = config.plugins.get("material/tags") or config.plugins.get("tags")
        self._tag_slugify = None
        if tags is not None:
            cfg = tags.config
            fmt, sep = cfg.tags_slugify_format, cfg.tags_slugify_separator
            slug = cfg.tags_slugify
            self._tag_slugify = lambda name: fmt.format(slug=slug(name, sep))
        self._docs = Path(config.docs_dir)
        self._root = Path(config.config_file_path).parent
        return config

    def on_files(self, files: Files, /, *, config: Any) -> Files:
        """Index every note and file for link resolution (unchanged notes cached)."""
        assert self._slugify is not None
        pages = {}
        paths: list[str] = []
        seen: set[str] = set()
        for f in files:
            paths.append(f.src_uri)
            if not f.src_uri.endswith(".md"):
                continue
            if f.abs_src_path and not f.generated_by:
                seen.add(f.src_uri)
                pages[f.src_uri] = self._info(f.src_uri, Path(f.abs_src_path))
            else:
                content = f.content_string if f.generated_by else ""
                pages[f.src_uri] = page_info(f.src_uri, content, self._slugify)
        for gone in set(self._cache) - seen:
            del self._cache[gone]
        self.vault = Vault(pages, set(paths), self._slugify)
        # what every page's links resolve against: names, titles, aliases, anchors
        self._fingerprint = hash(
            (
                tuple(sorted(paths)),
                tuple(
                    (
                        path,
                        info.title,
                        tuple(info.aliases),
                        tuple((h.text, h.anchor, h.level) for h in info.headings),
                    )
                    for path, info in sorted(pages.items())
                ),
            )
        )
        return files

    def _info(self, page: str, path: Path) -> Any:
        assert self._slugify is not None
        st = path.stat()
        hit = self._cache.get(page)
        if hit is not None and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
            return hit[3]
        text = read_note(path)
        info = page_info(page, text, self._slugify)
        self._cache[page] = (st.st_mtime_ns, st.st_size, text, info)
        return info

    def _source(self, page: str) -> str:
        hit = self._cache.get(page)
        if hit is not None:
            return str(hit[2])
        return read_note(self._docs / page)

    def _render(self, markdown: str, src: str, options: Options) -> Rendered:
        """:func:`render`, reused across ``mkdocs serve`` rebuilds while the page,
        the notes it embeds and every name and heading it could link to are the
        same (a 500-note vault re-renders only what an edit touched)."""
        assert self.vault is not None
        key = (self._fingerprint, options.tags_page, options.titles)
        hit = self._rendered.get(src)
        if (
            hit is not None
            and hit[0] == markdown
            and hit[1] == key
            and all(self._source(p) == text for p, text in hit[3].items())
        ):
            return hit[2]
        result = render(markdown, src, self.vault, self._source, options)
        embedded = {p: self._source(p) for p in result.embeds}
        self._rendered[src] = (markdown, key, result, embedded)
        return result

    # After the tracker (priority 0), before Material's tags plugin (-50).
    @event_priority(-10)
    def on_page_markdown(
        self, markdown: str, /, *, page: Page, config: Any, files: Files
    ) -> str:
        if self.vault is None:
            return markdown
        src = page.file.src_uri
        tags_page = self.config.tags_page or None
        if tags_page and self._tag_slugify is None:
            tags_page = None  # no tags plugin: no index page to link to
        if tags_page and files.get_file_from_path(tags_page) is None:
            tags_page = None
        options = Options(
            tags_page=tags_page,
            tag_anchor=self._tag_slugify or (lambda name: name),
            attachments=tuple(self.config.attachments),
            titles=self.config.titles,
        )
        result = self._render(markdown, src, options)
        where = _display(page, self._root)
        offset = _front_matter_lines(page) if result.problems else 0
        for problem in result.problems:
            log.warning("%s:%d: %s", where, problem.line + offset, problem.message)
        # front matter `tags:` (a list or Obsidian's comma-separated string)
        meta_tags = string_list(page.meta.get("tags"))
        tags = list(dict.fromkeys([*meta_tags, *result.tags]))
        if tags:
            page.meta["tags"] = tags
        return result.markdown

    # After Material's tags plugin (100) filled the listing on the tag index page.
    @event_priority(50)
    def on_env(self, env: Any, /, *, config: Any, files: Files) -> Any:
        """The tag index's anchors exist only now: tell MkDocs' anchor validation."""
        tags_page = self.config.tags_page
        f = files.get_file_from_path(tags_page) if tags_page else None
        page = f.page if f is not None else None
        if page is not None and page.content and page.present_anchor_ids is not None:
            page.present_anchor_ids |= set(re.findall(r'\sid="([^"]+)"', page.content))
        return env


def _front_matter_lines(page: Page) -> int:
    """Lines MkDocs cut from the top of the source (the front matter)."""
    if page.markdown is None or not page.file.abs_src_path:
        return 0
    try:
        source = page.file.content_string
    except OSError:
        return 0
    return max(0, source.count("\n") - page.markdown.count("\n"))


def _display(page: Page, root: Path) -> str:
    """``docs/cnn/x.md``: the page's path from the project root."""
    path = page.file.abs_src_path
    if not path:
        return page.file.src_uri
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:
        return path
