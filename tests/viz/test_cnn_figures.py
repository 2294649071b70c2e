"""Every figure of dlnotes.viz.cnn renders to a non-empty PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlnotes import viz
from dlnotes.viz import cnn
from tests.support.figures import assert_renders_png

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
    assert_renders_png(name, tmp_path, dpi=50)
