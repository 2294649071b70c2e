"""MkDocs plugin ``dlnotes-outputs``: every example's output, produced at build time.

Each page's ``python`` blocks run in order in one Jupyter kernel through the project's
runner (:func:`dlnotes.runner.kernel.run_page`, the path of ``dlnotes run`` and of the
Run buttons), and what they print, the value of the last expression, matplotlib
figures and errors are rendered under each block on the built page.

* **Cache.** A page's outputs are stored under ``.cache/outputs/`` keyed on the code of
  its executed blocks (embedded sections and their imports included) and the bytes of
  every ``dlnotes`` module that code imports, followed transitively. A rebuild with
  nothing changed starts no kernel; editing ``dlnotes/numpy/conv.py`` re-executes
  exactly the pages whose code imports it. Failures are not cached.
* **Failures.** A block that raises (or times out) is reported as a warning naming
  ``docs/page.md:LINE`` with the traceback, so ``mkdocs build --strict`` fails; the
  page shows the traceback and marks the blocks after it as not executed.
* **Not executed.** A fence with the class ``.no-execute``
  (```` ```{.python .no-execute} ````) is skipped at build time (slow or interactive
  code) and shown as such; it keeps its Run button under ``mkdocs serve``.
* **Figures** become PNG files under ``assets/outputs/`` (never base64 in the page or
  the search index), each drawn in the light and the dark theme of
  :mod:`dlnotes.viz.style` and shown with Material's ``#only-light``/``#only-dark``.
  Images over ``max_image_bytes`` and text over ``max_text`` characters are cut with a
  note.
* **Search.** The outputs are added to the page after the search plugin has indexed
  it (``on_post_page``), so they never appear as search previews; math and the code
  cells of lab notebooks are hidden from the indexer too (:func:`search_view`).
* **Serve.** Each output sits in ``<div class="dl-static-output" data-dl-block=N>``
  right after the block's Run toolbar; running the block replaces it with the live
  output.

Options: ``execute`` (default true; ``false`` renders no outputs, for comparisons),
``cache_dir`` (``.cache/outputs``), ``dest`` (``assets/outputs``), ``timeout``
(seconds per block, 120), ``workers`` (kernels at once; 0 = up to 4, one per CPU),
``dark`` (draw dark variants, true), ``max_image_bytes`` (1 MB), ``max_text``
(20 000 characters per output).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.plugins import BasePlugin, CombinedEvent, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from dlnotes.runner.blocks import (
    RUNNABLE_LANGS,
    Block,
    BlockError,
    PageBlocks,
    page_blocks,
    scan_fences,
)
from dlnotes.site.execution import (
    NOT_EXECUTED,
    NOT_REACHED,
    RUN_MARKER,
    SLOT,
    SLOT_RE,
    BackgroundRuns,
    Executor,
    PageOutputs,
    page_key,
    render_block,
    store,
    wrap_output,
)
from dlnotes.site.live import snippet_paths
from dlnotes.site.search_view import (
    search_view,
)

log = logging.getLogger("mkdocs.plugins.dlnotes.outputs")


# --------------------------------------------------------------------------- Markdown


def insert_slots(markdown: str, blocks: PageBlocks, indexes: set[int]) -> str:
    """Put an output slot after each python block in ``indexes``.

    The slot goes after the block's Run marker when the ``dlnotes`` plugin has put one
    there (:func:`dlnotes.runner.blocks.mark_runnable`), so the output follows the
    toolbar. Blocks are matched by order; if the page's python fences do not match
    ``blocks`` the text is returned unchanged.
    """
    lines = markdown.splitlines(keepends=True)
    fences = [f for f in scan_fences(lines) if f.lang in RUNNABLE_LANGS]
    if len(fences) != len(blocks.blocks):
        return markdown
    after: dict[int, str] = {}
    for fence, block in zip(fences, blocks.blocks, strict=True):
        if block.index not in indexes or fence.end >= len(lines):
            continue
        at = fence.end
        # skip the Run marker paragraph: blank line, marker, blank line
        j = at + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and RUN_MARKER.match(lines[j]):
            at = j
        after[at] = f"\n{fence.indent}{SLOT.format(index=block.index)}\n\n"
    if not after:
        return markdown
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i in after:
            if not line.endswith("\n"):
                out.append("\n")
            out.append(after[i])
    return "".join(out)


def fold_sections(markdown: str, blocks: PageBlocks, limit: int) -> str:
    """Fold each embedded package section longer than ``limit`` lines.

    The block becomes a collapsed ``??? dl-code "file · section"`` (pymdownx.details),
    so a page reads as a note and the code is one click away. Run it after
    :func:`insert_slots`: the Run marker and the output stay below the fold.
    """
    lines = markdown.splitlines(keepends=True)
    fences = [f for f in scan_fences(lines) if f.lang in RUNNABLE_LANGS]
    if len(fences) != len(blocks.blocks):
        return markdown
    folds: dict[int, tuple[int, str]] = {}
    for fence, block in zip(fences, blocks.blocks, strict=True):
        count = block.code.count("\n")
        if not block.sections or count <= limit or fence.end >= len(lines):
            continue
        names = " + ".join(
            ref.replace(":", " · ", 1) if ":" in ref else ref for ref in block.sections
        )
        title = f"{names}（{count} 行，点开看代码）".replace('"', "'")
        folds[fence.start] = (fence.end, f'{fence.indent}??? dl-code "{title}"\n\n')
    if not folds:
        return markdown
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i not in folds:
            out.append(lines[i])
            i += 1
            continue
        end, head = folds[i]
        indent = len(head) - len(head.lstrip(" \t"))
        out.append(head)
        for line in lines[i : end + 1]:
            eol = "" if line.endswith("\n") else "\n"
            out.append(line[:indent] + "    " + line[indent:] + eol)
        i = end + 1
    return "".join(out)


# --------------------------------------------------------------------------- plugin


class OutputsConfig(Config):
    execute = c.Type(bool, default=True)
    cache_dir = c.Type(str, default=".cache/outputs")
    dest = c.Type(str, default="assets/outputs")
    timeout = c.Type((int, float), default=120)
    workers = c.Type(int, default=0)
    dark = c.Type(bool, default=True)
    max_image_bytes = c.Type(int, default=1_000_000)
    max_text = c.Type(int, default=20_000)
    notebooks = c.Type(bool, default=True)
    fold_lines = c.Type(int, default=25)
    labs = c.Type(list, default=["labs/"])


@dataclass
class _Page:
    blocks: PageBlocks
    executed: list[Block]
    outputs: PageOutputs | None = None
    running: bool = False  # under serve: its code runs in the background


RUNNING = (
    '<p class="dl-out-info dl-out-running">这一页的代码正在后台运行'
    "（<code>mkdocs serve</code>），输出好了页面会自动刷新。</p>"
)


def _signature(root: Path, paths: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Modification time and size of each file (``(0, 0)`` when missing)."""
    out: list[tuple[int, int]] = []
    for rel in paths:
        try:
            st = (root / rel).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((0, 0))
    return tuple(out)


@dataclass(frozen=True)
class _Read:
    """What a page's blocks were read from: the page and the files it embeds
    (:func:`page_blocks` reads nothing else; a section's setup comes from its
    own module)."""

    stat: tuple[int, int]
    embeds: tuple[str, ...]
    embed_stats: tuple[tuple[int, int], ...]

    def valid(self, st: os.stat_result, root: Path) -> bool:
        return self.stat == (st.st_mtime_ns, st.st_size) and (
            self.embed_stats == _signature(root, self.embeds)
        )


class OutputsPlugin(BasePlugin[OutputsConfig]):
    def __init__(self) -> None:
        self._pages: dict[str, _Page] = {}
        self._images: dict[str, str] = {}  # digest -> site URL (from the site root)
        self._notebooks: dict[str, str] = {}  # page -> its .ipynb (from the site root)
        self._notebook_cache: dict[str, tuple[str, str]] = {}  # page -> (key, json)
        self._full_content: dict[str, str] = {}  # page -> content while indexed
        # page -> (what its blocks were read from, its blocks): a serve rebuild
        # re-reads only the pages (and embedded files) that changed
        self._scanned: dict[str, tuple[_Read, PageBlocks | None]] = {}
        self.kernels_started = 0
        self._serving = False
        self._builds = 0
        self._background = BackgroundRuns()  # under serve

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Defined so that the plugin object (and its caches) lives across rebuilds."""
        self._serving = command == "serve"

    def _scan(self, files: Files, config: Any) -> dict[str, PageBlocks]:
        """The python blocks of every page that has any, and of every lab.

        Kept across ``mkdocs serve`` rebuilds: a page is scanned again only when its
        file or a file it embeds changed (stat signatures).
        """
        root = Path(config.config_file_path).parent
        docs = Path(config.docs_dir)
        labs = tuple(self.config.labs)
        found: dict[str, PageBlocks] = {}
        scanned: dict[str, tuple[_Read, PageBlocks | None]] = {}
        # all files: mkdocs-jupyter makes the labs pages after this plugin's on_files
        for f in files:
            src = f.src_uri
            if not f.abs_src_path or f.generated_by:
                continue
            is_lab = src.startswith(labs) and src.endswith(".py")
            if not (is_lab or (src.endswith(".md") and f.is_documentation_page())):
                continue
            path = Path(f.abs_src_path)
            try:
                st = path.stat()
            except OSError:
                continue
            hit = self._scanned.get(src)
            if hit is not None and hit[0].valid(st, root):
                scanned[src] = hit
                if hit[1] is not None:
                    found[src] = hit[1]
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            embeds = tuple(snippet_paths(text))
            key = _Read((st.st_mtime_ns, st.st_size), embeds, _signature(root, embeds))
            blocks: PageBlocks | None = None
            if is_lab or "```" in text or "~~~" in text:
                try:
                    blocks = page_blocks(docs, src, root)
                except BlockError as exc:
                    log.warning("dlnotes-outputs: %s: %s", src, exc)
                    continue  # not kept: the warning is repeated until it is fixed
            if blocks is not None and not blocks.blocks:
                blocks = None
            scanned[src] = (key, blocks)
            if blocks is not None:
                found[src] = blocks
        self._scanned = scanned
        return found

    def on_files(self, files: Files, /, *, config: Any) -> Files:
        self._pages = {}
        self._images = {}
        self._notebooks = {}
        self.kernels_started = 0
        started = time.monotonic()
        scanned = self._scan(files, config)
        if self.config.notebooks:
            self._add_notebooks(files, config, scanned)
        if not self.config.execute:
            return files
        root = Path(config.config_file_path).parent
        docs = Path(config.docs_dir)
        cache = root / self.config.cache_dir
        todo: list[tuple[str, PageBlocks, str]] = []
        for src, blocks in scanned.items():
            if not src.endswith(".md"):
                continue  # labs run in mkdocs-jupyter
            executed = [b for b in blocks.blocks if b.runnable and b.build]
            entry = _Page(blocks, executed)
            self._pages[src] = entry
            if not executed:
                continue
            key = page_key(executed)
            stored = cache / f"{key}.json"
            failed = self._background.failed.get(key)
            if failed is not None:  # under serve, until the code changes
                entry.outputs = failed
                continue
            broken = self._background.broken.get(key)
            if broken is not None:
                log.warning("dlnotes-outputs: docs/%s: not run: %s", src, broken)
                continue
            if stored.is_file():
                try:
                    entry.outputs = PageOutputs.from_json(
                        stored.read_text(encoding="utf-8")
                    )
                    continue
                except (ValueError, KeyError):
                    pass  # a damaged cache entry is re-made
            run = PageBlocks(blocks.page, blocks.path, list(executed))
            todo.append((src, run, key))
        executor = Executor(
            root, cache, timeout=float(self.config.timeout), dark=self.config.dark
        )
        if todo and self._serving:
            # the pages are built at once with a "running" note under their code;
            # the dlnotes plugin's serve loop builds each again when it has run
            ready = getattr(config.plugins.get("dlnotes"), "page_ready", None)
            for src, run, key in todo:
                self._pages[src].running = True
                self._background.submit(executor, src, run, key, ready)
            todo = []
        if todo:
            workers = self.config.workers or min(4, os.cpu_count() or 1)
            with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
                done = list(pool.map(lambda job: executor.execute(*job), todo))
            for out in done:
                self._pages[out.page].outputs = out
                store(out, cache)
        self.kernels_started = executor.kernels_started
        docs_name = os.path.relpath(docs, root)
        for _, entry in sorted(self._pages.items()):
            result = entry.outputs
            if result is None:
                continue
            if result.failed is not None:
                log.warning(
                    "dlnotes-outputs: %s",
                    result.failure.replace("docs/", docs_name + "/", 1),
                )
            for events in result.blocks.values():
                for event in events:
                    for digest in (event.get("image"), event.get("dark")):
                        if digest and digest not in self._images:
                            uri = f"{self.config.dest}/{digest}.png"
                            self._images[digest] = uri
                            files.append(
                                File.generated(
                                    config,
                                    uri,
                                    abs_src_path=str(cache / "img" / f"{digest}.png"),
                                )
                            )
        ran = sum(1 for e in self._pages.values() if e.outputs and e.outputs.executed)
        background = sum(1 for e in self._pages.values() if e.running)
        self._builds += 1
        quiet = self._serving and self._builds > 1 and not ran and not background
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "dlnotes-outputs: %d pages with code, %d executed, %d kernels started, "
            "%d running in the background (%.1f s, cache %s)",
            len(self._pages),
            ran,
            self.kernels_started,
            background,
            time.monotonic() - started,
            cache,
        )
        return files

    def _add_notebooks(
        self, files: Files, config: Any, scanned: dict[str, PageBlocks]
    ) -> None:
        """Every page with runnable code, and every lab, as a ``.ipynb`` file.

        Kept in memory by the page's text and code, so a ``mkdocs serve`` rebuild
        only redoes the notebooks of the pages that changed.
        """
        from dlnotes.runner.notebook import notebook_json, page_notebook

        root = Path(config.config_file_path).parent
        docs = Path(config.docs_dir)
        for src, blocks in scanned.items():
            if not blocks.runnable:
                continue
            uri = Path(src).with_suffix(".ipynb").as_posix()
            if files.get_file_from_path(uri) is not None:
                continue  # a notebook in docs/ is published as it is
            h = hashlib.sha256(blocks.path.read_bytes())
            for b in blocks.blocks:
                h.update(f"{b.index}\0{b.setup}\0{b.code}\0{b.reason}".encode())
            key = h.hexdigest()
            cached = self._notebook_cache.get(src)
            if cached is None or cached[0] != key:
                try:
                    nb = page_notebook(docs, src, root, blocks=blocks)
                except (BlockError, ValueError, OSError) as exc:
                    log.warning("dlnotes-outputs: %s: no notebook: %s", src, exc)
                    continue
                cached = (key, notebook_json(nb))
                self._notebook_cache[src] = cached
            files.append(File.generated(config, uri, content=cached[1]))
            self._notebooks[src] = uri

    @event_priority(100)  # before the search plugin indexes the page
    def _before_search(
        self, context: Any, /, *, page: Page, config: Any, nav: Any
    ) -> Any:
        download = self._notebooks.get(page.file.src_uri)
        if download:
            page.dl_notebook = download  # type: ignore[attr-defined]
        if page.content:
            # the search plugin indexes page.content next: show it the prose only,
            # then put the page back (_after_search, after the search plugin)
            is_lab = page.file.src_uri.endswith((".py", ".ipynb"))
            self._full_content[page.file.src_uri] = page.content
            page.content = search_view(page.content, notebook=is_lab)
        return context

    @event_priority(-100)
    def _after_search(
        self, context: Any, /, *, page: Page, config: Any, nav: Any
    ) -> Any:
        full = self._full_content.pop(page.file.src_uri, None)
        if full is not None:
            page.content = full
        return context

    on_page_context = CombinedEvent(_before_search, _after_search)

    @event_priority(-50)  # after the dlnotes plugin has placed the Run markers
    def on_page_markdown(
        self, markdown: str, /, *, page: Page, config: Any, files: Files
    ) -> str:
        src = page.file.src_uri
        entry = self._pages.get(src)
        if entry is not None:
            indexes = {b.index for b in entry.blocks.blocks if b.runnable}
            markdown = insert_slots(markdown, entry.blocks, indexes)
        if self.config.fold_lines and "--8<--" in markdown and page.file.abs_src_path:
            if entry is not None:
                blocks = entry.blocks
            else:
                root = Path(config.config_file_path).parent
                try:
                    blocks = page_blocks(Path(config.docs_dir), src, root)
                except BlockError:
                    return markdown
            markdown = fold_sections(markdown, blocks, self.config.fold_lines)
        return markdown

    def on_post_page(self, output: str, /, *, page: Page, config: Any) -> str:
        entry = self._pages.get(page.file.src_uri)
        if entry is None or "dl-out" not in output:
            return output
        out = entry.outputs
        by_index = {b.index: b for b in entry.blocks.blocks}
        running = entry.running

        def url(digest: str) -> str:
            return get_relative_url(self._images[digest], page.url or ".")

        def replace(m: re.Match[str]) -> str:
            index = int(m.group(1))
            block = by_index.get(index)
            if block is None:
                return ""
            if not block.build:
                return wrap_output(index, NOT_EXECUTED, "dl-not-executed")
            if running:
                return wrap_output(index, RUNNING, "dl-not-executed")
            if out is None or index not in out.blocks:
                return wrap_output(index, NOT_REACHED, "dl-not-executed")
            inner = render_block(
                out.blocks[index],
                image_url=url,
                max_text=self.config.max_text,
                max_image_bytes=self.config.max_image_bytes,
            )
            if not inner:
                return ""
            extra = "dl-out-failed" if out.failed == index else ""
            return wrap_output(index, inner, extra)

        return SLOT_RE.sub(replace, output)
