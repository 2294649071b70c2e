"""Inline forms of a raw note: links, images, embeds, wikilinks, bare URLs, raw HTML."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from dlnotes.kb.grammar import (
    ANY_AUTOLINK_RE,
    BARE_URL_RE,
    EMBED_RE,
    HTTP_RE,
    LINKED_URL_RE,
    RAW_HTML_START_RE,
    RAW_IMAGE_RE,
    RAW_LINK_RE,
    RAW_TAG_RE,
    SCHEME_RE,
    WIKILINK_RE,
    heading_slug,
    is_script_url,
)
from dlnotes.kb.importer.linebreaks import split_code_spans
from dlnotes.kb.links import clean_title, clean_url
from dlnotes.kb.wikilinks import ATTACHMENT_FOLDERS, LinkError, Vault

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp"}


# --------------------------------------------------------------------------- #
# Inline: links, images, embeds, bare URLs, tags
# --------------------------------------------------------------------------- #


@dataclass
class InlineContext:
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


def _local_file(ctx: InlineContext, target: str) -> Path | None:
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


def _attachment(ctx: InlineContext, target: str) -> Path | None:
    """A file an embed names: beside the note or in one of its attachment folders."""
    for folder in ATTACHMENT_FOLDERS:
        found = _local_file(ctx, f"{folder}/{target}" if folder else target)
        if found is not None:
            return found
    return None


def _copy_image(ctx: InlineContext, found: Path) -> str:
    """Copy an image of the note into ``assets/imported/<page>/``; its docs path."""
    stem = Path(ctx.page).with_suffix("").as_posix().replace("/", "-")
    uri = f"assets/imported/{stem}/{found.name}"
    ctx.images.append((found, uri))
    return uri


def _wikilink(ctx: InlineContext, m: re.Match[str]) -> str:
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


def _image(ctx: InlineContext, m: re.Match[str]) -> str:
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


def _link(ctx: InlineContext, m: re.Match[str]) -> str:
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


def escape_raw_html(chunk: str, ctx: InlineContext) -> str:
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


def transform_inline(text: str, ctx: InlineContext) -> str:
    """Clean the links, images, embeds, bare URLs and tags of one line."""
    parts = []
    for is_code, chunk in split_code_spans(text):
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
