"""The figure themes: Chinese labels find a CJK font, dark figures are dark."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlnotes.viz.style import matplotlibrc, rc_params, write_matplotlibrc


def _draw(theme: str) -> np.ndarray:
    with plt.rc_context(rc_params(theme)):  # type: ignore[arg-type]
        fig, ax = plt.subplots(figsize=(3, 2), dpi=50)
        ax.set_title("卷积核 kernel")
        ax.plot([0, 1], [1, 0])
        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float)
        plt.close(fig)
    return pixels


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_chinese_labels_have_glyphs(theme: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" fails
        _draw(theme)


def test_dark_figures_are_dark_and_light_ones_light() -> None:
    assert _draw("light").mean() > 200
    assert _draw("dark").mean() < 80


def test_the_kernel_rc_file_gives_the_same_settings(tmp_path: Path) -> None:
    rc = write_matplotlibrc(tmp_path, "dark")
    assert rc.read_text(encoding="utf-8") == matplotlibrc("dark")
    code = (
        "import matplotlib as m; print(m.rcParams['axes.facecolor'], "
        "m.rcParams['font.family'], m.rcParams['axes.prop_cycle'].by_key()['color'][0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"MATPLOTLIBRC": str(rc), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == [
        "#1e2129",
        "['DejaVu",
        "Sans',",
        "'Noto",
        "Sans",
        "CJK",
        "SC']",
        "#6ea8fe",
    ]
