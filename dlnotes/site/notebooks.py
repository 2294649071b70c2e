"""The lab notebooks (mkdocs-jupyter): cache keyed on the package code they use,
kernels on IPC sockets, run in the background under ``mkdocs serve``, HTML fitted to
the site (headings, math).

**IPC.**
mkdocs-jupyter executes ``docs/labs/*.py`` through nbconvert, whose kernels listen
on TCP ports of 127.0.0.1 by default: any local account can connect to them while a
notebook runs, and every kernel prints "Kernel is running over TCP without
encryption" into the ``mkdocs build``/``serve`` output. :func:`use_ipc` adds
``KernelManager.transport = "ipc"`` to the nbconvert configuration mkdocs-jupyter
builds, with the sockets in a private (0700) folder of this process, like the
project's own runner (:mod:`dlnotes.runner.kernel`).

**Background under serve.** Executing the four labs takes minutes on two cores. A lab
whose executed version is not in mkdocs-jupyter's cache is, under ``mkdocs serve``,
shown at once without outputs and with a note (:func:`defer`), and executed in a
separate process (``python -m dlnotes.site.notebooks``) that writes the same cache
entry mkdocs-jupyter would; then the page is built again from the cache and the
browser reloads. ``mkdocs build`` executes as before.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs.structure.toc import AnchorLink

from dlnotes.fileio import atomic_write
from dlnotes.site import background

log = logging.getLogger("mkdocs.plugins.dlnotes.labs")

RUNNING = (
    '<div class="admonition info"><p class="admonition-title">正在后台运行</p>'
    "<p>这个实验的代码正在后台运行（<code>mkdocs serve</code>，可能要几分钟），"
    "下面先显示代码；运行完后页面会自动刷新，显示输出。</p></div>"
)
_FAILED: dict[str, str] = {}  # cache file -> the last line of the error
# the options of mkdocs-jupyter's nb2html, from its plugin configuration
_OPTIONS = (
    "kernel_name",
    "theme",
    "allow_errors",
    "show_input",
    "no_input",
    "no_prompt",
    "remove_tag_config",
    "highlight_extra_classes",
    "include_requirejs",
    "custom_mathjax_url",
)

_DIR: list[str] = []


def _socket_dir() -> str:
    if not _DIR:
        path = tempfile.mkdtemp(prefix="dlnotes-labs-")  # mode 0700
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _DIR.append(path)
    return _DIR[0]


def use_ipc() -> bool:
    """Patch mkdocs-jupyter's nbconvert app factory (once); False without it."""
    try:
        import mkdocs_jupyter.nbconvert2 as nb2
    except ImportError:
        return False
    original = getattr(nb2, "get_nbconvert_app", None)
    if original is None:
        return False
    if getattr(original, "_dlnotes", False):
        return True

    @functools.wraps(original)
    def get_nbconvert_app(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)
        app.config.update(
            {
                "KernelManager": {
                    "transport": "ipc",
                    "ip": os.path.join(_socket_dir(), f"kernel-{os.urandom(4).hex()}"),
                }
            }
        )
        return app

    get_nbconvert_app._dlnotes = True  # type: ignore[attr-defined]
    nb2.get_nbconvert_app = get_nbconvert_app
    return True


def key_cache_on_package_code() -> bool:
    """Make mkdocs-jupyter's cache key depend on the package code a notebook uses."""
    try:
        import mkdocs_jupyter.plugin as mj
    except ImportError:
        return False
    original = getattr(mj, "_compute_cache_key", None)
    if original is None or getattr(original, "_dlnotes", False):
        return original is not None

    def key(nb_path: Any, config: Any, exec_nb: Any) -> str:
        base = original(nb_path, config, exec_nb)
        from dlnotes.site.figures import dependency_hash

        extra = dependency_hash(Path(nb_path))
        return hashlib.sha256(f"{base}:{extra}".encode()).hexdigest()

    key._dlnotes = True  # type: ignore[attr-defined]
    mj._compute_cache_key = key
    return True


_HEADING = re.compile(r'<h([1-6])([^>]*?)\sid="([^"]*)"([^>]*)>(.*?)</h\1>', re.S)
_TAG = re.compile(r"<[^>]+>")
_NB_MATHJAX = re.compile(
    r"<!-- Load mathjax -->\s*<script src=\"[^\"]*\">\s*</script>\s*"
    r"<!-- MathJax configuration -->\s*"
    r"<script type=\"text/x-mathjax-config\">.*?</script>",
    re.S,
)


_PROTECTED = re.compile(
    r"(<pre\b.*?</pre>|<code\b.*?</code>|<script\b.*?</script>"
    r"|<style\b.*?</style>|<[^>]+>)",
    re.S,
)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)")


def wrap_notebook_math(html: str) -> str:
    """Turn nbconvert's ``$...$``/``$$...$$`` into the site's arithmatex markup.

    The site's MathJax only typesets ``.arithmatex`` elements (as
    ``pymdownx.arithmatex`` writes them), so notebook Markdown math is rewritten into
    the same form. Code, preformatted output, scripts and tags are left alone.
    """

    def text(segment: str) -> str:
        segment = _DISPLAY_MATH.sub(
            lambda m: f'<span class="arithmatex">\\[{m.group(1)}\\]</span>', segment
        )
        return _INLINE_MATH.sub(
            lambda m: f'<span class="arithmatex">\\({m.group(1)}\\)</span>', segment
        )

    parts = _PROTECTED.split(html)
    return "".join(p if i % 2 else text(p) for i, p in enumerate(parts))


def fix_notebook_html(html: str, toc: list[AnchorLink]) -> str:
    """Give every heading a unique id from its text (Chinese kept) and fix the TOC."""
    from pymdownx.slugs import slugify

    slug = slugify(case="lower")
    used: dict[str, int] = {}
    new_ids: list[str] = []

    def replace(m: re.Match[str]) -> str:
        level, pre, old, post, inner = m.groups()
        text = _TAG.sub("", inner).replace("¶", "").strip()
        base = slug(text, "-") or old or "section"
        n = used.get(base, 0)
        used[base] = n + 1
        new = base if n == 0 else f"{base}_{n}"
        new_ids.append(new)
        inner = inner.replace(f'href="#{old}"', f'href="#{new}"')
        return f'<h{level}{pre} id="{new}"{post}>{inner}</h{level}>'

    html = _HEADING.sub(replace, html)
    html = _NB_MATHJAX.sub("", html)
    html = wrap_notebook_math(html)
    flat: list[AnchorLink] = []

    def walk(items: list[AnchorLink]) -> None:
        for item in items:
            flat.append(item)
            walk(item.children)

    walk(toc)
    if len(flat) == len(new_ids):
        for item, new in zip(flat, new_ids, strict=True):
            item.id = new
    return html


def _cache_path(page: Any, jupyter: Any) -> Path | None:
    """mkdocs-jupyter's cache file for the executed lab (``None``: no cache)."""
    import mkdocs_jupyter.plugin as mj

    options = jupyter.config
    if not options["cache"] or not options["execute"] or options["execute_ignore"]:
        return None
    key = mj._compute_cache_key(page.file.abs_src_path, options, True)
    return Path(mj._get_cache_path(options["cache_dir"], key))


def defer(page: Any, config: Any, ready: Callable[[str], None] | None) -> bool:
    """Under serve: if the lab is not executed yet, show it without outputs now and
    execute it in the background; ``ready(src_uri)`` when it is in the cache.

    Call after mkdocs-jupyter's ``on_pre_page``. Returns whether it deferred.
    """
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None or not jupyter.should_include(page.file):
        return False
    cache = _cache_path(page, jupyter)
    if cache is None or cache.exists():
        return False
    import mkdocs_jupyter.convert as convert
    import mkdocs_jupyter.plugin as mj
    from mkdocs.structure.toc import get_toc

    path = page.file.abs_src_path
    options = {name: jupyter.config[name] for name in _OPTIONS}
    cache.parent.mkdir(parents=True, exist_ok=True)
    jupyter._used_cache_paths.add(cache)  # not evicted as stale

    def render(self: Any, config: Any, files: Any) -> None:
        body = convert.nb2html(path, execute=False, **options)
        self.content = RUNNING + body
        toc_tokens, title = mj._get_nb_toc_tokens(path, jupyter.config["toc_depth"])
        self.toc = get_toc(toc_tokens)
        if title is not None and not jupyter.config["ignore_h1_titles"]:
            self.title = title

    page.render = render.__get__(page, type(page))
    uri = page.file.src_uri
    if str(cache) in _FAILED:  # until the lab or its code changes (a new cache key)
        log.warning(
            "dlnotes: docs/%s: the lab failed to run: %s", uri, _FAILED[str(cache)]
        )
        return True
    job = {
        "path": path,
        "cache": str(cache),
        "options": options,
        "toc_depth": jupyter.config["toc_depth"],
    }

    def run() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "dlnotes.site.notebooks", json.dumps(job)],
            capture_output=True,
            text=True,
            cwd=os.path.dirname(config.config_file_path),
        )
        if done.returncode != 0:
            _FAILED[str(cache)] = (done.stderr.strip().splitlines() or ["?"])[-1]

    then = None if ready is None else (lambda: ready(uri))
    if background.later(f"lab {cache.name}", run, then):
        log.info("dlnotes: docs/%s runs in the background", uri)
    return True


def _run(job: dict[str, Any]) -> None:
    """Execute a lab as mkdocs-jupyter does and write its cache entry."""
    import mkdocs_jupyter.convert as convert
    import mkdocs_jupyter.plugin as mj

    use_ipc()
    body = convert.nb2html(job["path"], execute=True, **job["options"])
    toc_tokens, title = mj._get_nb_toc_tokens(job["path"], job["toc_depth"])
    data = {"content": body, "toc_tokens": toc_tokens, "title": title}
    atomic_write(job["cache"], json.dumps(data).encode("utf-8"))


if __name__ == "__main__":
    _run(json.loads(sys.argv[1]))
