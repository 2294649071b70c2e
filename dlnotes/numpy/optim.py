"""Gradient descent: step size on a quadratic, and SGD with momentum.

On the quadratic ``f(x) = 1/2 x^T A x - b^T x`` (A symmetric positive definite,
eigenvalues ``mu = lambda_min <= ... <= lambda_max = L``), gradient descent
``x <- x - lr (A x - b)`` moves the error ``e = x - x*`` by ``e <- (I - lr A) e``.
Along eigenvector i the error is multiplied by ``1 - lr * lambda_i`` each step, so

* it converges iff ``|1 - lr lambda_i| < 1`` for all i, i.e. ``0 < lr < 2 / L``;
* it oscillates (sign flips) along directions with ``lr lambda_i > 1``;
* the best constant step is ``lr = 2 / (mu + L)``, with rate
  ``(kappa - 1) / (kappa + 1)``, ``kappa = L / mu``.

:class:`SGD` reproduces ``torch.optim.SGD`` (momentum, dampening, Nesterov, weight
decay) update for update. Momentum: Polyak (1964). PyTorch keeps the learning rate
outside the velocity, ``v <- mu v + g; p <- p - lr v``, unlike Sutskever et al.
(2013), ``v <- mu v + lr g; p <- p - v``; the two agree while ``lr`` is constant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dlnotes.numpy.types import FloatArray

__all__ = [
    "SGD",
    "Quadratic",
    "convergence_rate",
    "gradient_descent",
    "optimal_lr",
    "step_size_regime",
]


# --8<-- [start:quadratic]
@dataclass(frozen=True)
class Quadratic:
    """``f(x) = 1/2 x^T A x - b^T x`` with A symmetric positive definite."""

    A: FloatArray  # (d, d), symmetric positive definite
    b: FloatArray  # (d,)

    def __post_init__(self) -> None:
        A, b = np.asarray(self.A, dtype=np.float64), np.asarray(self.b, np.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.allclose(A, A.T):
            raise ValueError(f"A must be a symmetric square matrix, got {A.shape}")
        if np.linalg.eigvalsh(A)[0] <= 0:
            raise ValueError("A must be positive definite (all eigenvalues > 0)")
        if b.shape != (A.shape[0],):
            raise ValueError(f"b must have shape ({A.shape[0]},), got {b.shape}")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "b", b)

    def __call__(self, x: FloatArray) -> float:
        return float(0.5 * x @ self.A @ x - self.b @ x)

    def grad(self, x: FloatArray) -> FloatArray:
        return self.A @ x - self.b

    @property
    def minimizer(self) -> FloatArray:
        return np.linalg.solve(self.A, self.b)

    @property
    def mu(self) -> float:
        """Smallest eigenvalue (strong convexity constant)."""
        return float(np.linalg.eigvalsh(self.A)[0])

    @property
    def L(self) -> float:
        """Largest eigenvalue (Lipschitz constant of the gradient)."""
        return float(np.linalg.eigvalsh(self.A)[-1])


# --8<-- [end:quadratic]


# --8<-- [start:gradient-descent]
def gradient_descent(
    grad: Callable[[FloatArray], FloatArray],
    x0: FloatArray,
    lr: float,
    num_steps: int,
) -> FloatArray:
    """Plain gradient descent ``x <- x - lr * grad(x)``.

    Returns the trajectory, shape (num_steps + 1, d), starting with ``x0``.
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    xs = [np.asarray(x0, dtype=np.float64)]
    for _ in range(num_steps):
        xs.append(xs[-1] - lr * grad(xs[-1]))
    return np.stack(xs)


def convergence_rate(lr: float, eigenvalues: FloatArray) -> float:
    """Per-step error factor ``max_i |1 - lr lambda_i|`` of GD on a quadratic."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    return float(np.max(np.abs(1.0 - lr * lam)))


def optimal_lr(mu: float, L: float) -> float:
    """``2 / (mu + L)``: minimises :func:`convergence_rate` over constant steps."""
    if not 0 < mu <= L:
        raise ValueError(f"need 0 < mu <= L, got mu={mu}, L={L}")
    return 2.0 / (mu + L)


def step_size_regime(lr: float, L: float) -> str:
    """What GD does along the steepest direction (curvature L) with step ``lr``.

    ``"monotone"`` (lr <= 1/L), ``"oscillating"`` (1/L < lr < 2/L, sign flips but
    converges), ``"stalled"`` (lr = 2/L exactly) or ``"divergent"`` (lr > 2/L).
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    factor = 1.0 - lr * L
    if factor >= 0:
        return "monotone"
    if factor > -1:
        return "oscillating"
    return "stalled" if factor == -1 else "divergent"


# --8<-- [end:gradient-descent]


# --8<-- [start:sgd]
class SGD:
    """Stochastic gradient descent exactly like ``torch.optim.SGD``.

    Per parameter ``p`` with gradient ``g`` (``maximize=False``)::

        g = g + weight_decay * p                 # L2 penalty
        v = g                   (first step)     # momentum buffer
        v = momentum * v + (1 - dampening) * g   (later steps)
        g = g + momentum * v if nesterov else v
        p = p - lr * g

    Parameters are NumPy arrays updated in place.
    """

    def __init__(
        self,
        params: Sequence[FloatArray],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        if not lr >= 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        if momentum < 0:
            raise ValueError(f"momentum must be >= 0, got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov requires momentum > 0 and dampening = 0")
        self.params = list(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.velocity: list[FloatArray | None] = [None] * len(self.params)

    def step(self, grads: Sequence[FloatArray]) -> None:
        """Update every parameter in place from its gradient."""
        if len(grads) != len(self.params):
            raise ValueError(
                f"grads must have one array per parameter ({len(self.params)}), "
                f"got {len(grads)}"
            )
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            if g.shape != p.shape:
                raise ValueError(f"grads[{i}] has shape {g.shape}, param {p.shape}")
            if self.weight_decay != 0:
                g = g + self.weight_decay * p
            if self.momentum != 0:
                v = self.velocity[i]
                if v is None:
                    v = g.copy()
                else:
                    v = self.momentum * v + (1 - self.dampening) * g
                self.velocity[i] = v
                g = g + self.momentum * v if self.nesterov else v
            p -= self.lr * g


# --8<-- [end:sgd]
