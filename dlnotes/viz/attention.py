"""Figures of the attention page, computed with :mod:`dlnotes.numpy.attention`.

* ``attention-scaling``: attention weights of random queries and keys with and
  without the ``1/sqrt(d_k)`` factor, and how peaked they get as ``d_k`` grows.
* ``attention-causal-heads``: the weights of a small multi-head self-attention
  layer under the causal mask, head by head.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dlnotes.numpy.attention import MultiHeadAttention, scaled_dot_product_attention
from dlnotes.numpy.types import FloatArray
from dlnotes.viz import figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["mean_max_weight"]


# --8<-- [start:mean-max-weight]
def mean_max_weight(
    d_k: int, scaled: bool, L: int = 16, S: int = 16, trials: int = 20, seed: int = 0
) -> float:
    """Average largest attention weight per query for random N(0, 1) q and k.

    Unscaled, ``q . k`` has variance ``d_k``: the softmax saturates towards a
    one-hot row as ``d_k`` grows. Dividing by ``sqrt(d_k)`` keeps variance 1.
    """
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((trials, L, d_k))
    k = rng.standard_normal((trials, S, d_k))
    v = np.zeros((trials, S, 1))
    _, cache = scaled_dot_product_attention(q, k, v, scale=None if scaled else 1.0)
    return float(cache.weights.max(axis=-1).mean())


# --8<-- [end:mean-max-weight]


def _weights(d_k: int, scaled: bool, seed: int = 1) -> FloatArray:
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((12, d_k)), rng.standard_normal((12, d_k))
    _, cache = scaled_dot_product_attention(
        q, k, np.zeros((12, 1)), scale=None if scaled else 1.0
    )
    return cache.weights


@figure("attention-scaling")
def attention_scaling() -> Figure:
    import matplotlib.pyplot as plt

    d_k = 256
    fig, axes = plt.subplots(
        1,
        3,
        figsize=(13, 4.2),
        gridspec_kw={"width_ratios": [1, 1, 1.3]},
        layout="constrained",
    )
    for ax, scaled, title in (
        (axes[0], False, f"unscaled, d_k = {d_k}"),
        (axes[1], True, f"divided by sqrt(d_k), d_k = {d_k}"),
    ):
        im = ax.imshow(_weights(d_k, scaled), cmap="viridis", vmin=0, vmax=1)
        ax.set(title=title, xlabel="key j", ylabel="query i")
    fig.colorbar(im, ax=axes[:2], shrink=0.8, label="weight")
    dims = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    for scaled, style, label in ((False, "o-", "unscaled"), (True, "s-", "scaled")):
        axes[2].semilogx(
            dims, [mean_max_weight(d, scaled) for d in dims], style, label=label, base=2
        )
    axes[2].axhline(1 / 16, color="0.6", ls=":", label="uniform over 16 keys")
    axes[2].set(
        title="mean largest weight per query (16 keys)",
        xlabel="d_k",
        ylabel="max_j weight",
        ylim=(0, 1.05),
    )
    axes[2].legend(fontsize=8)
    axes[2].grid(alpha=0.3)
    fig.suptitle(
        "Random q, k ~ N(0, I): without 1/sqrt(d_k) the softmax saturates to one key "
        "(and its gradient vanishes)"
    )
    return fig


@figure("attention-causal-heads")
def attention_causal_heads() -> Figure:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    T, E, heads = 10, 16, 4
    mha = MultiHeadAttention(E, heads, rng=rng)
    mha.in_proj_weight *= 3.0  # sharper, more distinct heads for the picture
    x = rng.standard_normal((1, T, E))
    mha.forward(x, x, x, is_causal=True)
    per_head = mha.head_weights[0]  # (heads, T, T)
    fig, axes = plt.subplots(1, heads, figsize=(3.1 * heads, 3.2))
    for h, ax in enumerate(axes):
        ax.imshow(per_head[h], cmap="viridis", vmin=0, vmax=1)
        ax.set(title=f"head {h}", xlabel="key (earlier token)")
        if h == 0:
            ax.set_ylabel("query token")
    fig.suptitle(
        "Causal self-attention, 4 heads of one random layer: each head mixes the "
        "past differently; nothing above the diagonal"
    )
    fig.tight_layout()
    return fig
