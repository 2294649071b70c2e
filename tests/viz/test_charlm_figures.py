"""The character-LM figure (trains four small models: slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.figures import assert_renders_png


@pytest.mark.slow
def test_figure_is_registered_and_renders_a_png(tmp_path: Path) -> None:
    assert_renders_png("charlm-training", tmp_path)
