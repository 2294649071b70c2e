"""The ``dlnotes`` MkDocs plugin.

* publishes the vendored front-end assets (MathJax, Mermaid) so the site works offline;
* renders the tracker's items (questions, resources, plan chapters) with their status
  (:mod:`dlnotes.kb.render`);
* generates the 学习进度 page (``progress.md``) from the notes at every build
  (:mod:`dlnotes.kb.progress`; the same numbers as ``dlnotes progress``);
* marks each runnable ``python`` block (:mod:`dlnotes.runner.blocks`); under
  ``mkdocs serve --livereload`` the page gets a Run toolbar per block, backed by one
  Jupyter kernel per page (:mod:`dlnotes.runner.pool`);
* under ``mkdocs serve --livereload``, adds the study controls and the Run buttons
  behind one loopback-only endpoint: the browser logs in once with the link the
  server prints (cookie), and every request is Host/Origin-checked and carries the
  per-run token (:mod:`dlnotes.site.serve`);
* passes the HTML of every page's content through an allow-list sanitiser
  (:mod:`dlnotes.site.sanitize`), late, after the other plugins: a note cannot
  bring scripts, event handlers or ``javascript:`` links into the site.
* under ``mkdocs serve``, a warning never aborts a rebuild (a banner on the pages
  and ``file:line`` in the terminal say what is wrong), and with ``--dirty`` only the
  pages whose text, embedded code or backlinks changed are rebuilt
  (:mod:`dlnotes.site.live`).

Options (``plugins: - dlnotes: {...}``): ``vendor`` (publish MathJax/Mermaid, default
true), ``vendor_prefix``, ``tracker`` (render items and the progress page, default
true), ``progress_page`` (``progress.md``; empty to disable), ``serve_controls``
(default true), ``run_blocks`` (Run buttons under serve, default true),
``run_timeout`` (seconds a block may run, 60), ``kernel_idle_timeout`` (seconds before
an idle page kernel is shut down, 600), ``max_kernels`` (page kernels at once, 8),
``sanitize`` (pass every page's HTML through the allow-list sanitiser, default true).

It never imports torch: the knowledge-base tooling stays independent of the learning
core.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
from datetime import date
from pathlib import Path
from typing import Any

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, CombinedEvent, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from dlnotes.kb.notes import (
    KnowledgeBase,
    ParsedPage,
    page_topic,
    parse_page,
    read_note,
)
from dlnotes.kb.progress import progress_markdown
from dlnotes.kb.render import render_html, render_markdown, render_parsed
from dlnotes.runner.blocks import BlockError, PageBlocks, mark_runnable, page_blocks
from dlnotes.site.assets import AssetError, static_file, vendor_assets
from dlnotes.site.indexes import merge_search_index, merge_tag_mappings, tag_mappings
from dlnotes.site.live import LiveSite, quiet_build, request_build, status_script
from dlnotes.site.run_ui import mark_notebook_cells
from dlnotes.site.sanitize import (
    removed,
    sanitize,
    sanitize_notebook,
    split_notebook,
)

log = logging.getLogger("mkdocs.plugins.dlnotes")


class DlnotesConfig(Config):
    vendor = c.Type(bool, default=True)
    vendor_prefix = c.Type(str, default="assets/vendor")
    tracker = c.Type(bool, default=True)
    progress_page = c.Type(str, default="progress.md")
    review_page = c.Type(str, default="review.md")
    serve_controls = c.Type(bool, default=True)
    run_blocks = c.Type(bool, default=True)
    run_timeout = c.Type((int, float), default=60)
    kernel_idle_timeout = c.Type((int, float), default=600)
    max_kernels = c.Type(int, default=8)
    sanitize = c.Type(bool, default=True)


class DlnotesPlugin(BasePlugin[DlnotesConfig]):
    def __init__(self) -> None:
        self._serving = False
        self._session: Any = None  # dlnotes.site.serve.Session under mkdocs serve
        self._login_file: Path | None = None
        self._kb: KnowledgeBase | None = None
        self._titles: dict[str, str] = {}
        self._parsed: dict[str, ParsedPage] = {}
        self._blocks: dict[str, PageBlocks] = {}
        self._pool: Any = None  # KernelPool under mkdocs serve
        self._controls = False  # serving on a loopback address: pages get controls
        self._live: LiveSite | None = None  # the serve loop (mkdocs serve only)
        self._server: Any = None  # MkDocs' LiveReloadServer (mkdocs serve only)
        self._tags: dict[str, Any] = {}  # Material's tags per page, last build
        self._progress_key = ""

    # Defining on_startup keeps this object alive across `mkdocs serve` rebuilds.
    def on_startup(self, *, command: str, dirty: bool) -> None:
        self._serving = command == "serve"
        self._live = LiveSite(dirty) if self._serving else None

    def on_config(self, config: Any) -> Any:
        # Material's Chinese search loads jieba, which announces it on stderr
        logging.getLogger("jieba").setLevel(logging.WARNING)
        if self._live is not None:
            self._live.start_build(config)
        if self._serving:
            from dlnotes.site.serve import is_loopback

            self._controls = is_loopback(config.dev_addr.host)
        return config

    def _on_files(self, files: Files, /, *, config: Any) -> Files:
        if self._live is not None:
            for name in ("live.js", "live.css"):
                files.append(static_file(config, name))
        if self.config.vendor:
            root = Path(config.config_file_path).parent
            try:
                assets = vendor_assets(root, self.config.vendor_prefix)
            except AssetError as exc:
                raise PluginError(str(exc)) from exc
            for asset in assets:
                files.append(
                    File.generated(config, asset.dest_uri, abs_src_path=str(asset.src))
                )
            log.debug("dlnotes: %d vendored asset files", len(assets))
        if self.config.tracker:
            docs = Path(config.docs_dir)
            texts = [
                (f.src_uri, read_note(Path(f.abs_src_path)))
                for f in files.documentation_pages()
                if f.abs_src_path and not f.generated_by
            ]
            # a page whose text did not change keeps its parse (serve rebuilds)
            old = self._parsed
            self._kb = KnowledgeBase(
                docs,
                [
                    old[page]
                    if page in old and "".join(old[page].lines) == text
                    else parse_page(text, page, docs / page)
                    for page, text in sorted(texts)
                ],
            )
            # on_page_markdown reuses these parses when the text is unchanged
            self._parsed = {p.page: p for p in self._kb.pages}
            generated = (
                ("progress_page", self.config.progress_page, "学习进度"),
                ("review_page", self.config.review_page, "复习"),
            )
            for option, path, title in generated:
                if not path:
                    continue
                if files.get_file_from_path(path) is not None:
                    raise PluginError(
                        f"dlnotes: {path} is generated from the notes; "
                        f"remove docs/{path} (or set {option})"
                    )
                files.append(File.generated(config, path, content=f"# {title}\n"))
        return files

    @event_priority(-100)
    def _plan_rebuild(self, files: Files, /, *, config: Any) -> Files:
        """After every plugin added its files: which pages a dirty rebuild builds."""
        if self._live is not None:
            from dlnotes.site.figures import cached_dependency_hash

            self._live.plan(
                files,
                config,
                notebook_deps=cached_dependency_hash,
                notebook_dirs=("labs/",),
            )
            if self._live.quiet:
                quiet_build(self._server)
            if self._live.dirty and self._kb is not None:
                # the progress and review pages show the tracked items (and
                # today's dues): rebuilt when those change, not at every edit
                key = repr(
                    (
                        date.today(),
                        [
                            (p.questions, p.resources, p.chapters)
                            for p in self._kb.pages
                        ],
                    )
                )
                if key == self._progress_key and not self._live.full:
                    for path in (self.config.progress_page, self.config.review_page):
                        f = files.get_file_from_path(path) if path else None
                        if f is not None:
                            f.is_modified = lambda: False  # type: ignore[method-assign]
                self._progress_key = key
        return files

    on_files = CombinedEvent(_on_files, _plan_rebuild)

    def on_nav(self, nav: Navigation, /, *, config: Any, files: Files) -> Navigation:
        """Remember each topic folder's title in the nav, for the progress page."""
        if self._live is not None:
            self._live.keep_titles(nav.pages)
        titles: dict[str, str] = {}
        for item in nav.items:
            if isinstance(item, Section):
                pages = [p for p in _walk(item) if p.file.src_uri.count("/")]
                for page in pages[:1]:
                    titles.setdefault(page_topic(page.file.src_uri), item.title)
            elif isinstance(item, Page) and "/" not in item.file.src_uri:
                titles.setdefault("home", item.title or "首页")
        self._titles = titles
        return nav

    @event_priority(110)  # before Material's tags plugin fills its listings (100)
    def on_env(self, env: Any, /, *, config: Any, files: Files) -> Any:
        if self._live is not None:
            env.bytecode_cache = self._live.templates
            if self._live.dirty:
                merge_tag_mappings(config, files, self._tags)
        return env

    def on_page_markdown(
        self, markdown: str, /, *, page: Page, config: Any, files: Files
    ) -> str:
        src = page.file.src_uri
        if self.config.tracker:
            if src == self.config.progress_page and page.file.generated_by:
                assert self._kb is not None
                return progress_markdown(self._kb, titles=self._titles, page=src)
            if src == self.config.review_page and page.file.generated_by:
                assert self._kb is not None
                from dlnotes.kb.review_page import review_page_markdown

                # a list of every due question: search results point at the notes
                page.meta["search"] = {"exclude": True}
                return review_page_markdown(self._kb, page=src)
            parsed = self._parsed.get(src)
            if parsed is not None and "".join(parsed.lines) == markdown:
                markdown = render_parsed(parsed)
            else:
                markdown = render_markdown(markdown, src)
        if self.config.run_blocks and page.file.abs_src_path and "```" in markdown:
            root = Path(config.config_file_path).parent
            try:
                blocks = page_blocks(Path(config.docs_dir), src, root)
            except BlockError as exc:
                log.warning("dlnotes: %s: %s", src, exc)
                return markdown
            if blocks.runnable:
                self._blocks[src] = blocks
                markdown = mark_runnable(markdown, blocks)
        return markdown

    @event_priority(0)
    def _render_tracker(
        self, html: str, /, *, page: Page, config: Any, files: Files
    ) -> str:
        src = page.file.src_uri
        if self.config.run_blocks and src.endswith(".py") and "jp-CodeCell" in html:
            # a lab notebook (mkdocs-jupyter): its code cells get Run markers too
            root = Path(config.config_file_path).parent
            try:
                blocks = page_blocks(Path(config.docs_dir), src, root)
            except BlockError as exc:
                log.warning("dlnotes: %s: %s", src, exc)
            else:
                marked = mark_notebook_cells(html, blocks)
                if marked != html:
                    self._blocks[src] = blocks
                    html = marked
        if not self.config.tracker:
            return html
        html, anchors = render_html(html)
        if anchors and page.present_anchor_ids is not None:
            # the question anchors exist only now: tell MkDocs' anchor validation
            page.present_anchor_ids |= anchors
        return html

    @event_priority(-100)  # last: after every other plugin has added its HTML
    def _sanitize(self, html: str, /, *, page: Page, config: Any, files: Files) -> str:
        if not self.config.sanitize:
            return html
        if page.file.src_uri.endswith(".md"):
            clean = sanitize(html)
            dropped = removed(html, clean)
        else:  # a notebook rendered by mkdocs-jupyter: its template head is kept
            clean = sanitize_notebook(html)
            dropped = removed(split_notebook(html)[1], split_notebook(clean)[1])
        if dropped:
            # not a warning: a strict build of a note with a payload still succeeds
            log.info(
                "dlnotes: %s: the sanitiser removed %s",
                page.file.src_uri,
                ", ".join(dropped),
            )
        return clean

    on_page_content = CombinedEvent(_render_tracker, _sanitize)

    def on_post_page(self, output: str, /, *, page: Page, config: Any) -> str:
        if self._live is not None:
            if page.title:
                self._live.titles[page.file.src_uri] = page.title
            at = output.rfind("</body>")
            if at >= 0:
                base = get_relative_url(".", page.url)
                output = output[:at] + status_script(base) + output[at:]
        if not (self._serving and self._controls):
            return output
        study = self.config.serve_controls and self.config.tracker
        review = bool(study) and "data-dl-review" in output
        study = study and "dl-ctl" in output
        blocks = self._blocks.get(page.file.src_uri)
        run = None
        if blocks is not None and "dl-run" in output:
            from dlnotes.site.run_ui import run_config

            run = run_config(blocks, float(self.config.run_timeout))
        at = output.rfind("</body>")
        if at < 0 or not (study or run or review):
            return output
        from dlnotes.site.serve import API_PATH, page_config

        # no secret here: the endpoint adds the token for a logged-in browser only
        data = page_config(
            {"endpoint": API_PATH, "study": study, "run": run, "review": review}
        )
        return output[:at] + data + output[at:]

    @event_priority(10)  # before Material's search plugin writes its index
    def _merge_search(self, *, config: Any) -> None:
        live = self._live
        if live is not None and live.dirty and live.files is not None:
            merge_search_index(config, live.files, live.built())

    def _after_build(self, *, config: Any) -> None:
        if self._live is not None:
            self._tags = tag_mappings(config)
            from dlnotes.site import background

            background.start()  # slow work queued by the plugins, now the site is out
            self._live.write_status(config.site_dir)
            live = self._live
            if live.deferred:
                request_build(self._server)
            log.info(
                "dlnotes: %s %d pages, %d warnings%s",
                "built" if live.full else "rebuilt",
                len(live.rebuilt),
                len(live.problems),
                f" ({len(live.deferred)} more in the background: new navigation)"
                if live.deferred
                else "",
            )

    on_post_build = CombinedEvent(_merge_search, _after_build)

    @event_priority(-50)  # after mkdocs-jupyter's on_pre_page
    def on_pre_page(self, page: Page, /, *, config: Any, files: Files) -> Page:
        """Under serve, a lab notebook not executed yet runs in the background."""
        if self._live is not None:
            from dlnotes.site.notebooks import defer

            defer(page, config, self.page_ready)
        return page

    def page_ready(self, uri: str) -> None:
        """Called from a background thread: a page's code has run (its outputs
        are cached); build that page again and reload the browser."""
        if self._live is not None:
            self._live.ready(uri)
            request_build(self._server)

    def on_serve(self, server: Any, /, *, config: Any, builder: Any) -> Any:
        from dlnotes.site.watch import use_inotify

        log.debug("dlnotes: watching for changes with %s", use_inotify(server))
        self._server = server
        if self._live is not None and self._live.has_ready():
            request_build(server)  # pages whose code ran during the first build
        study = self.config.serve_controls and self.config.tracker
        from dlnotes.kb.tracker import Tracker
        from dlnotes.site.serve import (
            Endpoint,
            Session,
            is_loopback,
            study_handlers,
            write_login_file,
        )

        host, port = config.dev_addr.host, config.dev_addr.port
        if not is_loopback(host):
            log.warning(
                "dlnotes: study controls and Run buttons disabled: mkdocs serve "
                "listens on %s, not on a loopback address",
                host,
            )
            return server
        handlers = {}
        if study:
            from dlnotes.site.review_ui import review_handlers

            tracker = Tracker(Path(config.docs_dir))
            handlers.update(study_handlers(tracker))
            handlers.update(review_handlers(tracker))
        if self.config.run_blocks:
            from dlnotes.runner.pool import KernelPool
            from dlnotes.site.run_ui import run_handlers

            self._pool = KernelPool(
                Path(config.config_file_path).parent,
                Path(config.docs_dir),
                timeout=float(self.config.run_timeout),
                idle_timeout=float(self.config.kernel_idle_timeout),
                max_kernels=int(self.config.max_kernels),
            )
            handlers.update(run_handlers(self._pool))
            atexit.register(self._pool.close)
            _stop_on_sigterm()
        self._session = Session(port)
        url = self._session.login_url("127.0.0.1" if ":" not in host else host)
        # installed even without controls: it checks Host on every path
        server.set_app(
            Endpoint(
                server.get_app(),
                self._session,
                host,
                handlers,
                on_view=self._live.viewed if self._live is not None else None,
            )
        )
        if not handlers:
            return server
        try:
            self._login_file = write_login_file(url, port)
            where = f" (also in {self._login_file}, readable only by you)"
            atexit.register(self._remove_login_file)
        except OSError as exc:
            where = f" (could not write the login file: {exc})"
        log.info(
            "dlnotes: to use the study controls and Run buttons, open\n    %s\n  "
            "in your browser once%s",
            url,
            where,
        )
        return server

    def _remove_login_file(self) -> None:
        if self._login_file is not None:
            self._login_file.unlink(missing_ok=True)
            self._login_file = None

    def on_shutdown(self) -> None:
        self._remove_login_file()
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _stop_on_sigterm() -> None:
    """Let ``kill`` (SIGTERM) stop ``mkdocs serve`` like Ctrl-C: kernels shut down."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _walk(section: Section) -> list[Page]:
    pages: list[Page] = []
    for child in section.children:
        if isinstance(child, Page):
            pages.append(child)
        elif isinstance(child, Section):
            pages.extend(_walk(child))
    return pages
