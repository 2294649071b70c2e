"""Figures for the ResNet page: the paper's complexity numbers, recomputed.

All numbers come from :mod:`dlnotes.models.paper_tables` (the models of
:mod:`dlnotes.models` counted by :func:`dlnotes.complexity.profile`); the paper's
own values are drawn as separate markers next to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlnotes.viz import figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@figure("resnet-imagenet-complexity")
def imagenet_complexity() -> Figure:
    """Multiply-adds and parameters of ResNet-18...152 at 224x224: v1, v1.5, paper."""
    import matplotlib.pyplot as plt

    from dlnotes.models.paper_tables import imagenet_table

    rows = imagenet_table()
    depths = [r.depth for r in rows]
    fig, (ax_macs, ax_params) = plt.subplots(1, 2, figsize=(10, 4))
    ax_macs.plot(depths, [r.macs_v1 / 1e9 for r in rows], "o-", label="v1 (dlnotes)")
    ax_macs.plot(
        depths, [r.macs_v1_5 / 1e9 for r in rows], "s--", label="v1.5 (dlnotes)"
    )
    ax_macs.plot(
        depths,
        [r.paper_macs / 1e9 for r in rows],
        "x",
        color="black",
        markersize=10,
        label="paper, Table 1",
    )
    ax_macs.set(
        xlabel="depth (layers)",
        ylabel="multiply-adds at 224x224 (1e9)",
        title="Compute: conv + fc multiply-adds",
    )
    ax_params.bar(
        [str(d) for d in depths], [r.params / 1e6 for r in rows], color="tab:green"
    )
    for i, r in enumerate(rows):
        ax_params.annotate(
            f"{r.params / 1e6:.1f}M", (i, r.params / 1e6), ha="center", va="bottom"
        )
    ax_params.set(
        xlabel="depth (layers)",
        ylabel="parameters (1e6)",
        title="Parameters (same for v1 and v1.5)",
    )
    for ax in (ax_macs, ax_params):
        ax.grid(alpha=0.3)
    ax_macs.set_xticks(depths)
    ax_macs.legend()
    fig.tight_layout()
    return fig


@figure("resnet-cifar-params")
def cifar_params() -> Figure:
    """Parameters of the CIFAR ResNets (options A/B/C) against the paper's Table 6."""
    import matplotlib.pyplot as plt

    from dlnotes.models.paper_tables import cifar_table

    rows = cifar_table()
    depths = [r.depth for r in rows]
    fig, (ax, ax_extra) = plt.subplots(1, 2, figsize=(11, 4))
    ax.loglog(depths, [r.params_a for r in rows], "o-", label="option A (dlnotes)")
    ax.loglog(depths, [r.params_b for r in rows], "s--", label="option B (dlnotes)")
    ax.loglog(depths, [r.params_c for r in rows], "^:", label="option C (dlnotes)")
    ax.loglog(
        depths,
        [r.paper_params for r in rows],
        "x",
        color="black",
        markersize=10,
        label="paper, Table 6",
    )
    ax.set(
        xlabel="depth 6n+2 (layers)",
        ylabel="parameters",
        title="CIFAR-10 ResNets: parameters grow linearly with depth",
    )
    ax.legend()
    for name, key, style, color in (
        ("B", "params_b", "s--", "tab:orange"),
        ("C", "params_c", "^:", "tab:green"),
    ):
        extra = [100 * (getattr(r, key) - r.params_a) / r.params_a for r in rows]
        ax_extra.semilogx(
            depths, extra, style, color=color, label=f"option {name} vs A"
        )
    ax_extra.set(
        xlabel="depth 6n+2 (layers)",
        ylabel="extra parameters (% of option A)",
        title="Projection shortcuts: what B and C add",
    )
    ax_extra.legend()
    for a in (ax, ax_extra):
        a.set_xticks(depths, [str(d) for d in depths])
        a.minorticks_off()
        a.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
