"""The perceptron learning rule, its convergence, and XOR.

Rosenblatt (1958), "The perceptron: a probabilistic model for information storage
and organization in the brain". Convergence bound: Novikoff (1962), "On
convergence proofs for perceptrons": on data separable with margin ``gamma`` by a
unit vector, inside a ball of radius ``R``, the rule makes at most
``(R / gamma)^2`` mistakes. Minsky & Papert (1969) showed a single layer cannot
compute XOR; one hidden layer can.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlnotes.numpy.types import FloatArray

__all__ = [
    "XOR_X",
    "XOR_Y",
    "PerceptronResult",
    "make_separable",
    "novikoff_bound",
    "perceptron_predict",
    "perceptron_train",
    "step",
    "xor_network",
]

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([-1.0, 1.0, 1.0, -1.0])  # labels in {-1, +1}


def _check_xy(X: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be (N, D), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("y must hold labels -1 or +1")
    return X, y


@dataclass
class PerceptronResult:
    weight: FloatArray  # (D,)
    bias: float
    mistakes_per_epoch: list[int]  # updates made in each pass over the data
    converged: bool  # True when the last epoch made no mistake
    history: list[tuple[FloatArray, float]]  # (w, b) after every update


# --8<-- [start:perceptron]
def perceptron_train(
    X: FloatArray, y: FloatArray, lr: float = 1.0, max_epochs: int = 100
) -> PerceptronResult:
    """Rosenblatt's rule: on a mistake ``y (w.x + b) <= 0`` do
    ``w <- w + lr y x`` and ``b <- b + lr y``; stop after a clean epoch.

    ``X`` (N, D) inputs, ``y`` (N,) labels in {-1, +1}.
    """
    X, y = _check_xy(X, y)
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    w, b = np.zeros(X.shape[1]), 0.0
    mistakes: list[int] = []
    history: list[tuple[FloatArray, float]] = []
    for _ in range(max_epochs):
        errors = 0
        for x_i, y_i in zip(X, y, strict=True):
            if y_i * (w @ x_i + b) <= 0:  # misclassified (or on the boundary)
                w += lr * y_i * x_i
                b += lr * y_i
                errors += 1
                history.append((w.copy(), b))
        mistakes.append(errors)
        if errors == 0:
            return PerceptronResult(w, b, mistakes, True, history)
    return PerceptronResult(w, b, mistakes, False, history)


def perceptron_predict(X: FloatArray, weight: FloatArray, bias: float) -> FloatArray:
    """Labels ``sign(w.x + b)`` in {-1, +1} (0 counts as -1)."""
    return np.where(np.asarray(X) @ weight + bias > 0, 1.0, -1.0)


# --8<-- [end:perceptron]


def novikoff_bound(
    X: FloatArray, y: FloatArray, weight: FloatArray, bias: float
) -> float:
    """``(R / gamma)^2`` for a separating hyperplane ``(weight, bias)``.

    Uses the augmented inputs ``(x, 1)`` so the bias is one more weight:
    ``R = max ||(x, 1)||`` and ``gamma = min y (w.x + b) / ||(w, b)||``.
    Raises ValueError when the hyperplane does not separate the data.
    """
    X, y = _check_xy(X, y)
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    wa = np.append(weight, bias)
    gamma = float(np.min(y * (Xa @ wa)) / np.linalg.norm(wa))
    if gamma <= 0:
        raise ValueError("weight and bias must separate the data (margin > 0)")
    radius = float(np.max(np.linalg.norm(Xa, axis=1)))
    return (radius / gamma) ** 2


def make_separable(
    n_samples: int = 100, margin: float = 0.2, seed: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """2-D points in [-1, 1]^2 labelled by a random line, kept only if at least
    ``margin`` away from it. Returns ``X (N, 2), y (N,), weight (2,), bias``."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi)
    weight = np.array([np.cos(angle), np.sin(angle)])  # unit normal
    bias = float(rng.uniform(-0.3, 0.3))
    points: list[FloatArray] = []
    while len(points) < n_samples:
        x = rng.uniform(-1, 1, size=2)
        if abs(weight @ x + bias) >= margin:
            points.append(x)
    X = np.array(points)
    y = np.where(X @ weight + bias > 0, 1.0, -1.0)
    return X, y, weight, bias


# --8<-- [start:xor-network]
def step(x: FloatArray) -> FloatArray:
    """Heaviside step of the M-P neuron: 1 if ``x > 0`` else 0."""
    return (np.asarray(x) > 0).astype(np.float64)


def xor_network(X: FloatArray) -> FloatArray:
    """XOR with one hidden layer of two threshold neurons (weights by hand).

    h1 = OR(x1, x2), h2 = AND(x1, x2), out = h1 AND NOT h2. Returns 0/1, (N,).
    """
    W1 = np.array([[1.0, 1.0], [1.0, 1.0]])  # (hidden=2, in=2)
    b1 = np.array([-0.5, -1.5])  # OR fires at >= 1 input, AND at 2
    w2, b2 = np.array([1.0, -1.0]), -0.5
    h = step(np.asarray(X) @ W1.T + b1)  # (N, 2) hidden layer
    return step(h @ w2 + b2)  # (N,)


# --8<-- [end:xor-network]
