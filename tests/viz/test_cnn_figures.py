"""Every figure of dlnotes.viz.cnn renders to a non-empty PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlnotes import viz
from dlnotes.viz import cnn

NAMES = sorted(
    name for name, fn in viz.FIGURES.items() if fn.__module__ == cnn.__name__
)


def test_the_cnn_pages_figures_are_registered() -> None:
    assert {
        "cs231n-conv-demo",
        "conv-window-positions",
        "edge-detection",
        "multichannel-conv",
        "receptive-field-growth",
        "pooling-example",
        "init-symmetry",
        "init-activation-scale",
    } <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_figure_renders_to_png(name: str, tmp_path: Path) -> None:
    path = viz.render(name, tmp_path / f"{name}.png", dpi=50)  # low dpi: fast
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000  # a real picture, not an empty canvas
