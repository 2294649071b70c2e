"""Weight initialisation from scratch, and why kernels must start different.

Xavier/Glorot (Glorot & Bengio, AISTATS 2010) and He/Kaiming (He et al.,
arXiv:1502.01852) initialisers, with fans and gains computed exactly like
``torch.nn.init`` (``_calculate_fan_in_and_fan_out``, ``calculate_gain``), and
a small experiment: a conv layer trained by gradient descent from *identical*
kernels keeps them identical (nothing breaks the symmetry), while random
kernels become different feature detectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from threadpoolctl import threadpool_limits

from dlnotes.numpy.conv import conv2d_backward_im2col, conv2d_forward_im2col
from dlnotes.numpy.pool import max_pool2d_backward, max_pool2d_forward
from dlnotes.numpy.types import FloatArray, IntArray

Shape = tuple[int, ...]


# --8<-- [start:fan-in-out]
def calculate_fan_in_and_fan_out(shape: Shape) -> tuple[int, int]:
    """Fans of a weight of ``shape``, as ``torch.nn.init`` computes them.

    Linear weight (out_features, in_features): fan_in = in_features,
    fan_out = out_features. Conv weight (C_out, C_in, KH, KW): every output
    neuron sums ``fan_in = C_in * KH * KW`` inputs and every input feeds
    ``fan_out = C_out * KH * KW`` outputs.
    """
    if len(shape) < 2:
        raise ValueError(f"shape must have at least 2 dimensions, got {shape}")
    receptive_field = math.prod(shape[2:])  # 1 for a linear layer
    return shape[1] * receptive_field, shape[0] * receptive_field


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for ``nonlinearity`` (``torch.nn.init.calculate_gain``).

    ReLU zeroes half of a symmetric input, halving the second moment, so its
    gain is sqrt(2) (He et al., arXiv:1502.01852); tanh's 5/3 and SELU's 3/4
    are PyTorch's values.
    """
    linear: tuple[str, ...] = ("linear", "conv1d", "conv2d", "conv3d", "sigmoid")
    linear += ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(
        f"nonlinearity must be one of {(*linear, 'tanh', 'relu', 'leaky_relu', 'selu')}"
        f", got {nonlinearity!r}"
    )


# --8<-- [end:fan-in-out]


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# --8<-- [start:xavier-he]
def xavier_std(shape: Shape, gain: float = 1.0) -> float:
    """Glorot & Bengio (2010): ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Keeps the variance of activations (forward) and of gradients (backward)
    roughly constant for a linear or tanh-like layer.
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform(
    shape: Shape, gain: float = 1.0, rng: np.random.Generator | int | None = None
) -> FloatArray:
    """U(-a, a), ``a = sqrt(3) * xavier_std = gain * sqrt(6 / (fan_in + fan_out))``."""
    bound = math.sqrt(3.0) * xavier_std(shape, gain)  # Var U(-a, a) = a^2 / 3
    return _rng(rng).uniform(-bound, bound, size=shape)


def xavier_normal(
    shape: Shape, gain: float = 1.0, rng: np.random.Generator | int | None = None
) -> FloatArray:
    """N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    return _rng(rng).normal(0.0, xavier_std(shape, gain), size=shape)


def kaiming_std(
    shape: Shape,
    a: float = 0.0,
    mode: Literal["fan_in", "fan_out"] = "fan_in",
    nonlinearity: str = "leaky_relu",
) -> float:
    """He et al. (arXiv:1502.01852): ``std = gain / sqrt(fan)``.

    With ReLU (gain sqrt(2)) and ``mode="fan_in"`` the variance of the
    pre-activations stays constant from layer to layer (``Var = 2 / fan_in``);
    ``mode="fan_out"`` keeps the gradients' variance constant instead.
    ``a`` is the negative slope of leaky ReLU (``a = 0``: plain ReLU).
    """
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform(
    shape: Shape,
    a: float = 0.0,
    mode: Literal["fan_in", "fan_out"] = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: np.random.Generator | int | None = None,
) -> FloatArray:
    """U(-b, b) with ``b = sqrt(3) * gain / sqrt(fan)`` (``kaiming_uniform_``)."""
    bound = math.sqrt(3.0) * kaiming_std(shape, a, mode, nonlinearity)
    return _rng(rng).uniform(-bound, bound, size=shape)


def kaiming_normal(
    shape: Shape,
    a: float = 0.0,
    mode: Literal["fan_in", "fan_out"] = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: np.random.Generator | int | None = None,
) -> FloatArray:
    """N(0, std^2) with ``std = gain / sqrt(fan)`` (``kaiming_normal_``)."""
    return _rng(rng).normal(0.0, kaiming_std(shape, a, mode, nonlinearity), size=shape)


# --8<-- [end:xavier-he]


# --8<-- [start:activation-scale]
def activation_scale(
    init: Literal["xavier", "he", "small"],
    num_layers: int = 10,
    channels: int = 32,
    seed: int = 0,
) -> list[float]:
    """Std of the activations after each conv + ReLU layer of a deep stack.

    A 3x3 conv (padding 1) followed by ReLU, ``num_layers`` times, on random
    input (8 images, ``channels`` x 16 x 16): He init keeps the scale, Xavier
    (made for linear/tanh units) halves the variance per ReLU layer, and a
    small constant std (0.01) makes the signal vanish.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, channels, 16, 16))
    shape = (channels, channels, 3, 3)
    if init not in ("xavier", "he", "small"):
        raise ValueError(f"init must be 'xavier', 'he' or 'small', got {init!r}")
    stds = []
    for _ in range(num_layers):
        if init == "he":
            w = kaiming_normal(shape, nonlinearity="relu", rng=rng)
        elif init == "xavier":
            w = xavier_normal(shape, rng=rng)
        else:
            w = rng.normal(0.0, 0.01, size=shape)
        with threadpool_limits(limits=1, user_api="blas"):  # small GEMMs
            x = np.maximum(conv2d_forward_im2col(x, w, padding=1), 0.0)
        stds.append(float(x.std()))
    return stds


# --8<-- [end:activation-scale]


# --8<-- [start:symmetry-experiment]
@dataclass
class SymmetryRun:
    """History of one training run of :func:`symmetry_experiment`."""

    init: str
    kernel_spread: list[float] = field(default_factory=list)  # mean pairwise dist
    loss: list[float] = field(default_factory=list)
    kernels: FloatArray = field(default_factory=lambda: np.zeros(0))  # final
    test_accuracy: float = 0.0


def _softmax_cross_entropy(
    logits: FloatArray, y: FloatArray
) -> tuple[float, FloatArray]:
    """Mean cross-entropy and its gradient w.r.t. the logits (stable softmax)."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.mean(np.log(p[np.arange(n), y] + 1e-300))
    p[np.arange(n), y] -= 1.0
    return float(loss), p / n


def _spread(w: FloatArray) -> float:
    """Mean distance between all pairs of kernels (0 when all are equal)."""
    flat = w.reshape(len(w), -1)
    d = [np.linalg.norm(flat[i] - flat[j]) for i in range(len(w)) for j in range(i)]
    return float(np.mean(d))


def symmetry_experiment(
    init: Literal["identical", "random"],
    num_filters: int = 4,
    num_steps: int = 80,
    lr: float = 0.2,
    num_train: int = 500,
    seed: int = 0,
) -> SymmetryRun:
    """Train conv(1->K, 3x3) -> ReLU -> maxpool 2 -> linear -> softmax on digits.

    Full-batch gradient descent on 8x8 digits (``sklearn.datasets.load_digits``:
    ``num_train`` images for training, the last 500 for testing), gradients
    from :mod:`dlnotes.numpy.conv` and :mod:`dlnotes.numpy.pool`.
    ``init="identical"`` copies one random kernel into all K filters and gives
    every feature map the same outgoing weights:
    the K channels compute the same thing, receive the same gradient and stay
    copies forever. ``init="random"`` (He kernels, Xavier readout) breaks the
    symmetry, so the kernels learn different features.
    """
    from sklearn.datasets import load_digits

    if init not in ("identical", "random"):
        raise ValueError(f"init must be 'identical' or 'random', got {init!r}")
    digits = load_digits()
    X = digits.images[:, None] / 16.0  # (1797, 1, 8, 8), values in [0, 1]
    y = digits.target
    X_train, y_train = X[:num_train], y[:num_train]
    X_test, y_test = X[-500:], y[-500:]
    rng = np.random.default_rng(seed)
    K = num_filters
    if init == "identical":
        w = np.repeat(kaiming_normal((1, 1, 3, 3), nonlinearity="relu", rng=rng), K, 0)
        v_one = xavier_uniform((10, K * 16), rng=rng).T[:16]  # one map's weights
        V = np.tile(v_one, (K, 1))  # (K*16, 10): every map gets the same weights
    else:
        w = kaiming_normal((K, 1, 3, 3), nonlinearity="relu", rng=rng)
        V = xavier_uniform((10, K * 16), rng=rng).T  # (K*16, 10)
    b, c = np.zeros(K), np.zeros(10)
    run = SymmetryRun(init=init)

    def forward(
        X: FloatArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray, IntArray, FloatArray]:
        a = conv2d_forward_im2col(X, w, b, padding=1)  # (n, K, 8, 8)
        r = np.maximum(a, 0.0)
        h, argmax = max_pool2d_forward(r, 2)  # (n, K, 4, 4)
        return a, r, h, argmax, h.reshape(len(X), -1) @ V + c

    # Tiny matrices: BLAS threads only add synchronisation (and stall badly on a
    # busy machine), so the experiment runs single-threaded.
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(num_steps):
            run.kernel_spread.append(_spread(w))
            a, r, h, argmax, logits = forward(X_train)
            loss, dlogits = _softmax_cross_entropy(logits, y_train)
            run.loss.append(loss)
            dV = h.reshape(len(X_train), -1).T @ dlogits
            dh = (dlogits @ V.T).reshape(h.shape)
            dr = max_pool2d_backward(dh, r, argmax, 2)
            da = dr * (a > 0)  # ReLU
            _, dw, db = conv2d_backward_im2col(da, X_train, w, padding=1)
            w -= lr * dw
            b -= lr * db
            V -= lr * dV
            c -= lr * dlogits.sum(axis=0)
        run.kernel_spread.append(_spread(w))
        run.kernels = w[:, 0].copy()
        run.test_accuracy = float(np.mean(forward(X_test)[-1].argmax(1) == y_test))
    return run


# --8<-- [end:symmetry-experiment]
