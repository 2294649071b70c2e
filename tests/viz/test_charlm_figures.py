"""The character-LM figure (trains four small models: slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlnotes import viz


@pytest.mark.slow
def test_figure_is_registered_and_renders_a_png(tmp_path: Path) -> None:
    assert "charlm-training" in viz.FIGURES
    png = viz.render("charlm-training", tmp_path / "c.png", dpi=40)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5_000
