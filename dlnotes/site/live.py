"""The ``mkdocs serve`` loop: never dies on a warning, rebuilds only what changed.

Used by the ``dlnotes`` plugin when it runs under ``mkdocs serve``; ``mkdocs build``
is untouched (strict stays strict).

* **Warnings never abort a rebuild.** MkDocs' strict mode turns every warning into an
  ``Abort`` and the server "appears stuck". Under serve, :class:`LiveSite` removes
  MkDocs' strict counter for the build, collects the warnings instead, writes them
  (with ``file:line``) to ``__dlnotes/status.json`` in the served site and every page
  loads a small script (``static/live.js``) that shows them in a banner until a later
  build is clean. The terminal lines name ``docs/page.md:LINE`` too.
* **Incremental rebuilds.** With ``mkdocs serve --dirty`` (what ``make serve`` runs)
  MkDocs keeps the built site between rebuilds and builds only pages whose
  ``File.is_modified()`` is true. :class:`LiveSite` decides that per page from the
  contents, not from times: a page is rebuilt when its text changed, when a file it
  embeds (``--8<--`` snippets) changed, when a lab notebook's package code changed, or
  when another plugin asks (:func:`request_rebuild`, e.g. the pages whose backlinks
  changed). A change of the set of pages, of a page title, of ``mkdocs.yml`` or of a
  ``.nav.yml`` rebuilds every page, so the navigation stays right everywhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader
from jinja2.bccache import Bucket, BytecodeCache
from mkdocs.structure.files import File, Files

from dlnotes.kb.grammar import (
    ATX_HEADING_RE,
    SNIPPET_INCLUDE_RE,
    TEXT,
    classify_lines,
    heading_text,
    line_body,
    split_lines,
)

log = logging.getLogger("mkdocs.plugins.dlnotes.live")

STATUS_URI = "__dlnotes/status.json"

# MkDocs' link and anchor warnings: "Doc file 'a/b.md' contains a link 'x.md#y', ..."
_DOC_WARNING = re.compile(
    r"Doc file '(?P<file>[^']+)' contains (?:a|an) [\w ]*?link '(?P<target>[^']*)'"
)
# "docs/a/b.md:12: ..." or "dlnotes-outputs: docs/a/b.md:12 ..." (the plugins' form)
_PAGE_WARNING = re.compile(
    r"^(?:[\w-]+: )?(?P<file>[^\s:]+\.(?:md|py|ipynb))(?::(?P<line>\d+))?"
)
# --------------------------------------------------------------------------- #
# Warnings: file:line, collected for the banner
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Problem:
    """One warning of a build, located in a note where MkDocs says which."""

    level: str
    message: str
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        if not self.file:
            return ""
        return f"docs/{self.file}:{self.line}" if self.line else f"docs/{self.file}"


def locate(message: str, docs_dir: Path) -> tuple[str, int]:
    """``(page, line)`` a MkDocs warning is about; ``("", 0)`` when it names none.

    Link warnings name the page and the link as written; the line is the first line
    of the page that contains that link.
    """
    m = _DOC_WARNING.search(message)
    if m is None:
        p = _PAGE_WARNING.search(message)
        if p is None:
            return "", 0
        name, line = p.group("file"), int(p.group("line") or 0)
        prefix = docs_dir.name + "/"
        for page in (name, name.removeprefix(prefix)):
            if (docs_dir / page).is_file():
                return page, line
        return "", 0
    page, target = m.group("file"), m.group("target")
    try:
        text = (docs_dir / page).read_text(encoding="utf-8")
    except OSError:
        return page, 0
    needles = [f"({target}", f"({target} ", f"<{target}>", target]
    if "#" in target:
        needles.append(target.split("#", 1)[1])
    for needle in needles:
        if not needle:
            continue
        for number, row in enumerate(text.splitlines(), 1):
            if needle in row:
                return page, number
    return page, 0


class _Locate(logging.Filter):
    """Prefix a MkDocs warning with ``docs/page.md:LINE:`` and keep it for the banner.

    Attached to MkDocs' own console handler, so the terminal shows the location; the
    record is changed once (``dlnotes_problem``) even when several handlers see it.
    """

    def __init__(self, docs_dir: Path, sink: Callable[[Problem], None]) -> None:
        super().__init__("dlnotes-live")
        self.docs_dir = docs_dir
        self.sink = sink

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or hasattr(record, "dlnotes_problem"):
            return True
        message = record.getMessage()
        page, line = locate(message, self.docs_dir)
        problem = Problem(record.levelname, message, page, line)
        record.dlnotes_problem = problem
        if problem.where and problem.where not in message:
            record.msg = f"{problem.where}: {message}"
            record.args = None
        self.sink(problem)
        return True


# --------------------------------------------------------------------------- #
# What to rebuild
# --------------------------------------------------------------------------- #


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def snippet_paths(markdown: str) -> list[str]:
    """The files a page embeds (``pymdownx.snippets``: ``--8<-- "path:section"``)."""
    found: list[str] = []
    for line in markdown.splitlines():
        m = SNIPPET_INCLUDE_RE.match(line)
        if m is not None:
            found.append(m.group("path"))
    return found


_TITLE_META = re.compile(r"^title:[ \t]*(?P<title>.+?)[ \t]*$", re.M)


def source_title(text: str) -> str:
    """The title MkDocs will give a page: front matter ``title:`` or the first H1."""
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end > 0:
            m = _TITLE_META.search(text[:end])
            if m:
                return m.group("title").strip("'\"")
    lines = split_lines(text)
    kinds, _ = classify_lines(lines)
    for line, kind in zip(lines, kinds, strict=True):
        if kind == TEXT and line.startswith("# "):
            h = ATX_HEADING_RE.match(line_body(line))
            if h is not None and len(h.group("level")) == 1:
                return heading_text(h.group("text"))
    return ""


@dataclass
class _Seen:
    """What the previous build saw of one page."""

    digest: str
    title: str
    deps: dict[str, str] = field(default_factory=dict)


def _mark(file: File, modified: bool) -> None:
    # An instance attribute shadows File.is_modified (mtime based) for this build.
    file.is_modified = (lambda: True) if modified else (lambda: False)  # type: ignore[method-assign]


def request_rebuild(files: Files, pages: Iterable[str]) -> int:
    """Have a ``--dirty`` serve rebuild ``pages`` (source URIs) in this build."""
    n = 0
    for uri in pages:
        f = files.get_file_from_path(uri)
        if f is not None and f.is_documentation_page():
            _mark(f, True)
            n += 1
    return n


class LiveSite:
    """State of the serve loop, kept across rebuilds by the ``dlnotes`` plugin."""

    def __init__(self, dirty: bool) -> None:
        self.dirty = dirty
        self.problems: list[Problem] = []
        self.rebuilt: list[str] = []
        self.full = True
        self._seen: dict[str, _Seen] = {}
        self._structure = ""
        self._dep_cache: dict[str, tuple[int, int, str]] = {}
        self._read: dict[str, tuple[tuple[int, int], str, str, list[str]]] = {}
        self._filter: _Locate | None = None
        self._started = 0.0
        self._docs = Path(".")
        self.titles: dict[str, str] = {}
        self.templates = TemplateCache()
        self.theme_files = ThemeFiles()

    # -- warnings ----------------------------------------------------------- #

    def start_build(self, config: Any) -> None:
        """Turn MkDocs' strict counter off for this build and collect warnings."""
        from mkdocs.utils import CountHandler

        self._started = time.monotonic()
        self.problems = []
        self._docs = Path(config.docs_dir)
        logger = logging.getLogger("mkdocs")
        for handler in list(logger.handlers):
            if isinstance(handler, CountHandler):
                logger.removeHandler(handler)
        config.strict = False
        # one line per notebook at every rebuild is noise here
        logging.getLogger("mkdocs.plugins.mkdocs_jupyter").setLevel(logging.WARNING)
        self.theme_files.patch(config.theme)
        if self._filter is None:
            self._filter = _Locate(self._docs, self.problems_append)
            for handler in logger.handlers:
                handler.addFilter(self._filter)
            # The `--dirty` notice is for people running it by hand; here it is
            # what `make serve` asks for, on every rebuild.
            logging.getLogger("mkdocs.commands.build").addFilter(_drop_dirty_notice)
        self._filter.docs_dir = self._docs

    def problems_append(self, problem: Problem) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def status(self) -> dict[str, Any]:
        return {
            "built": time.time(),
            "seconds": round(time.monotonic() - self._started, 3),
            "rebuilt": len(self.rebuilt),
            "full": self.full,
            "problems": [
                {
                    "level": p.level,
                    "message": p.message,
                    "file": p.file,
                    "line": p.line,
                    "where": p.where,
                }
                for p in self.problems
            ],
        }

    def write_status(self, site_dir: str) -> None:
        path = Path(site_dir) / STATUS_URI
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), ensure_ascii=False), "utf-8")
        tmp.replace(path)

    # -- incremental rebuilds ---------------------------------------------- #

    def _dep_digest(self, path: Path) -> str:
        key = str(path)
        try:
            st = path.stat()
        except OSError:
            return "missing"
        cached = self._dep_cache.get(key)
        if cached and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
            return cached[2]
        digest = _digest(path.read_bytes())
        self._dep_cache[key] = (st.st_mtime_ns, st.st_size, digest)
        return digest

    def plan(
        self,
        files: Files,
        config: Any,
        *,
        notebook_deps: Callable[[Path], str] | None = None,
        notebook_dirs: tuple[str, ...] = (),
    ) -> list[str]:
        """Mark the pages to rebuild; returns their source URIs (all on a full one)."""
        root = Path(config.config_file_path).parent
        docs = Path(config.docs_dir)
        pages = [
            f
            for f in files.documentation_pages()
            if f.abs_src_path and not f.generated_by
        ]
        seen: dict[str, _Seen] = {}
        for f in pages:
            assert f.abs_src_path is not None
            path = Path(f.abs_src_path)
            st = path.stat()
            hit = self._read.get(f.src_uri)
            if hit is not None and hit[0] == (st.st_mtime_ns, st.st_size):
                digest, title, snippets = hit[1:]
            else:  # read and scanned once per version of the file
                data = path.read_bytes()
                text = data.decode("utf-8", errors="replace")
                digest, title = _digest(data), source_title(text)
                snippets = snippet_paths(text)
                self._read[f.src_uri] = (
                    (st.st_mtime_ns, st.st_size),
                    digest,
                    title,
                    snippets,
                )
            deps = {rel: self._dep_digest(root / rel) for rel in snippets}
            if notebook_deps is not None and f.src_uri.startswith(notebook_dirs):
                deps["<package>"] = notebook_deps(path)
            seen[f.src_uri] = _Seen(digest, title, deps)
        nav_files = sorted(docs.rglob(".nav.yml"))
        structure = _digest(
            b"\0".join(
                [
                    Path(config.config_file_path).read_bytes(),
                    *(p.relative_to(docs).as_posix().encode() for p in nav_files),
                    *(p.read_bytes() for p in nav_files),
                    *sorted(uri.encode() for uri in seen),
                ]
            )
        )
        old = self._seen
        full = (
            not old
            or structure != self._structure
            or any(uri in old and old[uri].title != s.title for uri, s in seen.items())
        )
        rebuilt: list[str] = []
        for f in pages:
            s, before = seen[f.src_uri], old.get(f.src_uri)
            modified = full or before is None or before != s
            if self.dirty:
                _mark(f, modified)
            if modified:
                rebuilt.append(f.src_uri)
        self._seen, self._structure = seen, structure
        self.full, self.rebuilt = full, rebuilt
        return rebuilt

    def keep_titles(self, nav_pages: Iterable[Any]) -> None:
        """Pages a dirty build does not read get the title they had last time."""
        for page in nav_pages:
            if page.markdown is None and page.title is None:
                title = self.titles.get(page.file.src_uri)
                if title:
                    page.title = title


class TemplateCache(BytecodeCache):
    """Compiled Jinja templates kept in memory across rebuilds.

    MkDocs makes a new Jinja environment at every build, so the theme's templates
    are compiled again each time (~1 s); Jinja checks each entry against the
    template's source, so an edited template is compiled afresh.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


def _theme_names(root: str) -> list[str]:
    """What ``FileSystemLoader.list_templates`` finds below ``root``, less dot-files.

    MkDocs drops dot-files and dot-folders from the theme's files anyway; Material
    ships ~14,000 icons under ``.icons/``, which it would otherwise walk and filter at
    every build.
    """
    names: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            if name.startswith("."):
                continue
            path = name if rel == "." else f"{rel}/{name}"
            names.append(path.replace(os.sep, "/"))
    return names


class ThemeFiles:
    """The theme's file list, walked once per ``mkdocs serve`` (not per rebuild).

    The installed theme does not change while serving; the project's ``custom_dir``
    (inside ``docs/``, watched) is walked at every build.
    """

    def __init__(self) -> None:
        self._names: dict[str, list[str]] = {}

    def patch(self, theme: Any) -> None:
        get_env = theme.get_env
        custom = {os.path.normpath(theme.custom_dir)} if theme.custom_dir else set()

        def patched_get_env() -> Any:
            env = get_env()
            loader = env.loader
            if not isinstance(loader, FileSystemLoader):
                return env

            def list_templates() -> list[str]:
                found: set[str] = set()
                for root in loader.searchpath:
                    root = os.path.normpath(root)
                    if root in custom:
                        found.update(_theme_names(root))
                    else:
                        if root not in self._names:
                            self._names[root] = _theme_names(root)
                        found.update(self._names[root])
                return sorted(found)

            loader.list_templates = list_templates  # type: ignore[method-assign]
            return env

        theme.get_env = patched_get_env


def _drop_dirty_notice(record: logging.LogRecord) -> bool:
    return "'dirty' build is being performed" not in str(record.msg)


def status_script(base_url: str) -> str:
    """The tags that load the banner on a served page."""
    return (
        f'<link rel="stylesheet" href="{base_url}/assets/dlnotes/live.css">'
        f'<script src="{base_url}/assets/dlnotes/live.js" '
        f'data-status="{base_url}/{STATUS_URI}"></script>'
    )
