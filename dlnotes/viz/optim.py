"""Figures of the optimiser page, computed with :mod:`dlnotes.numpy.optim`.

* ``optimizer-paths``: SGD, momentum, Nesterov, AdaGrad, RMSProp and Adam on an
  ill-conditioned quadratic, once with its long axis along a coordinate axis and
  once rotated by 45 degrees, plus the loss per step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dlnotes.numpy.optim import (
    SGD,
    Adagrad,
    Adam,
    Optimizer,
    Quadratic,
    RMSprop,
)
from dlnotes.numpy.types import FloatArray
from dlnotes.viz import figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["OPTIMIZERS", "X0", "ill_conditioned", "optimizer_path", "rotation"]

# name -> builder(params); step sizes picked so that each converges on the
# axis-aligned problem below in about 60 steps without blowing up.
OPTIMIZERS: dict[str, Callable[[list[FloatArray]], Optimizer]] = {
    "SGD": lambda p: SGD(p, lr=0.075),
    "momentum": lambda p: SGD(p, lr=0.02, momentum=0.8),
    "Nesterov": lambda p: SGD(p, lr=0.02, momentum=0.8, nesterov=True),
    "AdaGrad": lambda p: Adagrad(p, lr=1.5),
    "RMSProp": lambda p: RMSprop(p, lr=0.1, alpha=0.9),
    "Adam": lambda p: Adam(p, lr=0.5, betas=(0.8, 0.99)),
}


def rotation(angle_deg: float) -> FloatArray:
    """The 2-D rotation matrix by ``angle_deg`` degrees (counter-clockwise)."""
    a = np.deg2rad(angle_deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def ill_conditioned(kappa: float = 25.0, angle_deg: float = 0.0) -> Quadratic:
    """``1/2 x^T A x`` with eigenvalues 1 and ``kappa``, axes rotated by ``angle``."""
    if not kappa >= 1:
        raise ValueError(f"kappa must be >= 1, got {kappa}")
    R = rotation(angle_deg)
    return Quadratic(R @ np.diag([1.0, kappa]) @ R.T, np.zeros(2))


def optimizer_path(
    make: Callable[[list[FloatArray]], Optimizer],
    q: Quadratic,
    x0: Sequence[float],
    num_steps: int,
) -> FloatArray:
    """Positions ``(num_steps + 1, d)`` of the optimiser ``make([x])`` on ``q``."""
    x = np.array(x0, dtype=np.float64)
    opt = make([x])
    path = [x.copy()]
    for _ in range(num_steps):
        opt.step([q.grad(x)])
        path.append(x.copy())
    return np.stack(path)


X0 = (-4.0, 1.6)


@figure("optimizer-paths")
def optimizer_paths() -> Figure:
    import matplotlib.pyplot as plt

    steps = 60
    cmap = plt.get_cmap("tab10")
    colors = {name: cmap(i) for i, name in enumerate(OPTIMIZERS)}
    # the same problem and start, the second one rotated by 45 degrees
    problems = [
        ("axis-aligned valley, kappa = 25", 0.0, (-4.6, 4.6, -2.3, 2.3)),
        ("the same valley rotated by 45 deg", 45.0, (-4.2, 4.2, -4.2, 4.2)),
    ]
    fig, axes = plt.subplots(
        1, 3, figsize=(14.5, 4.6), gridspec_kw={"width_ratios": [1.7, 1.05, 1.2]}
    )
    for ax, (title, angle, (x_lo, x_hi, y_lo, y_hi)) in zip(
        axes[:2], problems, strict=True
    ):
        q = ill_conditioned(25.0, angle)
        x0 = rotation(angle) @ np.array(X0)
        gx, gy = np.meshgrid(np.linspace(x_lo, x_hi, 200), np.linspace(y_lo, y_hi, 200))
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        f = 0.5 * np.einsum("ni,ij,nj->n", pts, q.A, pts).reshape(gx.shape)
        levels = np.geomspace(0.05, 60, 12)
        ax.contour(gx, gy, f, levels=levels, colors="0.8", linewidths=0.7)
        for name, make in OPTIMIZERS.items():
            path = optimizer_path(make, q, x0, steps)
            ax.plot(path[:, 0], path[:, 1], ".-", ms=2.5, lw=1, color=colors[name])
            if angle == 0.0:
                loss = np.maximum([q(x) for x in path], 1e-12)
                axes[2].semilogy(loss, color=colors[name], label=name)
        ax.plot(*x0, "ko", ms=4)
        ax.plot(0, 0, "k*", ms=9)
        ax.set(title=title, xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), aspect="equal")
    axes[2].legend(fontsize=8, loc="lower left")
    axes[2].set(
        title="loss per step (axis-aligned valley)",
        xlabel="step",
        ylabel="f(x) - f(x*)",
        ylim=(1e-8, 100),
    )
    axes[2].grid(alpha=0.3)
    fig.suptitle(
        "Same start, 60 steps: momentum damps the zig-zag; AdaGrad / RMSProp / Adam "
        "rescale each coordinate, which helps only when the valley is axis-aligned"
    )
    fig.tight_layout()
    return fig
