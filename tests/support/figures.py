"""Shared check of the package's figures (``dlnotes/viz``)."""

from __future__ import annotations

from pathlib import Path

from dlnotes import viz

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_renders_png(name: str, tmp_path: Path, *, dpi: int = 40) -> Path:
    """Figure ``name`` is registered and draws a real picture (not an empty canvas)
    at a low resolution (fast); returns the PNG file.

    The figures are registered as their modules are imported; ``viz.load_all``
    imports them all, as the site does (a test run alone saw none of them).
    """
    viz.load_all()
    assert name in viz.FIGURES
    png = viz.render(name, tmp_path / f"{name}.png", dpi=dpi)
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5_000
    return png
