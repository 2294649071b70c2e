"""Third-party front-end assets served from the site itself, so it works offline.

Nothing third-party is committed to the repository. At build time the files are
taken from installed packages:

* MathJax 3 from the PyPI package ``django-static-mathjax``
  (``mathjax/static/mathjax/es5``);
* Mermaid from the npm package ``mermaid`` (``node_modules/mermaid/dist``), installed
  by ``make setup`` from ``package-lock.json``.

They are published under ``assets/vendor/`` and referenced by ``extra_javascript``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import File

# The MathJax files a page can load: the combined component, the CHTML fonts and the
# components it may load lazily (TeX extensions, menu, assistive MathML).
MATHJAX_PARTS = (
    "tex-mml-chtml.js",
    "output/chtml/fonts/woff-v2",
    "input/tex/extensions",
    "ui",
    "a11y",
)
MERMAID_PARTS = ("mermaid.min.js",)


class AssetError(RuntimeError):
    """A front-end asset package is not installed."""


@dataclass(frozen=True)
class Asset:
    """One file to publish: its source on disk and its URI inside the site."""

    src: Path
    dest_uri: str


def mathjax_root() -> Path:
    """The ``es5`` folder of MathJax inside the installed ``django-static-mathjax``."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(
            "MathJax is missing: install the PyPI package django-static-mathjax "
            "(run `make setup`)"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "static/mathjax/es5"
    if not (root / "tex-mml-chtml.js").is_file():
        raise AssetError(f"MathJax is incomplete: {root}/tex-mml-chtml.js not found")
    return root


def mermaid_root(project_root: Path) -> Path:
    """The ``dist`` folder of the npm package ``mermaid`` below ``project_root``."""
    root = project_root / "node_modules/mermaid/dist"
    if not (root / "mermaid.min.js").is_file():
        raise AssetError(
            f"Mermaid is missing: {root}/mermaid.min.js not found; "
            "run `make setup` (npm ci installs it from package-lock.json)"
        )
    return root


def _expand(root: Path, parts: tuple[str, ...], prefix: str) -> list[Asset]:
    assets: list[Asset] = []
    for part in parts:
        path = root / part
        files = (
            sorted(p for p in path.rglob("*") if p.is_file())
            if path.is_dir()
            else [path]
        )
        for file in files:
            rel = file.relative_to(root).as_posix()
            assets.append(Asset(file, f"{prefix}/{rel}"))
    return assets


def vendor_assets(project_root: Path, prefix: str = "assets/vendor") -> list[Asset]:
    """Every vendored file with its destination URI in the site."""
    return _expand(mathjax_root(), MATHJAX_PARTS, f"{prefix}/mathjax") + _expand(
        mermaid_root(project_root), MERMAID_PARTS, f"{prefix}/mermaid"
    )


STATIC_DIR = Path(__file__).resolve().parent / "static"


def static_file(
    config: MkDocsConfig, name: str, prefix: str = "assets/dlnotes"
) -> File:
    """The site file for ``dlnotes/site/static/<name>`` (published at ``prefix``)."""
    from mkdocs.structure.files import File

    src = STATIC_DIR / name
    if not src.is_file():
        raise AssetError(f"dlnotes is incomplete: {src} not found")
    return File.generated(config, f"{prefix}/{name}", abs_src_path=str(src))
