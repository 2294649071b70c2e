"""Figure for the classic-CNN pages: parameters against multiply-adds.

The numbers come from :func:`dlnotes.models.paper_tables.classic_table` (the
registered models counted by :func:`dlnotes.complexity.profile` at 224x224).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlnotes.viz import figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@figure("classic-cnn-complexity")
def classic_complexity() -> Figure:
    """Parameters (x, log) vs conv + linear multiply-adds (y, log) at 224x224."""
    import matplotlib.pyplot as plt

    from dlnotes.models.paper_tables import classic_table

    rows = [r for r in classic_table() if r.input_size[1] == 224]  # not LeNet
    fig, ax = plt.subplots(figsize=(8, 5))
    years = sorted({r.year for r in rows})
    cmap = plt.get_cmap("viridis", len(years))
    for i, year in enumerate(years):
        group = [r for r in rows if r.year == year]
        ax.scatter(
            [r.params / 1e6 for r in group],
            [r.macs / 1e9 for r in group],
            s=60,
            color=cmap(i),
            label=str(year),
            zorder=3,
        )
    for r in rows:
        ax.annotate(
            r.title,
            (r.params / 1e6, r.macs / 1e9),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=9,
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="parameters (1e6, log scale)",
        ylabel="multiply-adds at 224x224 (1e9, log scale)",
        title="Classic CNNs: parameters vs compute",
    )
    ax.set_xlim(right=2 * max(r.params for r in rows) / 1e6)  # room for labels
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="year")
    fig.tight_layout()
    return fig
