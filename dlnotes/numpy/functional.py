"""Softmax, information measures, activations and the softmax cross-entropy loss.

Everything here is written so that it never overflows: exponentials are only ever
taken of non-positive numbers (shift by the maximum first, the log-sum-exp trick).
Each activation's backward sits right below its forward, PyTorch-style:
``*_backward(grad_output, ...)`` returns the gradient with respect to the input.

References: Goodfellow, Bengio & Courville, *Deep Learning* (2016), ch. 3 (softmax,
entropy, KL) and ch. 4.1 (overflow and underflow).
"""

from __future__ import annotations

import numpy as np

from dlnotes.numpy.types import FloatArray, IntArray

__all__ = [
    "cross_entropy",
    "cross_entropy_loss",
    "cross_entropy_loss_backward",
    "entropy",
    "kl_div",
    "log_softmax",
    "logsumexp",
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "softmax",
    "tanh",
    "tanh_backward",
]


def _as_float(x: FloatArray, name: str) -> FloatArray:
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    return arr


# --8<-- [start:logsumexp]
def logsumexp(x: FloatArray, dim: int = -1, keepdim: bool = False) -> FloatArray:
    """``log(sum(exp(x)))`` along ``dim`` without overflow.

    Shift by the maximum ``m``: ``log sum exp(x) = m + log sum exp(x - m)``.
    Every ``x - m <= 0``, so ``exp`` never overflows, and the largest term is
    ``exp(0) = 1``, so the sum never underflows to 0 (no ``log(0)``).
    """
    x = _as_float(x, "x")
    m = np.max(x, axis=dim, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # all -inf: leave them, result -inf
    with np.errstate(divide="ignore"):  # log(0) = -inf only if all are -inf
        out = m + np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True))
    return out if keepdim else np.squeeze(out, axis=dim)


# --8<-- [end:logsumexp]


# --8<-- [start:softmax]
def softmax(x: FloatArray, dim: int = -1) -> FloatArray:
    """``softmax(x)_i = exp(x_i) / sum_j exp(x_j)`` along ``dim``, stable.

    Softmax is invariant to adding a constant to every logit, so subtract the
    maximum first; the result is identical and ``exp`` sees only values <= 0.
    """
    x = _as_float(x, "x")
    z = x - np.max(x, axis=dim, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=dim, keepdims=True)


def log_softmax(x: FloatArray, dim: int = -1) -> FloatArray:
    """``log(softmax(x)) = x - logsumexp(x)``; never ``log(0)`` for finite x."""
    x = _as_float(x, "x")
    return x - logsumexp(x, dim=dim, keepdim=True)


# --8<-- [end:softmax]


def _check_distribution(p: FloatArray, name: str, dim: int) -> FloatArray:
    p = _as_float(p, name)
    if np.any(p < 0):
        raise ValueError(f"{name} must be a probability distribution: found p < 0")
    if not np.allclose(np.sum(p, axis=dim), 1.0, rtol=0.0, atol=1e-6):
        raise ValueError(f"{name} must be a probability distribution: sums must be 1")
    return p


def _xlogy(x: FloatArray, y: FloatArray) -> FloatArray:
    """``x * log(y)`` with the convention ``0 * log(anything) = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(y)
    return np.where(x == 0, 0.0, out)


# --8<-- [start:entropy]
def entropy(p: FloatArray, dim: int = -1) -> FloatArray:
    """Shannon entropy ``H(p) = -sum_i p_i log p_i`` in nats (``0 log 0 = 0``)."""
    p = _check_distribution(p, "p", dim)
    return -np.sum(_xlogy(p, p), axis=dim)


def cross_entropy(p: FloatArray, q: FloatArray, dim: int = -1) -> FloatArray:
    """Cross-entropy ``H(p, q) = -sum_i p_i log q_i`` of two distributions (nats)."""
    p = _check_distribution(p, "p", dim)
    q = _check_distribution(q, "q", dim)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape}, {q.shape}")
    return -np.sum(_xlogy(p, q), axis=dim)


def kl_div(p: FloatArray, q: FloatArray, dim: int = -1) -> FloatArray:
    """``KL(p || q) = sum_i p_i log(p_i / q_i) = H(p, q) - H(p) >= 0``.

    Infinite where some ``q_i = 0 < p_i``. Note the argument order differs from
    ``torch.nn.functional.kl_div(input, target)``, which takes ``input = log q``
    and ``target = p``.
    """
    p = _check_distribution(p, "p", dim)
    q = _check_distribution(q, "q", dim)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape}, {q.shape}")
    with np.errstate(divide="ignore"):
        terms = _xlogy(p, p) - _xlogy(p, q)
    return np.sum(terms, axis=dim)


# --8<-- [end:entropy]


# --8<-- [start:activations]
def sigmoid(x: FloatArray) -> FloatArray:
    """Logistic ``1 / (1 + exp(-x))``, stable for large ``|x|``.

    For ``x < 0`` use the equal form ``exp(x) / (1 + exp(x))`` so that ``exp``
    never sees a large positive argument.
    """
    x = np.asarray(x, dtype=np.result_type(x, np.float32))
    e = np.exp(-np.abs(x))  # in (0, 1], never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_backward(grad_output: FloatArray, output: FloatArray) -> FloatArray:
    """``d sigmoid / dx = s (1 - s)`` written with the forward output ``s``."""
    return grad_output * output * (1.0 - output)


def tanh(x: FloatArray) -> FloatArray:
    """Hyperbolic tangent ``(e^x - e^-x) / (e^x + e^-x) = 2 sigmoid(2x) - 1``."""
    return np.tanh(x)


def tanh_backward(grad_output: FloatArray, output: FloatArray) -> FloatArray:
    """``d tanh / dx = 1 - tanh(x)^2`` written with the forward output."""
    return grad_output * (1.0 - output**2)


def relu(x: FloatArray) -> FloatArray:
    """Rectified linear unit ``max(0, x)``."""
    return np.maximum(x, 0.0)


def relu_backward(grad_output: FloatArray, input: FloatArray) -> FloatArray:
    """Pass the gradient where ``input > 0``; at 0 use 0, as PyTorch does."""
    return grad_output * (input > 0)


# --8<-- [end:activations]


def _check_logits_target(
    input: FloatArray, target: IntArray
) -> tuple[FloatArray, IntArray]:
    input = _as_float(input, "input")
    if input.ndim != 2:
        raise ValueError(f"input must be (N, C) logits, got shape {input.shape}")
    target = np.asarray(target)
    if not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"target must hold integer class indices, got {target.dtype}")
    if target.shape != (input.shape[0],):
        raise ValueError(
            f"target must have shape (N,) = ({input.shape[0]},), got {target.shape}"
        )
    num_classes = input.shape[1]
    if np.any(target < 0) or np.any(target >= num_classes):
        raise ValueError(f"target must be class indices in [0, {num_classes - 1}]")
    return input, target


# --8<-- [start:cross-entropy-loss]
def cross_entropy_loss(
    input: FloatArray, target: IntArray, reduction: str = "mean"
) -> float:
    """Softmax + negative log-likelihood, like ``torch.nn.functional.cross_entropy``.

    ``input`` (N, C) are logits, ``target`` (N,) class indices. The loss of one
    sample is ``-log softmax(x)_y = logsumexp(x) - x_y``: computed from the logits
    directly, it never takes ``log`` of a probability that underflowed to 0.
    """
    input, target = _check_logits_target(input, target)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    n = input.shape[0]
    losses = logsumexp(input, dim=1) - input[np.arange(n), target]  # (N,)
    return float(losses.mean() if reduction == "mean" else losses.sum())


def cross_entropy_loss_backward(
    input: FloatArray, target: IntArray, reduction: str = "mean"
) -> FloatArray:
    """Gradient of :func:`cross_entropy_loss` w.r.t. the logits: ``softmax - onehot``.

    Divided by N for ``reduction="mean"``. Shape (N, C), like ``input``.
    """
    input, target = _check_logits_target(input, target)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    n = input.shape[0]
    grad = softmax(input, dim=1)
    grad[np.arange(n), target] -= 1.0  # softmax(x) - onehot(y)
    return grad / n if reduction == "mean" else grad


# --8<-- [end:cross-entropy-loss]
