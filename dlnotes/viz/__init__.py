"""Figures generated from the package when the site is built.

A figure is a function that returns a :class:`matplotlib.figure.Figure`, registered
under a kebab-case name with :func:`figure`. Pages show it as
``![...](../assets/figures/<name>.png)``; the ``dlnotes-figures`` MkDocs plugin renders
every registered figure (cached by a hash of the package source) and adds the PNGs to
the site.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from dlnotes.viz.style import Theme

FigureFn = Callable[[], "Figure"]

FIGURES: dict[str, FigureFn] = {}

_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def figure(name: str) -> Callable[[FigureFn], FigureFn]:
    """Register ``fn`` as the figure ``name`` (kebab-case, unique)."""
    if not _NAME_RE.match(name):
        raise ValueError(f"figure name must be kebab-case ([a-z0-9-]), got {name!r}")

    def register(fn: FigureFn) -> FigureFn:
        if name in FIGURES and FIGURES[name] is not fn:
            raise ValueError(f"figure {name!r} is registered twice")
        FIGURES[name] = fn
        return fn

    return register


def load_all() -> dict[str, FigureFn]:
    """Import every module of ``dlnotes.viz`` so that all figures register."""
    import dlnotes.viz as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name != "plugin":
            importlib.import_module(f"dlnotes.viz.{info.name}")
    return FIGURES


def render(name: str, path: Path, dpi: int = 110, theme: Theme = "light") -> Path:
    """Render the registered figure ``name`` to the PNG file ``path``.

    ``theme`` is the site's colour scheme the figure is drawn for (light or dark,
    :mod:`dlnotes.viz.style`); both use a CJK font for Chinese labels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlnotes.viz.style import rc_params

    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; known: {sorted(FIGURES)}")
    with plt.rc_context(rc_params(theme)):  # type: ignore[arg-type]
        fig = FIGURES[name]()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.png")
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
        plt.close(fig)
    tmp.replace(path)
    return path
