"""The classic-CNN figure plots the computed table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from dlnotes.models.paper_tables import classic_table
from dlnotes.viz import FIGURES, load_all


def test_classic_figure_plots_every_224_model_once() -> None:
    load_all()
    fig = FIGURES["classic-cnn-complexity"]()
    try:
        ax = fig.axes[0]
        points = {
            (round(float(x), 6), round(float(y), 6))
            for coll in ax.collections
            for x, y in coll.get_offsets()
        }
        rows = [r for r in classic_table() if r.input_size[1] == 224]
        assert points == {
            (round(r.params / 1e6, 6), round(r.macs / 1e9, 6)) for r in rows
        }
        assert ax.get_xscale() == ax.get_yscale() == "log"
    finally:
        plt.close(fig)
