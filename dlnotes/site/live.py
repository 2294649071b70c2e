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

import contextlib
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

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
from dlnotes.site import background
from dlnotes.site.theme_cache import TemplateCache, ThemeFiles

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
        if record.name.startswith("mkdocs.livereload"):
            return True  # the server's own lines ("GET /x 404"): not about a note
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


DEFERRED_BATCH = 4  # pages per background build after a navigation change
VIEW_SECONDS = 120.0  # livereload polls at least once a minute from an open page


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
        self._config_digest = ""
        self._last_problems: set[str] = set()  # pages with warnings last build
        # a navigation change: the pages not built at once, built in later
        # background builds of at most DEFERRED_BATCH pages (see plan)
        self.deferred: list[str] = []
        self.quiet = False  # this build only catches up deferred pages
        self.files: Files | None = None
        self._viewed: dict[str, float] = {}  # page URL -> when a browser showed it
        # pages whose background work finished (their code's outputs): built next
        self._ready: set[str] = set()
        self._ready_now: set[str] = set()
        self._ready_lock = threading.Lock()
        self.titles: dict[str, str] = {}
        self.templates = TemplateCache()
        self.theme_files = ThemeFiles()

    # -- warnings ----------------------------------------------------------- #

    def start_build(self, config: Any) -> None:
        """Turn MkDocs' strict counter off for this build and collect warnings."""
        from mkdocs.utils import CountHandler

        self._started = time.monotonic()
        # pages whose background work finished before this build began; one that
        # finishes later goes to the next build (the plugins of this one may have
        # looked at it already)
        with self._ready_lock:
            self._ready_now, self._ready = self._ready, set()
        self._last_problems = {p.file for p in self.problems if p.file}
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
            # slow work still running (page outputs, labs, figures)
            "background": background.pending(),
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
        config_digest = _digest(Path(config.config_file_path).read_bytes())
        structure = _digest(
            b"\0".join(
                [
                    config_digest.encode(),
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
        changed = {uri for uri, s in seen.items() if old.get(uri) != s}
        changed |= {uri for uri in self._ready_now if uri in seen}
        self._ready_now = set()
        deferred = [uri for uri in self.deferred if uri in seen and uri not in changed]
        self.quiet = False
        if full and old and self.dirty and config_digest == self._config_digest:
            # Only the navigation changed (a page added, removed, renamed or
            # retitled, a .nav.yml edited): every page shows the new nav, but only
            # the changed pages, the pages open in a browser and the pages that had
            # warnings (a new note can fix a link) are built now; the rest follow in
            # background builds that neither reload the browser nor hold requests.
            urgent = changed | self._open(pages) | self._last_problems
            deferred = sorted(uri for uri in seen if uri not in urgent)
            build = urgent
        elif full:
            deferred, build = [], set(seen)
        elif changed or not deferred:
            build = changed  # the user's edits first; deferred pages wait
        else:
            build, deferred = set(deferred[:DEFERRED_BATCH]), deferred[DEFERRED_BATCH:]
            # no reload needed, unless a browser opened one of them meanwhile
            self.quiet = not build & self._open(pages)
        rebuilt: list[str] = []
        for f in pages:
            modified = f.src_uri in build
            if self.dirty:
                _mark(f, modified)
            if modified:
                rebuilt.append(f.src_uri)
        self._seen, self._structure = seen, structure
        self._config_digest = config_digest
        self.full, self.rebuilt, self.deferred = full, rebuilt, deferred
        self.files = files
        return rebuilt

    def built(self) -> set[str]:
        """The pages this build built (the plan plus other plugins' requests)."""
        if self.files is None:
            return set()
        done = {f.src_uri for f in self.files.documentation_pages() if f.is_modified()}
        self.deferred = [uri for uri in self.deferred if uri not in done]
        return done

    def ready(self, uri: str) -> None:
        """Background work for this page finished: build it in the next build."""
        with self._ready_lock:
            self._ready.add(uri)

    def has_ready(self) -> bool:
        with self._ready_lock:
            return bool(self._ready)

    # -- pages open in a browser -------------------------------------------- #

    def viewed(self, url_path: str) -> None:
        """A browser showed (or polls from) the page at this URL path."""
        # WSGI's PATH_INFO is UTF-8 bytes read as Latin-1; a Referer is quoted
        with contextlib.suppress(UnicodeError):
            url_path = url_path.encode("latin-1").decode("utf-8")
        path = unquote(url_path.split("?", 1)[0].split("#", 1)[0]).lstrip("/")
        if path.endswith("index.html"):
            path = path[: -len("index.html")]
        if path == "" or path.endswith("/") or path.endswith(".html"):
            self._viewed[path] = time.monotonic()
            if len(self._viewed) > 1000:
                oldest = sorted(self._viewed, key=self._viewed.__getitem__)[:500]
                for key in oldest:
                    del self._viewed[key]

    def _open(self, pages: list[File]) -> set[str]:
        """Source URIs of the pages a browser showed in the last two minutes."""
        now = time.monotonic()
        urls = {u for u, t in self._viewed.items() if now - t < VIEW_SECONDS}
        # MkDocs writes the home page's URL as "./" and quotes non-ASCII names
        return {f.src_uri for f in pages if unquote(f.url).removeprefix("./") in urls}

    def keep_titles(self, nav_pages: Iterable[Any]) -> None:
        """Pages a dirty build does not read get the title they had last time."""
        for page in nav_pages:
            if page.markdown is None and page.title is None:
                title = self.titles.get(page.file.src_uri)
                if title:
                    page.title = title


def request_build(server: Any) -> None:
    """Have MkDocs' serve loop build again once this build is done."""
    cond = getattr(server, "_rebuild_cond", None)
    if cond is None:
        return
    with cond:
        server._want_rebuild = True
        cond.notify_all()


def quiet_build(server: Any) -> None:
    """This build only catches up pages no browser shows: no reload, no waiting.

    MkDocs holds every page request while a build runs and reloads every open
    page after it; for a background build of deferred pages (none of them open)
    neither is needed, so the build keeps the epoch of the site already shown.
    """
    if server is not None and hasattr(server, "_visible_epoch"):
        with server._epoch_cond:
            server._wanted_epoch = server._visible_epoch
            server._epoch_cond.notify_all()  # requests held since the build began


def _drop_dirty_notice(record: logging.LogRecord) -> bool:
    return "'dirty' build is being performed" not in str(record.msg)


def status_script(base_url: str) -> str:
    """The tags that load the banner on a served page."""
    return (
        f'<link rel="stylesheet" href="{base_url}/assets/dlnotes/live.css">'
        f'<script src="{base_url}/assets/dlnotes/live.js" '
        f'data-status="{base_url}/{STATUS_URI}"></script>'
    )
