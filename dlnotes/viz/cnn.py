"""Figures of the CNN pages, every number computed by ``dlnotes.numpy`` code."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dlnotes.numpy.arithmetic import (
    LayerSpec,
    conv_output_size,
    effective_kernel_size,
    receptive_fields,
    uncovered_input,
)
from dlnotes.numpy.demo import cs231n_demo
from dlnotes.numpy.filters import (
    KERNELS,
    LAPLACIAN,
    SOBEL_X,
    SOBEL_Y,
    apply_kernel,
    load_photo,
    multichannel_feature_map,
)
from dlnotes.numpy.init import activation_scale, symmetry_experiment
from dlnotes.numpy.pool import avg_pool2d_forward, max_pool2d_forward
from dlnotes.viz import figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _number_grid(
    ax: Axes,
    values: np.ndarray,
    title: str,
    cmap: str = "Blues",
    shade: np.ndarray | None = None,
    fmt: str = "{:g}",
) -> None:
    """Draw a small matrix as coloured cells with its numbers written in."""
    vmax = max(1.0, float(np.abs(values).max()))
    ax.imshow(values, cmap=cmap, vmin=-vmax, vmax=vmax * 1.6)
    if shade is not None:  # grey out e.g. the zero padding
        ax.imshow(np.where(shade, 1.0, np.nan), cmap="Greys", vmin=0, vmax=4, alpha=0.6)
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=9)
    ax.set_xticks(np.arange(values.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(values.shape[0] + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(title, fontsize=10)


def _box(ax: Axes, row: int, col: int, size: int, color: str = "red") -> None:
    from matplotlib.patches import Rectangle

    ax.add_patch(
        Rectangle((col - 0.5, row - 0.5), size, size, fill=False, ec=color, lw=2.5)
    )


@figure("cs231n-conv-demo")
def cs231n_conv_demo() -> Figure:
    """cs231n's demo: 7x7x3 padded input, two 3x3x3 filters, stride 2 -> 3x3x2."""
    import matplotlib.pyplot as plt

    demo = cs231n_demo()
    xp = demo.x_padded
    pad = np.ones((7, 7), dtype=bool)
    pad[1:-1, 1:-1] = False
    i, j = 1, 2  # highlighted output position
    s = demo.stride
    fig, axes = plt.subplots(3, 4, figsize=(11, 8.4), width_ratios=[7, 3, 3, 3])
    for c in range(3):
        _number_grid(axes[c, 0], xp[c], f"input x[:, :, {c}] (padded, P=1)", shade=pad)
        _box(axes[c, 0], i * s, j * s, 3)
        for f in range(2):
            _number_grid(
                axes[c, 1 + f],
                demo.weight[f, c],
                f"filter w{f}[:, :, {c}]",
                cmap="Oranges",
            )
    for f in range(2):
        _number_grid(
            axes[f, 3], demo.out[f], f"output o[:, :, {f}] (b{f} = {demo.bias[f]:g})",
            cmap="Greens",
        )  # fmt: skip
        _box(axes[f, 3], i, j, 1)
    window = xp[:, i * s : i * s + 3, j * s : j * s + 3]
    terms = [int(np.sum(window[c] * demo.weight[0, c])) for c in range(3)]
    axes[2, 3].axis("off")
    axes[2, 3].text(
        0.0,
        0.5,
        f"o[{i},{j},0] = sum over the red\n3x3x3 window of x * w0 + b0\n"
        f"= ({terms[0]}) + ({terms[1]}) + ({terms[2]}) + {demo.bias[0]:g}\n"
        f"= {int(demo.out[0, i, j])}\n\nW=5, F=3, P=1, S=2:\n(5 - 3 + 2)/2 + 1 = 3",
        fontsize=10,
        va="center",
        family="monospace",
    )
    fig.suptitle("Input volume 7x7x3 (5x5x3 + padding), 2 filters 3x3x3, stride 2")
    fig.tight_layout()
    return fig


@figure("conv-window-positions")
def conv_window_positions() -> Figure:
    """Where the windows fall along one axis for four (i, k, s, p, d) settings."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    cases = [
        (5, 3, 1, 0, 1),  # no padding, unit stride: o = i - k + 1
        (5, 3, 1, 1, 1),  # same padding
        (7, 3, 3, 0, 1),  # stride does not fit: the last column is never used
        (7, 3, 1, 0, 2),  # dilation 2: effective kernel 5
    ]
    fig, axes = plt.subplots(len(cases), 1, figsize=(8, 7.2))
    for ax, (i, k, s, p, d) in zip(axes, cases, strict=True):
        o = conv_output_size(i, k, s, p, d)
        k_eff = effective_kernel_size(k, d)
        unused = uncovered_input(i, k, s, p, d)
        n = i + 2 * p
        for c in range(n):
            is_pad = c < p or c >= p + i
            is_unused = c >= n - unused
            color = "0.85" if is_pad else ("salmon" if is_unused else "white")
            ax.add_patch(Rectangle((c, 0), 1, 1, fc=color, ec="0.3"))
        for w in range(o):
            y = -0.6 - 0.45 * w
            start = w * s
            ax.plot([start + 0.5, start + k_eff - 0.5], [y, y], color="C0", lw=1)
            for t in range(k):
                ax.plot(start + t * d + 0.5, y, "o", color="C0", ms=5)
        frac = f"floor(({i} + 2*{p} - {k_eff}) / {s}) + 1"
        ax.set_title(
            f"i={i}, k={k}, s={s}, p={p}, d={d}:  o = {frac} = {o}"
            + (f",  {unused} input cell(s) never covered" if unused else ""),
            fontsize=10,
            loc="left",
        )
        ax.set_xlim(-0.5, 9.5)
        ax.set_ylim(-0.6 - 0.45 * 5, 1.3)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle("Window positions (dots: kernel taps); grey = padding, red = unused")
    fig.tight_layout()
    return fig


@figure("edge-detection")
def edge_detection() -> Figure:
    """Hand-made kernels on scikit-learn's china.jpg (grayscale)."""
    import matplotlib.pyplot as plt

    img = load_photo("china.jpg")
    gx, gy = apply_kernel(img, SOBEL_X), apply_kernel(img, SOBEL_Y)
    panels = [
        ("input (grayscale)", img, "gray"),
        ("Sobel x: vertical edges", gx, "RdBu_r"),
        ("Sobel y: horizontal edges", gy, "RdBu_r"),
        ("edge magnitude sqrt(gx^2 + gy^2)", np.hypot(gx, gy), "magma"),
        ("Laplacian", apply_kernel(img, LAPLACIAN), "RdBu_r"),
        ("Gaussian blur 5x5, sigma=1", apply_kernel(img, KERNELS["gaussian"]), "gray"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.2))
    for ax, (title, data, cmap) in zip(axes.flat, panels, strict=True):
        if cmap == "RdBu_r":
            lim = float(np.percentile(np.abs(data), 99.5))
            ax.imshow(data, cmap=cmap, vmin=-lim, vmax=lim)
        elif cmap == "magma":
            ax.imshow(data, cmap=cmap, vmax=float(np.percentile(data, 99.5)))
        else:
            ax.imshow(data, cmap=cmap)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig


@figure("multichannel-conv")
def multichannel_conv() -> Figure:
    """One 3x3x3 filter on an RGB photo: three channel slices summed into one map."""
    import matplotlib.pyplot as plt

    rgb = load_photo("flower.jpg", gray=False)[::2, ::2]
    weight = np.stack([SOBEL_X, SOBEL_Y, LAPLACIAN])  # one 3x3 slice per channel
    partials, fmap = multichannel_feature_map(rgb, weight, bias=0.0)
    fig, axes = plt.subplots(3, 3, figsize=(11, 8.2))
    names = ["R", "G", "B"]
    slices = ["Sobel x", "Sobel y", "Laplacian"]
    for c in range(3):
        axes[0, c].imshow(rgb[:, :, c], cmap="gray", vmin=0, vmax=1)
        axes[0, c].set_title(f"input channel {names[c]}", fontsize=10)
        lim = float(np.percentile(np.abs(partials[c]), 99.5))
        axes[1, c].imshow(partials[c], cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[1, c].set_title(
            f"{names[c]} * filter slice w[:, :, {c}] ({slices[c]})", fontsize=10
        )
    axes[2, 0].imshow(rgb)
    axes[2, 0].set_title("the RGB input (H x W x 3)", fontsize=10)
    lim = float(np.percentile(np.abs(fmap), 99.5))
    axes[2, 1].imshow(fmap, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2, 1].set_title("sum of the 3 rows above + b = ONE feature map", fontsize=10)
    axes[2, 2].imshow(np.maximum(fmap, 0), cmap="magma", vmax=lim)
    axes[2, 2].set_title("ReLU(feature map)", fontsize=10)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


@figure("receptive-field-growth")
def receptive_field_growth() -> Figure:
    """Receptive field after each layer for three ways of stacking 3x3 convs."""
    import matplotlib.pyplot as plt

    depth = 8
    stacks = {
        "3x3 conv, stride 1": [LayerSpec(3, 1, 1)] * depth,
        "VGG-like: 2 x (3x3 conv) + 2x2 max pool": [
            LayerSpec(2, 2) if n % 3 == 2 else LayerSpec(3, 1, 1) for n in range(depth)
        ],
        "dilated 3x3, d = 1, 2, 4, 8, ...": [
            LayerSpec(3, 1, 2**n, 2**n) for n in range(depth)
        ],
    }
    fig, (ax_rf, ax_j) = plt.subplots(1, 2, figsize=(11, 4))
    for name, layers in stacks.items():
        geo = receptive_fields(layers, 1024)
        ax_rf.plot([g.receptive_field for g in geo], "o-", label=name)
        ax_j.plot([g.jump for g in geo], "o-", label=name)
    ax_rf.set(title="receptive field r (input pixels)", xlabel="layer", yscale="log")
    ax_j.set(
        title="jump j (input pixels between outputs)", xlabel="layer", yscale="log"
    )
    for ax in (ax_rf, ax_j):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@figure("pooling-example")
def pooling_example() -> Figure:
    """cs231n's 4x4 example: 2x2 max and average pooling with stride 2."""
    import matplotlib.pyplot as plt

    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], float)
    mx, _ = max_pool2d_forward(x[None, None], 2, 2)
    av = avg_pool2d_forward(x[None, None], 2, 2)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), width_ratios=[4, 2, 2])
    quad = np.kron(np.array([[0, 1], [2, 3]]), np.ones((2, 2)))
    axes[0].imshow(quad, cmap="Pastel1", vmin=0, vmax=8)
    for (r, c), v in np.ndenumerate(x):
        axes[0].text(c, r, f"{v:g}", ha="center", va="center", fontsize=12)
    axes[0].set_title("input 4x4 (one depth slice)")
    for ax, data, title in ((axes[1], mx[0, 0], "max pool 2x2, s=2"),
                            (axes[2], av[0, 0], "avg pool 2x2, s=2")):  # fmt: skip
        ax.imshow(np.array([[0, 1], [2, 3]]), cmap="Pastel1", vmin=0, vmax=8)
        for (r, c), v in np.ndenumerate(data):
            ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=12)
        ax.set_title(title)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


@figure("init-symmetry")
def init_symmetry() -> Figure:
    """Identical vs random initial kernels trained by the same gradient descent."""
    import matplotlib.pyplot as plt

    runs = {init: symmetry_experiment(init) for init in ("identical", "random")}
    fig = plt.figure(figsize=(11, 5.6))
    grid = fig.add_gridspec(2, 8, height_ratios=[3, 1.2])
    ax_s = fig.add_subplot(grid[0, :4])
    ax_l = fig.add_subplot(grid[0, 4:])
    for name, run in runs.items():
        ax_s.plot(run.kernel_spread, label=f"{name} init")
        ax_l.plot(run.loss, label=f"{name} init (test acc {run.test_accuracy:.0%})")
    ax_s.set(title="mean distance between the 4 kernels", xlabel="gradient step")
    ax_l.set(title="training loss (cross-entropy)", xlabel="gradient step")
    for ax in (ax_s, ax_l):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    for half, name in enumerate(("identical", "random")):
        kernels = runs[name].kernels
        lim = float(np.abs(kernels).max())
        for k in range(len(kernels)):
            ax = fig.add_subplot(grid[1, 4 * half + k])
            ax.imshow(kernels[k], cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{name} {k}", fontsize=8)
    fig.tight_layout()
    return fig


@figure("init-activation-scale")
def init_activation_scale() -> Figure:
    """Activation std through 10 conv+ReLU layers for three initialisations."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    labels = {
        "he": "He: std = sqrt(2 / fan_in)",
        "xavier": "Xavier: std = sqrt(2 / (fan_in + fan_out))",
        "small": "N(0, 0.01^2)",
    }
    for init, label in labels.items():
        stds = activation_scale(init)  # type: ignore[arg-type]
        ax.plot(range(1, len(stds) + 1), stds, "o-", label=label)
    ax.set(
        yscale="log",
        xlabel="layer (3x3 conv, 32 channels, + ReLU)",
        ylabel="std of activations",
        title="Activation scale through a deep stack",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
