"""The matplotlib look of the site's figures: a light and a dark theme, Chinese labels.

Every figure is drawn twice when the site is built, once per theme, and the page shows
the one matching Material's colour scheme (``#only-light`` / ``#only-dark``). The same
settings reach the kernels that execute the pages' code at build time through a
``matplotlibrc`` file (:func:`write_matplotlibrc`), so a plot a page's block draws
follows the reader's theme too.

Chinese text needs a CJK font: Noto Sans CJK (Debian's ``fonts-noto-cjk``, installed by
``scripts/install_browser.sh``) is listed after DejaVu Sans, and matplotlib falls back
to it glyph by glyph, so Latin text and math keep DejaVu.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

Theme = Literal["light", "dark"]
THEMES: tuple[Theme, ...] = ("light", "dark")

#: Font families in order: matplotlib uses the first one with the glyph (a generic
#: ``sans-serif`` family would not fall back, so the list is the family itself).
FAMILIES = ["DejaVu Sans", "Noto Sans CJK SC"]

# Material's slate scheme: page background #1e2129, text #e2e4e9 at ~82 %.
_DARK_BG = "#1e2129"
_DARK_FG = "#d5d8de"
_DARK_GRID = "#4a4f5c"
# Colours that stay distinct on the dark background (Tableau, lightened).
_DARK_CYCLE = [
    "#6ea8fe",
    "#ffa94d",
    "#69db7c",
    "#ff8787",
    "#b197fc",
    "#d4a373",
    "#f783ac",
    "#ced4da",
    "#d8f5a2",
    "#66d9e8",
]


def rc_params(theme: Theme = "light") -> dict[str, object]:
    """matplotlib rc settings of ``theme`` (fonts for both; colours for dark)."""
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {THEMES}, got {theme!r}")
    rc: dict[str, object] = {
        "font.family": FAMILIES,
        "axes.unicode_minus": False,
    }
    if theme == "dark":
        from cycler import cycler

        rc.update(
            {
                "figure.facecolor": _DARK_BG,
                "figure.edgecolor": _DARK_BG,
                "savefig.facecolor": _DARK_BG,
                "savefig.edgecolor": _DARK_BG,
                "axes.facecolor": _DARK_BG,
                "axes.edgecolor": _DARK_FG,
                "axes.labelcolor": _DARK_FG,
                "axes.titlecolor": _DARK_FG,
                "axes.prop_cycle": cycler(color=_DARK_CYCLE),
                "grid.color": _DARK_GRID,
                "text.color": _DARK_FG,
                "xtick.color": _DARK_FG,
                "ytick.color": _DARK_FG,
                "legend.facecolor": _DARK_BG,
                "legend.edgecolor": _DARK_GRID,
                "patch.edgecolor": _DARK_FG,
                "boxplot.boxprops.color": _DARK_FG,
                "boxplot.whiskerprops.color": _DARK_FG,
                "boxplot.capprops.color": _DARK_FG,
                "boxplot.medianprops.color": "#ffa94d",
                "lines.color": _DARK_FG,
                "image.cmap": "viridis",
            }
        )
    return rc


def _rc_value(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value)
    if hasattr(value, "by_key"):  # a cycler
        colors = value.by_key()["color"]
        return (
            "cycler('color', [" + ", ".join(f"'{c.lstrip('#')}'" for c in colors) + "])"
        )
    text = str(value)
    return text.lstrip("#") if text.startswith("#") else text


def matplotlibrc(theme: Theme = "light") -> str:
    """The text of a ``matplotlibrc`` file with :func:`rc_params`."""
    lines = [f"# dlnotes figure theme: {theme}"]
    lines += [f"{k}: {_rc_value(v)}" for k, v in rc_params(theme).items()]
    return "\n".join(lines) + "\n"


def write_matplotlibrc(folder: Path, theme: Theme = "light") -> Path:
    """Write ``folder/matplotlibrc`` for ``theme``; point ``MATPLOTLIBRC`` at it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "matplotlibrc"
    text = matplotlibrc(theme)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path
