"""Numerical computation: finite differences, gradient checking, conditioning.

The gradient checker here uses nothing but NumPy, so it is an oracle that does not
share a single line with PyTorch or with the backward passes it checks.

References: Goodfellow, Bengio & Courville, *Deep Learning* (2016), ch. 4
(overflow/underflow, poor conditioning); Nocedal & Wright, *Numerical
Optimization* (2006), sec. 8.1 (finite-difference step sizes).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlnotes.numpy.types import FloatArray

__all__ = [
    "EPS64",
    "condition_number",
    "finite_difference",
    "finite_difference_error",
    "gradient_check",
    "logsumexp_naive",
    "numerical_gradient",
    "optimal_step",
    "perturbation_amplification",
    "relative_error",
    "softmax_naive",
]

EPS64 = float(np.finfo(np.float64).eps)
"""Machine epsilon of float64, ``2**-52 ~ 2.2e-16``."""

_METHODS = ("forward", "central")


def _check_method_h(method: str, h: float) -> None:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if not h > 0:
        raise ValueError(f"h must be > 0, got {h}")


# --8<-- [start:finite-difference]
def finite_difference(
    f: Callable[[float], float], x: float, h: float, method: str = "central"
) -> float:
    """Approximate ``f'(x)`` of a scalar function.

    * forward: ``(f(x+h) - f(x)) / h``, truncation error ``h/2 |f''|`` (O(h));
    * central: ``(f(x+h) - f(x-h)) / 2h``, truncation error ``h^2/6 |f'''|``
      (O(h^2)).

    Rounding adds about ``eps |f(x)| / h``: too small an ``h`` is as bad as too
    large a one (see :func:`optimal_step`).
    """
    _check_method_h(method, h)
    if method == "forward":
        return (f(x + h) - f(x)) / h
    return (f(x + h) - f(x - h)) / (2 * h)


def optimal_step(method: str = "central", eps: float = EPS64) -> float:
    """The ``h`` that balances truncation and rounding error (unit scales).

    forward: minimise ``h/2 + 2 eps/h``  -> ``h* = 2 sqrt(eps)``  (~3e-8);
    central: minimise ``h^2/6 + eps/h`` -> ``h* = (3 eps)^(1/3)`` (~9e-6).
    """
    _check_method_h(method, 1.0)
    return 2 * np.sqrt(eps) if method == "forward" else (3 * eps) ** (1 / 3)


# --8<-- [end:finite-difference]


def finite_difference_error(
    f: Callable[[float], float],
    df: Callable[[float], float],
    x: float,
    hs: FloatArray,
    method: str = "central",
) -> FloatArray:
    """``|finite_difference(f, x, h) - df(x)|`` for every step ``h`` in ``hs``."""
    exact = df(x)
    return np.array(
        [abs(finite_difference(f, x, float(h), method) - exact) for h in hs]
    )


# --8<-- [start:gradient-check]
def numerical_gradient(
    f: Callable[[FloatArray], float], x: FloatArray, h: float = 1e-6
) -> FloatArray:
    """Central-difference gradient of a scalar function of an array.

    Perturbs one entry at a time (2 evaluations of ``f`` per entry), so use it
    on small arrays only. ``x`` must be float64: in float32 the rounding error
    ``eps/h`` would swamp the result.
    """
    if x.dtype != np.float64:
        raise ValueError(f"x must be float64 for finite differences, got {x.dtype}")
    _check_method_h("central", h)
    x = x.copy()
    grad = np.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)  # views
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + h
        f_plus = f(x)
        flat_x[i] = old - h
        f_minus = f(x)
        flat_x[i] = old
        flat_g[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a: FloatArray, b: FloatArray) -> float:
    """``max |a - b| / max(|a| + |b|, tiny)``, the cs231n gradient-check measure."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape}, {b.shape}")
    denom = np.maximum(np.abs(a) + np.abs(b), 1e-12)
    return float(np.max(np.abs(a - b) / denom)) if a.size else 0.0


def gradient_check(
    f: Callable[[FloatArray], float],
    x: FloatArray,
    analytic_grad: FloatArray,
    h: float = 1e-6,
) -> float:
    """Relative error between ``analytic_grad`` and the numerical gradient.

    Rule of thumb in float64: < 1e-7 is right, > 1e-4 is a bug (cs231n).
    """
    if analytic_grad.shape != x.shape:
        raise ValueError(
            f"analytic_grad must have the shape of x {x.shape}, "
            f"got {analytic_grad.shape}"
        )
    return relative_error(analytic_grad, numerical_gradient(f, x, h))


# --8<-- [end:gradient-check]


# --8<-- [start:condition-number]
def condition_number(A: FloatArray) -> float:
    """``kappa(A) = sigma_max / sigma_min`` (2-norm); ``inf`` for a singular A.

    For a symmetric positive definite A it is ``lambda_max / lambda_min``.
    Solving ``A x = b`` can amplify a relative error in ``b`` by up to kappa.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D matrix, got shape {A.shape}")
    s = np.linalg.svd(A, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def perturbation_amplification(A: FloatArray, b: FloatArray, db: FloatArray) -> float:
    """``(||dx|| / ||x||) / (||db|| / ||b||)`` for ``A x = b``, ``A (x+dx) = b+db``.

    Always ``<= condition_number(A)``; equal to it for the worst ``b`` and ``db``.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square matrix, got shape {A.shape}")
    x = np.linalg.solve(A, b)
    dx = np.linalg.solve(A, b + db) - x
    rel_x = np.linalg.norm(dx) / np.linalg.norm(x)
    rel_b = np.linalg.norm(db) / np.linalg.norm(b)
    return float(rel_x / rel_b)


# --8<-- [end:condition-number]


# --8<-- [start:naive]
def softmax_naive(x: FloatArray) -> FloatArray:
    """Textbook softmax over the last axis: overflows for logits above ~709."""
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def logsumexp_naive(x: FloatArray) -> FloatArray:
    """Textbook ``log(sum(exp(x)))``: inf above ~709, -inf below ~-745."""
    return np.log(np.sum(np.exp(x), axis=-1))


# --8<-- [end:naive]
