"""``dlnotes import``: files in, pages of ``docs/`` out, inside the importer's box."""

from __future__ import annotations

import datetime as dt
import json
import os
import posixpath
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from dlnotes.fileio import atomic_write
from dlnotes.kb.errors import StudyError
from dlnotes.kb.grammar import (
    ATX_HEADING_RE,
    line_body,
    split_lines,
)
from dlnotes.kb.importer.note import canonical_hash, import_text, split_front_matter
from dlnotes.kb.importer.source import ImportFailure, decode_note, read_source
from dlnotes.kb.notes import KnowledgeBase, read_note
from dlnotes.kb.obsidian import front_matter
from dlnotes.kb.wikilinks import Vault

# Pages the site generates from the notes (the defaults of the dlnotes and
# dlnotes-obsidian plugins): an imported page there would hide or break them.
GENERATED_PAGES = frozenset({"progress.md", "review.md", "tags.md"})


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
            f"  the navigation lists it under {posixpath.dirname(page) or 'docs'}/ "
            f"as {_title(result.text, page)!r} (no mkdocs.yml edit needed)"
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
