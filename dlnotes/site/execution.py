"""Build-time execution of page code: cache keys, the executor, output HTML.

Used by the ``dlnotes-outputs`` plugin (:mod:`dlnotes.site.outputs`); nothing here
imports MkDocs.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlnotes.fileio import atomic_write
from dlnotes.runner.blocks import (
    Block,
    PageBlocks,
)
from dlnotes.runner.kernel import OK, Event, Kernel, png_size, run_page

log = logging.getLogger("mkdocs.plugins.dlnotes.outputs")

PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Bumped when the cached form or the way pages run changes.
CACHE_VERSION = "1"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SLOT = '<span class="dl-out" data-dl-block="{index}"></span>'
SLOT_RE = re.compile(
    r'(?:<p>\s*)?<span class="dl-out" data-dl-block="(\d+)"></span>(?:\s*</p>)?'
)
RUN_MARKER = re.compile(r'^\s*<span class="dl-run" data-dl-block="\d+"')


# --------------------------------------------------------------------------- keys


@functools.lru_cache(maxsize=1024)
def _module_imports(path: str, stamp: tuple[int, int], module: str) -> frozenset[str]:
    """The modules a package file imports, parsed once per version of the file."""
    from dlnotes.site.figures import _imports

    current = f"{module}.__init__" if path.endswith("__init__.py") else module
    return frozenset(_imports(Path(path).read_text(encoding="utf-8"), current))


@functools.lru_cache(maxsize=1024)
def _file_digest(path: str, stamp: tuple[int, int]) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def package_modules(source: str, package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Every module of the package ``source`` imports, followed transitively.

    ``import dlnotes.models.resnet`` also runs the packages above it, so their
    ``__init__`` files count too. Returns module name -> file.
    """
    from dlnotes.site.figures import _imports, _module_file

    seen: dict[str, Path] = {}
    todo = list(_imports(source))
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            module = ".".join(parts[:i])
            if module in seen:
                continue
            path = _module_file(module, package_dir)
            if path is None:
                continue
            seen[module] = path
            todo += _module_imports(str(path), _stamp(path), module)
    return seen


def page_key(blocks: Iterable[Block], package_dir: Path = PACKAGE_DIR) -> str:
    """The cache key of a page: its executed code and the package code it imports."""
    h = hashlib.sha256(f"dlnotes-outputs {CACHE_VERSION}\n".encode())
    sources = []
    for b in blocks:
        h.update(f"block {b.index}\n{b.setup}\n---\n{b.code}\n===\n".encode())
        sources.append(f"{b.setup}\n{b.code}")
    modules = package_modules("\n".join(sources), package_dir)
    for name in sorted(modules):
        path = modules[name]
        h.update(f"{name} {_file_digest(str(path), _stamp(path))}\n".encode())
    from dlnotes.viz.style import matplotlibrc

    h.update(matplotlibrc("light").encode() + matplotlibrc("dark").encode())
    return h.hexdigest()[:32]


# --------------------------------------------------------------------------- running


@dataclass
class PageOutputs:
    """What a page's blocks printed and drew, as stored in the cache."""

    page: str
    key: str
    blocks: dict[int, list[Event]] = field(default_factory=dict)
    failed: int | None = None  # index of the block that failed
    failure: str = ""  # its location and traceback
    executed: bool = False  # run in this build (not read from the cache)

    def to_json(self) -> str:
        return json.dumps(
            {
                "page": self.page,
                "key": self.key,
                "blocks": {str(k): v for k, v in self.blocks.items()},
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> PageOutputs:
        data = json.loads(text)
        return cls(
            data["page"],
            data["key"],
            {int(k): v for k, v in data["blocks"].items()},
        )


def _apply_clear(events: list[Event]) -> list[Event]:
    """Events as they stand at the end: ``clear`` drops what came before it."""
    kept: list[Event] = []
    for event in events:
        if event["type"] == "clear":
            kept = [e for e in kept if e["type"] == "info"]
        else:
            kept.append(event)
    return kept


class Executor:
    """Runs pages in kernels (several at once) and stores their images."""

    def __init__(self, root: Path, cache: Path, *, timeout: float, dark: bool):
        self.root = root
        self.cache = cache
        self.images = cache / "img"
        self.timeout = timeout
        self.dark = dark
        self.kernels_started = 0
        self._lock = threading.Lock()

    def _kernel(self, theme: str) -> Kernel:
        from dlnotes.viz.style import write_matplotlibrc

        rc = write_matplotlibrc(self.cache / f"mplrc-{theme}", theme)  # type: ignore[arg-type]
        # One thread per kernel: several pages run at once, and BLAS or torch
        # threads competing for the same cores make a build many times slower.
        env = {"MATPLOTLIBRC": str(rc), **{v: "1" for v in THREAD_VARS}}
        kernel = Kernel(self.root, env=env)
        kernel.start()
        with self._lock:
            self.kernels_started += 1
        return kernel

    def _run(self, blocks: PageBlocks, theme: str) -> list[Any]:
        kernel = self._kernel(theme)
        try:
            return run_page(blocks, self.root, timeout=self.timeout, kernel=kernel)
        finally:
            kernel.shutdown()

    def _store_png(self, data: str) -> str:
        import base64

        raw = base64.b64decode(data)
        digest = hashlib.sha256(raw).hexdigest()[:24]
        self.images.mkdir(parents=True, exist_ok=True)
        path = self.images / f"{digest}.png"
        if not path.exists():
            atomic_write(path, raw)
        return digest

    def execute(self, page: str, blocks: PageBlocks, key: str) -> PageOutputs:
        out = PageOutputs(page, key, executed=True)
        results = self._run(blocks, "light")
        for r in results:
            events = []
            for event in _apply_clear(r.events):
                if "png" in event:
                    event = dict(event)
                    png = event.pop("png")
                    size = png_size(png)
                    event["image"] = self._store_png(png)
                    event["bytes"] = len(png) * 3 // 4
                    if size:
                        event["width"], event["height"] = size
                events.append(event)
            out.blocks[r.block.index] = events
            if r.status != OK:
                out.failed = r.block.index
                error = r.error
                detail = error["traceback"] if error else r.status
                out.failure = f"{r.block.location()}: block {r.block.index} {r.status}"
                out.failure += f"\n{detail}"
        has_images = any("image" in e for ev in out.blocks.values() for e in ev)
        if self.dark and has_images and out.failed is None:
            self._add_dark(blocks, out)
        return out

    def _add_dark(self, blocks: PageBlocks, out: PageOutputs) -> None:
        """Run the page again in the dark theme; pair its figures with the light."""
        results = self._run(blocks, "dark")
        for r in results:
            light = [e for e in out.blocks.get(r.block.index, []) if "image" in e]
            dark = [e["png"] for e in _apply_clear(r.events) if "png" in e]
            if r.status != OK or len(dark) != len(light):
                continue  # not the same figures: the light one shows in both themes
            for event, png in zip(light, dark, strict=True):
                event["dark"] = self._store_png(png)


# --------------------------------------------------------------------------- HTML


def store(out: PageOutputs, cache: Path) -> None:
    """Write a page's outputs to the cache (atomically); failures are not cached."""
    if out.failed is not None:
        return
    atomic_write(cache / f"{out.key}.json", out.to_json().encode("utf-8"))


class BackgroundRuns:
    """Under ``mkdocs serve``: pages' code run after the build
    (:mod:`dlnotes.site.background`).

    The first ``make serve`` of a fresh clone is served in seconds instead of after
    every page has run; a page whose code changed shows its new text at once and
    its outputs when they are ready. Each page runs once per cache key. A failed
    result is kept in memory (failures are not cached on disk) so a failing page is
    not run again at every rebuild, only when its code changes.
    """

    def __init__(self) -> None:
        self.failed: dict[str, PageOutputs] = {}
        self.broken: dict[str, str] = {}  # key -> why it could not run at all

    def submit(
        self,
        executor: Executor,
        page: str,
        blocks: PageBlocks,
        key: str,
        done: Any = None,
    ) -> None:
        """Run ``blocks`` of ``page`` after this build; then ``done(page)``."""
        from dlnotes.site import background

        def job() -> None:
            try:
                out = executor.execute(page, blocks, key)
            except Exception as exc:  # e.g. a kernel that would not start
                self.broken[key] = f"{type(exc).__name__}: {exc}"
                return
            store(out, executor.cache)
            if out.failed is not None:
                self.failed[key] = out

        then = None if done is None else (lambda: done(page))
        background.later(f"outputs {page} {key}", job, then)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… 输出太长，只显示前 {limit} 个字符"


def _carriage_returns(text: str) -> str:
    """What a terminal shows for text with ``\\r`` (progress bars): the last write."""
    if "\r" not in text:
        return text
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def _pre(cls: str, text: str, limit: int) -> str:
    body = html.escape(_truncate(_carriage_returns(text), limit).rstrip("\n"))
    return f'<pre class="{cls}"><code>{body}</code></pre>'


def render_block(
    events: list[Event],
    *,
    image_url: Any,
    max_text: int,
    max_image_bytes: int,
) -> str:
    """The HTML of one block's output (``image_url(digest)`` -> the image URL)."""
    parts: list[str] = []
    stream: list[str] = []
    stream_name = ""

    def flush() -> None:
        nonlocal stream, stream_name
        if stream:
            cls = "dl-out-stream" + (
                " dl-out-stderr" if stream_name == "stderr" else ""
            )
            parts.append(_pre(cls, "".join(stream), max_text))
        stream, stream_name = [], ""

    for event in events:
        kind = event["type"]
        if kind == "stream":
            if stream and event["name"] != stream_name:
                flush()
            stream_name = event["name"]
            stream.append(event["text"])
            continue
        flush()
        if kind in ("result", "display") and "image" in event:
            size = int(event.get("bytes", 0))
            if size > max_image_bytes:
                limit = max_image_bytes // 1024
                parts.append(
                    f'<p class="dl-out-info">图片太大（{size // 1024} KB，'
                    f"上限 {limit} KB），未显示</p>"
                )
                continue
            dims = ""
            if "width" in event:
                dims = f' width="{event["width"]}" height="{event["height"]}"'
            light = image_url(event["image"])
            alt = "代码输出的图"
            if "dark" in event:
                dark = image_url(event["dark"])
                imgs = (
                    f'<img src="{light}#only-light" alt="{alt}"{dims} loading="lazy">'
                    f'<img src="{dark}#only-dark" alt="{alt}"{dims} loading="lazy">'
                )
            else:
                imgs = f'<img src="{light}" alt="{alt}"{dims} loading="lazy">'
            parts.append(f'<div class="dl-out-figure">{imgs}</div>')
        elif kind in ("result", "display") and "text" in event:
            parts.append(_pre("dl-out-result", event["text"], max_text))
        elif kind == "error":
            parts.append(_pre("dl-out-error", event.get("traceback", ""), max_text))
        elif kind == "info":
            parts.append(f'<p class="dl-out-info">{html.escape(event["text"])}</p>')
    flush()
    return "".join(parts)


def wrap_output(index: int, inner: str, extra: str = "") -> str:
    cls = "dl-static-output" + (f" {extra}" if extra else "")
    title = "构建网站时运行这段代码的输出"
    return f'<div class="{cls}" data-dl-block="{index}" title="{title}">{inner}</div>'


NOT_EXECUTED = (
    '<p class="dl-out-info">构建网站时不执行这段代码（<code>.no-execute</code>）：'
    "用 <code>dlnotes run</code> 或 <code>mkdocs serve</code> 下的“运行”按钮"
    "运行它。</p>"
)
NOT_REACHED = '<p class="dl-out-info">没有执行：前面的代码块出错了。</p>'
