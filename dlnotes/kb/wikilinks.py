"""Resolve wikilinks the way Obsidian does, over the notes of a docs folder (a vault).

A :class:`Vault` indexes the pages (``.md``) and the other files of the docs folder.
:meth:`Vault.resolve` finds what ``[[target#heading]]`` written in ``from_page``
points at, by Obsidian's rules, in this order:

1. a path from the vault root (``[[cnn/index]]``, ``.md`` optional), or relative to
   the note's folder (``[[./pooling]]``, ``[[../nn/neuron]]``);
2. the end of a path (``[[pooling]]``, ``[[cnn/pooling]]``): the file whose path ends
   with it; when several do, the one in the note's folder, else the shortest path
   (Obsidian writes the shortest path that is unique, so links it wrote resolve);
3. a front matter alias (``aliases: [BN]``);
4. only where Obsidian has no rule (``titles=True``, the site's default): the page's
   title, its first ``# heading`` or front matter ``title:``.

Names compare without case, and after Unicode NFC normalisation. ``heading`` names a
heading of the target page by its text (Obsidian's rule; ``#Heading#Sub`` names the
last one) or by its anchor; the result carries the anchor the site gives it.

:func:`find_links` (from :mod:`dlnotes.kb.obsidian`) lists the links of a note.
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from dlnotes.kb.grammar import (
    ATTRS_RE,
    CODE_SPAN_RE,
    EMPHASIS_RE,
    HEADING_ID_RE,
    HEADING_RE,
    HTML_TAG_RE,
    LINK_RE,
    STAR_EMPHASIS_RE,
    TEXT,
    WIKILINK_RE,
)
from dlnotes.kb.notes import iter_pages, read_note
from dlnotes.kb.obsidian import (
    WikiLink,
    find_links,
    front_matter,
    scan,
    string_list,
)

Slugify = Callable[[str, str], str]

# Folders Obsidian offers for attachments (and this site's own assets folder).
ATTACHMENT_FOLDERS = ("attachments", "assets", "_resources", "images", "")


def default_slugify() -> Slugify:
    """The site's heading ids: ``pymdownx.slugs.slugify(case="lower")``."""
    from pymdownx.slugs import slugify

    return slugify(case="lower")


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def heading_text(raw: str) -> str:
    """The text of a heading as the table of contents shows it (markup removed)."""
    text = ATTRS_RE.sub("", raw.rstrip()).rstrip("#").strip()
    text = LINK_RE.sub(lambda m: m["title"], text)
    text = WIKILINK_RE.sub(lambda m: m["alias"] or m["target"] or m["heading"], text)
    text = CODE_SPAN_RE.sub(lambda m: m[0][len(m[1]) : -len(m[1])], text)
    text = EMPHASIS_RE.sub(r"\2", text)
    text = STAR_EMPHASIS_RE.sub(r"\1", text)
    text = HTML_TAG_RE.sub("", text)
    return text.strip()


def _heading_key(text: str) -> str:
    """Obsidian compares headings ignoring case, spaces and link punctuation."""
    return re.sub(r"[\s#|^:\[\]\\]+", " ", _key(text)).strip()


@dataclass(slots=True)
class PageHeading:
    text: str
    anchor: str
    level: int
    line: int


@dataclass(slots=True)
class VaultPage:
    """One note: its path in the docs folder, title, aliases, tags and headings."""

    path: str
    title: str
    aliases: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    headings: list[PageHeading] = field(default_factory=list)

    def heading(self, name: str, slugify: Slugify | None = None) -> PageHeading | None:
        """The heading ``name`` names (text, Obsidian's ``a#b`` path, or anchor)."""
        last = name.split("#")[-1].strip()
        if not last:
            return None
        want = _heading_key(last)
        for h in self.headings:
            if _heading_key(h.text) == want:
                return h
        for h in self.headings:
            if h.anchor == last or (slugify and h.anchor == slugify(last, "-")):
                return h
        return None


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where a wikilink goes: ``path`` in the docs folder and the heading anchor."""

    path: str
    anchor: str = ""
    heading: str = ""
    title: str = ""

    @property
    def is_page(self) -> bool:
        return self.path.endswith(".md")

    def url(self, from_page: str) -> str:
        """The relative Markdown link target from ``from_page`` (MkDocs checks it)."""
        base = posixpath.dirname(from_page)
        rel = self.path if not base else posixpath.relpath(self.path, base)
        if self.path == from_page:
            rel = ""
        target = quote(rel, safe="/-_.~!*'()@:+,;=")
        return f"{target}#{self.anchor}" if self.anchor else (target or "#")


class LinkError(ValueError):
    """A wikilink that does not resolve; the message says why."""


@dataclass
class Vault:
    """The notes (and other files) of a docs folder, indexed for link resolution."""

    pages: dict[str, VaultPage]
    files: set[str] = field(default_factory=set)  # every file, pages included
    slugify: Slugify | None = None
    _by_name: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _by_path: dict[str, str] = field(default_factory=dict, repr=False)
    _by_alias: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _by_title: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.files |= set(self.pages)
        for path in sorted(self.files):
            self._by_path[_key(path)] = path
            name = posixpath.basename(path)
            self._by_name.setdefault(_key(name), []).append(path)
            if path.endswith(".md"):
                self._by_path.setdefault(_key(path[:-3]), path)
                self._by_name.setdefault(_key(name[:-3]), []).append(path)
        for path, page in sorted(self.pages.items()):
            for alias in page.aliases:
                self._by_alias.setdefault(_key(alias), []).append(path)
            if page.title:
                self._by_title.setdefault(_key(page.title), []).append(path)

    # ------------------------------------------------------------------ build

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[tuple[str, str]],
        files: Iterable[str] = (),
        slugify: Slugify | None = None,
    ) -> Vault:
        """From ``(page, markdown)`` pairs and the paths of the other files."""
        slug = slugify or default_slugify()
        pages = {page: page_info(page, text, slug) for page, text in texts}
        return cls(pages, set(files), slug)

    @classmethod
    def scan(cls, docs_dir: Path | str, slugify: Slugify | None = None) -> Vault:
        """Every note and file below ``docs_dir`` (dot-folders skipped)."""
        root = Path(docs_dir)
        texts = [(page, read_note(path)) for page, path in iter_pages(root)]
        files: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(root)
            files += [
                (rel / name).as_posix()
                for name in filenames
                if not name.startswith(".")
            ]
        return cls.from_texts(texts, files, slugify)

    def with_page(self, page: str, text: str) -> Vault:
        """This vault with the note ``page`` added (or replaced) by ``text``."""
        slug = self.slugify or default_slugify()
        pages = dict(self.pages)
        pages[page] = page_info(page, text, slug)
        return Vault(pages, set(self.files) | {page}, slug)

    # ---------------------------------------------------------------- resolve

    def resolve(
        self,
        target: str,
        from_page: str,
        heading: str = "",
        *,
        titles: bool = True,
        attachments: Iterable[str] = ATTACHMENT_FOLDERS,
    ) -> Resolved:
        """What ``[[target#heading]]`` in ``from_page`` points at.

        Raises :class:`LinkError` (a one-line reason) when it resolves to nothing or
        to several files Obsidian could not tell apart.
        """
        target = target.strip()
        if not target:
            path = from_page
            if path not in self.pages:
                raise LinkError(f"no page {from_page}")
        else:
            path = self._find(target, from_page, titles, attachments)
        return self._with_heading(path, heading)

    def resolve_link(
        self, link: WikiLink, from_page: str, *, titles: bool = True
    ) -> Resolved:
        """:meth:`resolve` for a link found by :func:`find_links`."""
        return self.resolve(link.target, from_page, link.heading, titles=titles)

    def _with_heading(self, path: str, heading: str) -> Resolved:
        page = self.pages.get(path)
        title = page.title if page else posixpath.basename(path)
        heading = heading.strip()
        if not heading:
            return Resolved(path, title=title)
        if page is None:
            raise LinkError(f"{path} is not a note: it has no heading {heading!r}")
        if heading.startswith("^"):
            raise LinkError(
                f"block reference #{heading} is not supported: link a heading"
            )
        found = page.heading(heading, self.slugify)
        if found is None:
            raise LinkError(f"{path} has no heading {heading.split('#')[-1]!r}")
        return Resolved(path, found.anchor, found.text, title)

    def _find(
        self, target: str, from_page: str, titles: bool, attachments: Iterable[str]
    ) -> str:
        clean = target.replace("\\", "/").strip()
        if clean.startswith("/"):
            clean = clean.lstrip("/")
        base = posixpath.dirname(from_page)
        candidates: list[str] = []
        if clean.startswith(("./", "../")):
            joined = posixpath.normpath(posixpath.join(base, clean))
            candidates = [joined]
        else:
            # the note's own folder first, then a path from the vault root
            candidates = [posixpath.join(base, clean)]
            if "/" in clean:
                candidates.append(clean)
        for cand in candidates:
            for key in (_key(cand), _key(cand + ".md")):
                found = self._by_path.get(key)
                if found is not None:
                    return found
        if clean.startswith(("./", "../")):
            raise LinkError(f"no note or file {clean!r} from {from_page}")
        # the end of a path: `name` or `folder/name`
        name = posixpath.basename(clean)
        matches = [
            p for p in self._by_name.get(_key(name), []) if _suffix_match(p, clean)
        ]
        matches = list(dict.fromkeys(matches))
        if len(matches) == 1:
            return matches[0]
        if matches:
            return _closest(matches, from_page, clean, attachments)
        hits = self._by_alias.get(_key(clean), [])
        if titles and not hits:
            hits = self._by_title.get(_key(clean), [])
        hits = list(dict.fromkeys(hits))
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise LinkError(
                f"[[{target}]] is ambiguous: {', '.join(hits)} (write the path)"
            )
        raise LinkError(f"no note or file named {target!r}")

    # ------------------------------------------------------------------ other

    def page_of(self, path: str) -> VaultPage | None:
        return self.pages.get(path)


def _suffix_match(path: str, target: str) -> bool:
    want = _key(target)
    have = _key(path)
    if have.endswith(".md") and not want.endswith(".md"):
        have = have[:-3]
    return have == want or have.endswith("/" + want)


def _closest(
    matches: list[str], from_page: str, target: str, attachments: Iterable[str]
) -> str:
    """Obsidian's tie-break: the note's own folder, then attachments, then shortest."""
    folder = posixpath.dirname(from_page)
    same = [p for p in matches if posixpath.dirname(p) == folder]
    if len(same) == 1:
        return same[0]
    for att in attachments:
        prefix = posixpath.join(folder, att) if att else folder
        local = [p for p in matches if posixpath.dirname(p) == prefix.strip("/")]
        if len(local) == 1:
            return local[0]
    for att in attachments:
        top = [p for p in matches if posixpath.dirname(p) == att]
        if len(top) == 1:
            return top[0]
    shortest = min(len(p) for p in matches)
    best = [p for p in matches if len(p) == shortest]
    if len(best) == 1:
        return best[0]
    raise LinkError(
        f"[[{target}]] is ambiguous: {', '.join(sorted(matches))} (write the path)"
    )


def page_info(page: str, text: str, slugify: Slugify) -> VaultPage:
    """Title, aliases, tags and headings (with the site's anchors) of a note."""
    meta = front_matter(text)
    s = scan(text)
    headings: list[PageHeading] = []
    used: dict[str, int] = {}
    title = str(meta.get("title") or "").strip()
    for i, line in enumerate(s.lines):
        if s.kinds[i] != TEXT or not line.startswith("#"):
            continue
        m = HEADING_RE.match(line)
        if m is None or (m["text"] and not line[len(m["level"])].isspace()):
            continue
        raw = m["text"]
        text_ = heading_text(raw)
        explicit = HEADING_ID_RE.search(raw)
        anchor = explicit["id"] if explicit else slugify(text_, "-")
        if not explicit:
            n = used.get(anchor, 0)
            used[anchor] = n + 1
            if n:
                anchor = f"{anchor}_{n}"
        headings.append(PageHeading(text_, anchor, len(m["level"]), i + 1))
        if not title and len(m["level"]) == 1:
            title = text_
    return VaultPage(
        path=page,
        title=title,
        aliases=string_list(meta.get("aliases") or meta.get("alias")),
        tags=string_list(meta.get("tags") or meta.get("tag")),
        headings=headings,
    )


__all__ = [
    "ATTACHMENT_FOLDERS",
    "LinkError",
    "PageHeading",
    "Resolved",
    "Vault",
    "VaultPage",
    "WikiLink",
    "find_links",
    "heading_text",
    "page_info",
]
