"""MkDocs plugin ``dlnotes-figures``: the package's figures and lab notebooks.

* Figures: every function registered with :func:`dlnotes.viz.figure` is rendered to
  ``assets/figures/<name>.png`` and, for Material's dark scheme, ``<name>-dark.png``
  (pages show the one matching the reader's scheme, ``#only-light``/``#only-dark``).
  PNGs are cached under ``.cache/figures/<hash>/`` where the hash covers the module
  that draws the figure and every package module it imports, transitively: editing
  that code redraws its figures, a rebuild with nothing changed draws nothing.
* Lab notebooks (mkdocs-jupyter): its cache is keyed on the notebook file only, so a
  change in ``dlnotes`` would leave a stale plot. This plugin adds to the key a hash of
  the ``dlnotes`` modules the notebook imports (transitively), so exactly the affected
  notebooks re-execute. It also gives Chinese notebook headings real ids (nbconvert
  drops non-ASCII, leaving ``id=""`` and broken TOC links) and removes nbconvert's
  empty MathJax loader (the site serves its own MathJax).
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import AnchorLink

log = logging.getLogger("mkdocs.plugins.dlnotes.figures")

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _notebook_code(path: Path) -> str:
    """The Python source of a jupytext ``.py`` notebook or an ``.ipynb`` file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        cells = json.loads(text).get("cells", [])
        text = "\n".join(
            "".join(cell.get("source", ""))
            for cell in cells
            if cell.get("cell_type") == "code"
        )
    # IPython magics and shell escapes are not Python.
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line
        for line in text.splitlines()
    )


def _module_file(module: str, package_dir: Path) -> Path | None:
    parts = module.split(".")
    if parts[0] != package_dir.name:
        return None
    base = package_dir.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(source: str, current: str | None = None) -> set[str]:
    """Absolute names of the modules ``source`` imports (relative ones resolved)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and current:
                anchor = current.split(".")[: -node.level]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def dependency_hash(notebook: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of every package module a notebook imports, followed transitively."""
    return source_dependency_hash(_notebook_code(notebook), package_dir)


def source_dependency_hash(source: str, package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of every package module ``source`` imports, followed transitively."""
    seen: dict[Path, str] = {}
    todo = list(_imports(source))
    while todo:
        name = todo.pop()
        # ``import dlnotes.models.resnet`` also runs the parent packages.
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            module = ".".join(parts[:i])
            path = _module_file(module, package_dir)
            if path is None or path in seen:
                continue
            seen[path] = module
            # Relative imports in a package's __init__ resolve against the package.
            current = f"{module}.__init__" if path.name == "__init__.py" else module
            todo += _imports(path.read_text("utf-8"), current)
    h = hashlib.sha256()
    for path in sorted(seen):
        h.update(path.relative_to(package_dir).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _patch_mkdocs_jupyter_cache_key() -> bool:
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


DARK_SUFFIX = "-dark"


def dark_variants(html: str, dest: str = "assets/figures") -> str:
    """Show each package figure in the reader's colour scheme.

    ``<img src="../assets/figures/x.png" ...>`` becomes the light drawing marked
    ``#only-light`` followed by ``x-dark.png`` marked ``#only-dark`` (Material shows
    one of the two).
    """
    pattern = re.compile(
        r'<img\b([^>]*?)\bsrc="([^"#]*?'
        + re.escape(dest)
        + r'/[a-z0-9-]+)\.png"([^>]*)>'
    )

    def both(m: re.Match[str]) -> str:
        pre, stem, post = m.groups()
        light = f'<img{pre}src="{stem}.png#only-light"{post}>'
        dark = f'<img{pre}src="{stem}{DARK_SUFFIX}.png#only-dark"{post}>'
        return light + dark

    return pattern.sub(both, html)


class FiguresConfig(Config):
    cache_dir = c.Type(str, default=".cache/figures")
    dest = c.Type(str, default="assets/figures")
    notebooks = c.Type(list, default=["labs/"])


class FiguresPlugin(BasePlugin[FiguresConfig]):
    def on_config(self, config: Any) -> Any:
        if _patch_mkdocs_jupyter_cache_key():
            log.debug("dlnotes-figures: mkdocs-jupyter cache keyed on package code")
        return config

    def on_files(self, files: Files, /, *, config: Any) -> Files:
        from dlnotes import viz

        figures = viz.load_all()
        root = Path(config.config_file_path).parent
        cache = root / self.config.cache_dir
        keys: dict[str, str] = {}
        drawn = 0
        for name in sorted(figures):
            # keyed on the module that draws it and what it imports, transitively:
            # an edit elsewhere in the package redraws nothing
            module = figures[name].__module__
            if module not in keys:
                keys[module] = source_dependency_hash(f"import {module}")[:16]
            for suffix, theme in (("", "light"), (DARK_SUFFIX, "dark")):
                png = cache / keys[module] / f"{name}{suffix}.png"
                if not png.exists():
                    viz.render(name, png, theme=theme)  # type: ignore[arg-type]
                    drawn += 1
                dest = f"{self.config.dest}/{name}{suffix}.png"
                files.append(File.generated(config, dest, abs_src_path=str(png)))
        log.info(
            "dlnotes-figures: %d figures (%d drawn, cache %s)",
            len(figures),
            drawn,
            cache,
        )
        return files

    def on_page_content(
        self, html: str, /, *, page: Page, config: Any, files: Files
    ) -> str:
        html = dark_variants(html, self.config.dest)
        uri = page.file.src_uri
        if uri.endswith((".py", ".ipynb")) and uri.startswith(
            tuple(self.config.notebooks)
        ):
            return fix_notebook_html(html, list(page.toc))
        return html
