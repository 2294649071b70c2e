"""MkDocs plugin ``dlnotes-figures``: the package's figures and lab notebooks.

* Figures: every function registered with :func:`dlnotes.viz.figure` is rendered to
  ``assets/figures/<name>.png`` and, for Material's dark scheme, ``<name>-dark.png``
  (pages show the one matching the reader's scheme, ``#only-light``/``#only-dark``).
  PNGs are cached as ``.cache/figures/<name>-<hash>[-dark].png``
  where the hash covers the code the figure depends on (:func:`figure_hash`: the
  function, the definitions of its module it uses, and every package module those
  import, transitively): a code change re-draws only the figures that use it, a
  rebuild with nothing changed draws nothing. Figures are found without importing
  the package (``@figure("name")`` in ``dlnotes/viz``); after the first build of a
  process (a ``mkdocs serve`` rebuild) they are drawn in a fresh interpreter
  (``python -m dlnotes.viz``), so the new code is what gets drawn.
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
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from dlnotes.fileio import atomic_write

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


def _imports(source: str | ast.Module, current: str | None = None) -> set[str]:
    """Absolute names of the modules ``source`` imports (relative ones resolved)."""
    if isinstance(source, ast.Module):
        tree = source
    else:
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


_IMPORTS: dict[tuple[Path, str], tuple[ast.Module, set[str]]] = {}
_DUMPS: dict[Path, tuple[ast.Module, str]] = {}


def _read_module(path: Path, current: str) -> tuple[str, set[str]]:
    """Source and imports of a module file (worked out once per version of it)."""
    source, tree = _parse(path)
    hit = _IMPORTS.get((path, current))
    if hit is None or hit[0] is not tree:  # _parse gives a new tree for a new version
        hit = (tree, _imports(tree, current))
        _IMPORTS[(path, current)] = hit
    return source, hit[1]


def _dump(path: Path) -> str:
    """``ast.dump`` of a module (code without comments or layout), once per version."""
    tree = _parse(path)[1]
    hit = _DUMPS.get(path)
    if hit is None or hit[0] is not tree:
        hit = (tree, ast.dump(tree))
        _DUMPS[path] = hit
    return hit[1]


def package_signature(
    package_dir: Path = PACKAGE_DIR,
) -> tuple[tuple[str, int, int], ...]:
    """Path, mtime and size of every ``.py`` file of the package (cheap: stat only)."""
    found: list[tuple[str, int, int]] = []
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if name.endswith(".py"):
                st = os.stat(os.path.join(dirpath, name))
                found.append((os.path.join(dirpath, name), st.st_mtime_ns, st.st_size))
    return tuple(sorted(found))


_DEP_MEMO: dict[str, tuple[tuple[object, ...], str]] = {}


def cached_dependency_hash(notebook: Path) -> str:
    """:func:`dependency_hash`, recomputed only when the notebook or package changed.

    One entry per notebook (a serve rebuild asks for every lab's hash).
    """
    st = notebook.stat()
    key = (st.st_mtime_ns, st.st_size, package_signature())
    hit = _DEP_MEMO.get(str(notebook))
    if hit is None or hit[0] != key:
        hit = (key, dependency_hash(notebook))
        _DEP_MEMO[str(notebook)] = hit
    return hit[1]


def dependency_hash(notebook: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of every package module a notebook imports, followed transitively."""
    return source_dependency_hash(_notebook_code(notebook), package_dir)


def source_dependency_hash(source: str, package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of every package module ``source`` imports, followed transitively."""
    seen = _transitive_modules(_imports(source), package_dir)
    h = hashlib.sha256()
    for path in sorted(seen):
        h.update(path.relative_to(package_dir).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _module_name(path: Path, package_dir: Path) -> str:
    rel = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


_AST_CACHE: dict[Path, tuple[tuple[int, int], str, ast.Module]] = {}


def _parse(path: Path) -> tuple[str, ast.Module]:
    """Source and syntax tree of a module file, parsed once per version."""
    st = path.stat()
    key = (st.st_mtime_ns, st.st_size)
    cached = _AST_CACHE.get(path)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    source = path.read_text("utf-8")
    try:
        tree = ast.parse(source, str(path))
    except SyntaxError:  # being edited: no code yet, the import reports it
        tree = ast.Module(body=[], type_ignores=[])
    _AST_CACHE[path] = (key, source, tree)
    return source, tree


def _transitive_modules(names: set[str], package_dir: Path) -> dict[Path, str]:
    """Every package module file reached from the module names, and their imports."""
    seen: dict[Path, str] = {}
    todo = list(names)
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
            todo += _read_module(path, current)[1]
    return seen


def find_figures(package_dir: Path = PACKAGE_DIR) -> dict[str, tuple[Path, str]]:
    """``name -> (module file, function name)`` of every ``@figure("name")``.

    Read from the sources of ``dlnotes/viz`` without importing them.
    """
    found: dict[str, tuple[Path, str]] = {}
    for path in sorted((package_dir / "viz").glob("*.py")):
        for node in _parse(path)[1].body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and isinstance(deco.func, ast.Name)
                    and deco.func.id == "figure"
                    and deco.args
                    and isinstance(deco.args[0], ast.Constant)
                    and isinstance(deco.args[0].value, str)
                ):
                    found[deco.args[0].value] = (path, node.name)
    return found


def figure_hash(path: Path, function: str, package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of the code figure ``function`` of module ``path`` depends on.

    Covers the function's code, the top-level definitions of its module that it
    uses (followed within the module), and every package module it or they import,
    transitively (whole modules), plus ``dlnotes/viz/__init__.py`` (the renderer).
    Comments and layout do not count: a figure is redrawn when code changed.
    """
    tree = _parse(path)[1]
    module = _module_name(path, package_dir)
    defs: dict[str, ast.stmt] = {}
    imported: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defs[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    defs[t.id] = node
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: -node.level]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{base}.{alias.name}"
    used_defs: dict[str, ast.stmt] = {}
    modules: set[str] = set()
    todo = [function]
    while todo:
        name = todo.pop()
        if name in used_defs or name not in defs:
            continue
        node = defs[name]
        used_defs[name] = node
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                if sub.id in imported:
                    modules.add(imported[sub.id])
                elif sub.id in defs:
                    todo.append(sub.id)
            elif isinstance(sub, ast.Import | ast.ImportFrom):
                modules |= _imports(ast.unparse(sub), module)
    # the code, not its comments or layout: ast.dump leaves both out
    h = hashlib.sha256()
    for name in sorted(used_defs):
        h.update(name.encode())
        h.update(ast.dump(used_defs[name]).encode())
    deps = _transitive_modules(modules, package_dir)
    deps.pop(path, None)  # its own module: only the definitions it uses count
    init = package_dir / "viz" / "__init__.py"
    for dep in sorted({*deps, init}):
        h.update(dep.relative_to(package_dir).as_posix().encode())
        h.update(_dump(dep).encode())
    return h.hexdigest()[:16]


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


def _mtime(path: Path) -> float:
    return path.stat().st_mtime


def draw(figures: dict[tuple[str, str], Path], *, fresh: bool) -> None:
    """Render ``(name, theme) -> png``; ``fresh``: in a new interpreter."""
    if not fresh:
        from dlnotes import viz

        viz.load_all()
        for (name, theme), png in figures.items():
            viz.render(name, png, theme=theme)  # type: ignore[arg-type]
        return
    args = [f"{name}:{theme}={png}" for (name, theme), png in figures.items()]
    proc = subprocess.run(
        [sys.executable, "-m", "dlnotes.viz", *args],
        capture_output=True,
        text=True,
        cwd=PACKAGE_DIR.parent,
    )
    if proc.returncode != 0:
        raise PluginError(
            f"dlnotes-figures: drawing {', '.join(n for n, _ in figures)} failed:\n"
            f"{proc.stderr.strip()}"
        )


# an empty (transparent 1x1) PNG: the image of a figure not drawn yet
_BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
)


def _older_drawing(png: Path, name: str, suffix: str) -> Path | None:
    """The newest drawing of figure ``name`` (same theme) other than ``png``."""
    pattern = re.compile(rf"{re.escape(name)}-[0-9a-f]{{16}}{re.escape(suffix)}\.png")
    older = sorted(
        (
            p
            for p in png.parent.glob(f"{name}-*.png")
            if pattern.fullmatch(p.name) and p != png
        ),
        key=_mtime,
    )
    return older[-1] if older else None


def shown_meanwhile(png: Path, name: str, suffix: str) -> Path:
    """What the site shows while ``png`` is drawn: the last drawing, else an empty
    image (kept apart from the cache, so a server stopped before drawing leaves
    nothing that looks drawn)."""
    older = _older_drawing(png, name, suffix)
    if older is not None:
        return older
    blank = png.parent / "pending" / "blank.png"
    if not blank.exists():
        blank.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(blank, _BLANK_PNG)  # the build may copy it meanwhile
    return blank


class FiguresConfig(Config):
    cache_dir = c.Type(str, default=".cache/figures")
    dest = c.Type(str, default="assets/figures")
    notebooks = c.Type(list, default=["labs/"])


class FiguresPlugin(BasePlugin[FiguresConfig]):
    def __init__(self) -> None:
        self._builds = 0  # builds done by this process (mkdocs serve rebuilds)
        self._hashes: tuple[object, dict[str, str]] | None = None
        self._notebook_cache: set[Path] = set()
        self._serving = False
        self._draw_failed: dict[tuple[Path, ...], str] = {}  # under serve

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Defined so that the plugin object lives across ``mkdocs serve`` rebuilds."""
        self._serving = command == "serve"

    def _draw_later(self, missing: dict[tuple[str, str], Path], config: Any) -> bool:
        """Under serve: draw after the build (meanwhile the site shows
        :func:`shown_meanwhile`).

        When the new drawings are in the cache the serve loop builds again, which
        copies them into the site, and the browser reloads.
        """
        from dlnotes.site import background

        names = sorted({name for name, _ in missing})
        ready = getattr(config.plugins.get("dlnotes"), "page_ready", None)

        def job() -> None:
            try:
                draw(missing, fresh=True)
            except PluginError as exc:
                self._draw_failed[tuple(sorted(missing.values()))] = str(exc)

        # no page changed, but the build copies the new images into the site
        then = None if ready is None else (lambda: ready(""))
        return background.later("figures " + " ".join(names), job, then)

    def on_config(self, config: Any) -> Any:
        from dlnotes.site.notebooks import key_cache_on_package_code, use_ipc

        if key_cache_on_package_code():
            log.debug("dlnotes-figures: mkdocs-jupyter cache keyed on package code")
        if use_ipc():
            log.debug("dlnotes-figures: lab notebooks' kernels use IPC sockets")
        return config

    def on_files(self, files: Files, /, *, config: Any) -> Files:
        root = Path(config.config_file_path).parent
        cache = root / self.config.cache_dir
        signature = package_signature()
        if self._hashes is None or self._hashes[0] != signature:
            found = find_figures()
            hashes = {name: figure_hash(p, fn) for name, (p, fn) in found.items()}
            self._hashes = (signature, hashes)
        figures = self._hashes[1]
        missing: dict[tuple[str, str], Path] = {}
        for name, digest in sorted(figures.items()):
            for suffix, theme in (("", "light"), (DARK_SUFFIX, "dark")):
                png = cache / f"{name}-{digest}{suffix}.png"
                src = png
                if not png.exists():
                    missing[(name, theme)] = png
                    if self._serving:  # drawn after the build
                        src = shown_meanwhile(png, name, suffix)
                dest = f"{self.config.dest}/{name}{suffix}.png"
                files.append(File.generated(config, dest, abs_src_path=str(src)))
        queued = False
        if missing and self._serving:
            failed = self._draw_failed.get(tuple(sorted(missing.values())))
            if failed is not None:  # until the code changes (new file names)
                log.warning("%s", failed)
            else:
                queued = self._draw_later(missing, config)
        elif missing:
            try:
                draw(missing, fresh=self._builds > 0)
            except PluginError as exc:
                if self._builds == 0:
                    raise
                # under serve: say so (banner) and keep showing the last drawing
                log.warning("%s", exc)
                for (name, theme), png in missing.items():
                    suffix = DARK_SUFFIX if theme == "dark" else ""
                    older = _older_drawing(png, name, suffix)
                    if older is not None and not png.exists():
                        png.write_bytes(older.read_bytes())
        self._builds += 1
        # under serve, once when the drawing is queued (not at every rebuild)
        new = missing and (queued or not self._serving)
        level = logging.INFO if new or self._builds == 1 else logging.DEBUG
        log.log(
            level,
            "dlnotes-figures: %d figures (%d %s: %s)",
            len(figures),
            len(missing),
            "to draw in the background" if self._serving else "drawn",
            ", ".join(sorted({n for n, _ in missing})) or "none changed",
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
            from dlnotes.site.notebooks import fix_notebook_html

            return fix_notebook_html(html, list(page.toc))
        return html

    @event_priority(50)  # before mkdocs-jupyter evicts the cache files it did not use
    def on_post_build(self, *, config: Any) -> None:
        """Keep the notebook cache of a ``mkdocs serve --dirty`` rebuild.

        mkdocs-jupyter deletes every cache file the build did not use; a dirty
        rebuild renders no notebook, so it would throw away every executed notebook
        and the next full rebuild would execute them all again (minutes).
        """
        jupyter = config.plugins.get("mkdocs-jupyter")
        used = getattr(jupyter, "_used_cache_paths", None)
        if isinstance(used, set):
            self._notebook_cache |= used
            used |= self._notebook_cache
