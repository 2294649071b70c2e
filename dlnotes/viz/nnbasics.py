"""Figures of the math and neural-network-basics pages (computed by dlnotes code)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dlnotes.numpy import functional as fn
from dlnotes.numpy.dropout import dropout
from dlnotes.numpy.mlp import MLP, Linear, load_digits_split, train_digits
from dlnotes.numpy.numerical import finite_difference_error, optimal_step
from dlnotes.numpy.optim import (
    SGD,
    Quadratic,
    convergence_rate,
    gradient_descent,
    optimal_lr,
)
from dlnotes.numpy.perceptron import (
    XOR_X,
    XOR_Y,
    make_separable,
    perceptron_train,
    xor_network,
)
from dlnotes.viz import figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _subplots(
    ncols: int, width: float = 4.2, height: float = 3.4
) -> tuple[Figure, list[Axes]]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


@figure("activation-functions")
def activation_functions() -> Figure:
    """sigmoid, tanh, ReLU and their derivatives (from the *_backward functions)."""
    x = np.linspace(-5, 5, 401)
    ones = np.ones_like(x)
    curves = {
        "sigmoid": (fn.sigmoid(x), fn.sigmoid_backward(ones, fn.sigmoid(x))),
        "tanh": (fn.tanh(x), fn.tanh_backward(ones, fn.tanh(x))),
        "ReLU": (fn.relu(x), fn.relu_backward(ones, x)),
    }
    fig, (ax_f, ax_d) = _subplots(2)
    for name, (f, d) in curves.items():
        ax_f.plot(x, f, label=name)
        ax_d.plot(x, d, label=name)
    ax_f.set(title="activation f(x)", xlabel="x", ylim=(-1.2, 2.5))
    ax_d.set(title="derivative f'(x)", xlabel="x", ylim=(-0.05, 1.1))
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="0.7", lw=0.8)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


@figure("finite-difference-error")
def finite_difference_error_figure() -> Figure:
    """Error of forward and central differences of sin at 0.7 versus step h."""
    hs = np.logspace(-15, -1, 141)
    fig, (ax,) = _subplots(1, width=5.6, height=3.8)
    for method, style in (("forward", "-"), ("central", "-")):
        err = finite_difference_error(np.sin, np.cos, 0.7, hs, method)
        ax.loglog(hs, np.maximum(err, 1e-17), style, label=f"{method} difference")
        h_opt = optimal_step(method)
        ax.axvline(h_opt, ls="--", lw=0.8, color=ax.lines[-1].get_color())
    ax.loglog(hs, hs / 2, ":", color="0.5", label="slope 1 (h)")
    ax.loglog(hs, hs**2 / 6, ":", color="0.3", label="slope 2 (h^2)")
    ax.loglog(hs, 2.2e-16 / hs, "-.", color="0.6", label="rounding eps/h")
    ax.set(
        xlabel="step h",
        ylabel="|error| of f'(0.7), f = sin",
        ylim=(1e-17, 1),
        title="truncation vs rounding error",
    )
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def _contours(ax: Axes, q: Quadratic, lim: tuple[float, float, float, float]) -> None:
    x0, x1, y0, y1 = lim
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    vals = 0.5 * np.einsum("ni,ij,nj->n", pts, q.A, pts) - pts @ q.b
    levels = np.quantile(vals, np.linspace(0.01, 0.9, 12))
    ax.contour(
        gx, gy, vals.reshape(gx.shape), levels=levels, colors="0.75", linestyles="solid"
    )
    ax.plot(*q.minimizer, "k*", ms=10)


@figure("gd-step-sizes")
def gd_step_sizes() -> Figure:
    """GD on f = 1/2 x^T diag(1, 10) x for step sizes around 1/L and 2/L."""
    q = Quadratic(np.diag([1.0, 10.0]), np.zeros(2))
    x0 = np.array([-4.0, 1.5])
    lrs = {
        "lr=0.02 (small)": 0.02,
        "lr=0.1 = 1/L": 0.1,
        f"lr=2/(mu+L)={optimal_lr(q.mu, q.L):.3f}": optimal_lr(q.mu, q.L),
        "lr=0.195 (zig-zag)": 0.195,
        "lr=0.205 > 2/L": 0.205,
    }
    fig, (ax_p, ax_e) = _subplots(2, width=4.8)
    _contours(ax_p, q, (-4.5, 4.5, -3.5, 3.5))
    for label, lr in lrs.items():
        xs = gradient_descent(q.grad, x0, lr, 60)
        shown = xs[:25] if lr < 0.2 else xs[:9]
        ax_p.plot(shown[:, 0], shown[:, 1], ".-", lw=1, ms=3, label=label)
        err = np.linalg.norm(xs - q.minimizer, axis=1)
        rate = convergence_rate(lr, np.array([q.mu, q.L]))
        ax_e.semilogy(err, label=f"{label}, rate {rate:.3f}")
    ax_p.set(xlim=(-4.5, 4.5), ylim=(-3.5, 3.5), title="trajectories, mu=1, L=10")
    ax_p.legend(fontsize=7, loc="lower right")
    ax_e.set(xlabel="iteration", ylabel="||x - x*||", title="error per iteration")
    ax_e.legend(fontsize=7)
    ax_e.grid(alpha=0.3)
    fig.tight_layout()
    return fig


@figure("feature-scaling-gd")
def feature_scaling_gd() -> Figure:
    """Least squares with features of scale 1 and 5, raw vs standardised."""
    rng = np.random.default_rng(0)
    n = 200
    X = np.column_stack([rng.normal(0, 1, n), rng.normal(0, 5, n)])
    y = X @ np.array([2.0, -0.4]) + 0.1 * rng.normal(size=n)
    fig, axes = _subplots(2, width=4.4)
    for ax, scaled in zip(axes, (False, True), strict=True):
        Z = X / X.std(axis=0) if scaled else X
        q = Quadratic(Z.T @ Z / n, Z.T @ y / n)  # Hessian of the MSE / 2
        w_star = q.minimizer
        lr = optimal_lr(q.mu, q.L)
        xs = gradient_descent(q.grad, w_star + np.array([-2.0, 1.5]), lr, 200)
        err = np.linalg.norm(xs - w_star, axis=1)
        steps = (
            int(np.argmax(err < 1e-6 * err[0])) if np.any(err < 1e-6 * err[0]) else 200
        )
        c = w_star
        _contours(ax, q, (c[0] - 3, c[0] + 3, c[1] - 3, c[1] + 3))
        ax.plot(xs[:30, 0], xs[:30, 1], "r.-", lw=1, ms=3)
        kappa = q.L / q.mu
        name = "standardised features" if scaled else "raw features (std 1 and 5)"
        ax.set(
            title=f"{name}\nkappa={kappa:.1f}, steps to 1e-6: {steps}",
            xlabel="w1",
            ylabel="w2",
        )
        ax.set_aspect("equal")
    fig.tight_layout()
    return fig


@figure("perceptron-xor")
def perceptron_xor() -> Figure:
    """Perceptron on separable data, its failure on XOR, and a hidden layer."""
    fig, axes = _subplots(3, width=3.6, height=3.6)
    X, y, _, _ = make_separable(80, margin=0.1, seed=0)
    res = perceptron_train(X, y)
    xs = np.linspace(-1.2, 1.2, 2)

    def line(ax: Axes, w: np.ndarray, b: float, **kw: object) -> None:
        if not np.any(w):
            return  # w = 0: no line at all
        if abs(w[1]) > 1e-12:
            ax.plot(xs, -(w[0] * xs + b) / w[1], **kw)  # type: ignore[arg-type]
        else:
            ax.axvline(-b / w[0], **kw)  # type: ignore[arg-type]

    ax = axes[0]
    ax.scatter(X[y > 0, 0], X[y > 0, 1], marker="o", label="+1")
    ax.scatter(X[y < 0, 0], X[y < 0, 1], marker="x", label="-1")
    line(ax, res.weight, res.bias, color="k")
    epochs = len(res.mistakes_per_epoch)
    ax.set(title=f"separable: converged in {epochs} epochs", xlim=(-1.2, 1.2))
    ax.set_ylim(-1.2, 1.2)
    ax.legend(fontsize=8)

    ax = axes[1]
    res_xor = perceptron_train(XOR_X, XOR_Y, max_epochs=100)
    ax.scatter(
        XOR_X[XOR_Y > 0, 0], XOR_X[XOR_Y > 0, 1], s=80, marker="o", label="XOR = 1"
    )
    ax.scatter(
        XOR_X[XOR_Y < 0, 0], XOR_X[XOR_Y < 0, 1], s=80, marker="x", label="XOR = 0"
    )
    for k, (w, b) in enumerate(res_xor.history[-4:]):  # the last epoch's updates
        line(ax, w, b, color=f"C{k + 2}", ls="--", lw=1, label=f"w={w}, b={b:g}")
    ax.set(
        title=f"XOR: {res_xor.mistakes_per_epoch[-1]} mistakes in every epoch",
        xlim=(-0.5, 1.5),
        ylim=(-0.5, 1.5),
    )
    ax.legend(fontsize=6, loc="center")

    ax = axes[2]
    g = np.linspace(-0.5, 1.5, 200)
    gx, gy = np.meshgrid(g, g)
    region = xor_network(np.column_stack([gx.ravel(), gy.ravel()]))
    ax.contourf(gx, gy, region.reshape(gx.shape), levels=[-0.5, 0.5, 1.5], alpha=0.3)
    ax.scatter(XOR_X[XOR_Y > 0, 0], XOR_X[XOR_Y > 0, 1], s=80, marker="o")
    ax.scatter(XOR_X[XOR_Y < 0, 0], XOR_X[XOR_Y < 0, 1], s=80, marker="x")
    xs = g
    ax.plot(xs, 0.5 - xs, "k--", lw=0.8)  # hidden unit 1: x1 + x2 = 0.5 (OR)
    ax.plot(xs, 1.5 - xs, "k:", lw=0.8)  # hidden unit 2: x1 + x2 = 1.5 (AND)
    ax.set(title="hidden layer: OR and NOT AND", xlim=(-0.5, 1.5), ylim=(-0.5, 1.5))
    fig.tight_layout()
    return fig


@figure("mlp-digits-training")
def mlp_digits_training() -> Figure:
    """Loss and accuracy per epoch of the 64-128-10 MLP on the digits."""
    _, h = train_digits()
    epochs = np.arange(1, len(h.train_loss) + 1)
    fig, (ax_l, ax_a) = _subplots(2)
    ax_l.semilogy(epochs, h.train_loss, "o-", ms=3)
    ax_l.set(xlabel="epoch", ylabel="mean cross-entropy", title="training loss")
    ax_a.plot(epochs, h.train_acc, "o-", ms=3, label="train")
    ax_a.plot(
        epochs, h.test_acc, "s-", ms=3, label=f"test (final {h.test_acc[-1]:.3f})"
    )
    ax_a.axhline(0.95, color="0.6", ls="--", lw=0.8)
    ax_a.set(xlabel="epoch", ylabel="accuracy", ylim=(0.85, 1.005), title="accuracy")
    ax_a.legend()
    for ax in (ax_l, ax_a):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _bumpy(x: np.ndarray) -> np.ndarray:
    return 0.05 * x**4 - 0.5 * x**2 + 0.3 * x + 0.4 * np.sin(3 * x)


def _bumpy_grad(x: np.ndarray) -> np.ndarray:
    return 0.2 * x**3 - x + 0.3 + 1.2 * np.cos(3 * x)


@figure("nonconvex-minima")
def nonconvex_minima() -> Figure:
    """Plain GD stops in the nearest local minimum; momentum can roll through."""
    fig, (ax, ax_s) = _subplots(2, width=4.6)
    grid = np.linspace(-3.6, 3.4, 400)
    ax.plot(grid, _bumpy(grid), color="0.4")
    start = 0.3
    for momentum, marker in ((0.0, "o"), (0.9, "s")):
        x = np.array([start])
        opt = SGD([x], lr=0.02, momentum=momentum)
        path = [float(x[0])]
        for _ in range(300):
            opt.step([_bumpy_grad(x)])
            path.append(float(x[0]))
        p = np.array(path)
        ax.plot(p[::3], _bumpy(p[::3]), marker, ms=3, alpha=0.5)
        ax.plot(
            p[-1],
            _bumpy(p[-1:])[0],
            marker,
            ms=10,
            color=ax.lines[-1].get_color(),
            label=f"momentum={momentum}: ends at w={p[-1]:.2f}",
        )
    ax.plot(start, _bumpy(np.array([start]))[0], "k^", ms=9, label="start w=0.3")
    ax.set(title="non-convex loss: local vs global minimum", xlabel="w", ylabel="loss")
    ax.legend(fontsize=7)

    # saddle f = (x^2 - y^2) / 2: GD leaves it only along y, slowly if y0 is tiny
    g = np.linspace(-1.5, 1.5, 200)
    gx, gy = np.meshgrid(g, g)
    ax_s.contour(
        gx, gy, (gx**2 - gy**2) / 2, levels=15, colors="0.75", linestyles="solid"
    )
    for y0 in (1e-1, 1e-3, 1e-6):
        xs = gradient_descent(
            lambda p: np.array([p[0], -p[1]]), np.array([1.4, y0]), 0.1, 80
        )
        xs = xs[np.all(np.abs(xs) <= 1.5, axis=1)]
        ax_s.plot(
            xs[:, 0], xs[:, 1], ".-", ms=2, label=f"y0={y0:g}: {len(xs)} steps shown"
        )
    ax_s.plot(0, 0, "k+", ms=12)
    ax_s.set(title="saddle point of (x^2 - y^2)/2", xlabel="x", ylabel="y")
    ax_s.legend(fontsize=7, loc="lower left")
    ax_s.set_aspect("equal")
    fig.tight_layout()
    return fig


def _layer_activations(net: MLP, X: np.ndarray) -> list[np.ndarray]:
    """Inputs of each Linear after the first (i.e. outputs of each hidden block)."""
    outs: list[np.ndarray] = []
    for layer in net:
        if isinstance(layer, Linear):
            outs.append(X)
        X = layer.forward(X)
    return outs[1:]


@figure("batchnorm-activations")
def batchnorm_activations() -> Figure:
    """Hidden tanh activations of a 6-hidden-layer MLP on digits, with/without BN."""
    data = load_digits_split()
    X = data.X_train[:512]
    sizes = (64, 256, 256, 256, 256, 256, 256, 10)
    fig, axes = _subplots(2, width=4.6)
    for ax, bn in zip(axes, (False, True), strict=True):
        net = MLP(sizes, activation="tanh", batchnorm=bn, seed=0)
        acts = _layer_activations(net, X)
        for i, a in enumerate(acts, start=1):
            if i in (1, 2, 4, 6):
                label = f"layer {i}: std {a.std():.3f}"
                ax.hist(a.ravel(), bins=60, range=(-1, 1), histtype="step", label=label)
        ax.set(
            title="with BatchNorm1d" if bn else "without BN (PyTorch default init)",
            xlabel="tanh activation",
            yscale="log",
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@figure("dropout-mask")
def dropout_mask() -> Figure:
    """Inverted dropout on one digit: mask, output, average of many outputs."""
    from sklearn.datasets import load_digits

    img = load_digits().images[0] / 16.0  # (8, 8) in [0, 1]
    rng = np.random.default_rng(0)
    out, mask = dropout(img, p=0.5, rng=rng)
    mean = np.mean([dropout(img, p=0.5, rng=rng)[0] for _ in range(2000)], axis=0)
    panels = {
        "input x": img,
        "mask (0 or 1/(1-p)), p=0.5": mask,
        "train output x * mask": out,
        "mean of 2000 outputs ~ x": mean,
    }
    fig, axes = _subplots(4, width=2.6, height=2.9)
    for ax, (title, arr) in zip(axes, panels.items(), strict=True):
        im = ax.imshow(arr, cmap="gray_r", vmin=0, vmax=2)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.8)
    return fig
