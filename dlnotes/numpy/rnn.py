"""Vanilla (Elman) recurrent network: forward and backpropagation through time.

One step (PyTorch's ``nn.RNN`` with ``nonlinearity="tanh"``, same parameter layout):

    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)

Shapes follow ``nn.RNN`` with ``batch_first=False``: ``x`` is ``(T, N, D)``, the
hidden state ``(N, H)``, ``weight_ih`` ``(H, D)``, ``weight_hh`` ``(H, H)``, the
biases ``(H,)``. Elman, "Finding structure in time" (1990); BPTT and its vanishing
gradients: Bengio et al. 1994, Pascanu et al. 2013 (arXiv:1211.5063), whose gradient
clipping by norm is :func:`clip_grad_norm`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dlnotes.numpy.types import FloatArray

__all__ = [
    "RNNCache",
    "RNNGrads",
    "check_recurrent_args",
    "clip_grad_norm",
    "rnn_backward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_forward",
]


def _check_shape(name: str, array: FloatArray, shape: tuple[int, ...]) -> None:
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")


def check_recurrent_args(
    x: FloatArray,
    weight_ih: FloatArray,
    weight_hh: FloatArray,
    bias_ih: FloatArray | None,
    bias_hh: FloatArray | None,
    gates: int,
) -> tuple[int, int, int, int]:
    """Validate the shapes of a recurrent layer's arguments; return ``T, N, D, H``.

    ``gates`` is the number of stacked gates (1 for an RNN, 4 for an LSTM), so
    ``weight_ih`` is ``(gates·H, D)`` and ``weight_hh`` ``(gates·H, H)``.
    """
    if x.ndim != 3:
        raise ValueError(f"x must have shape (T, N, input_size), got {x.shape}")
    seq_len, batch, input_size = x.shape
    if seq_len < 1 or batch < 1:
        raise ValueError(f"x must have T >= 1 and N >= 1, got shape {x.shape}")
    if weight_hh.ndim != 2 or weight_hh.shape[0] != gates * weight_hh.shape[1]:
        raise ValueError(
            f"weight_hh must have shape ({gates}·hidden_size, hidden_size), "
            f"got {weight_hh.shape}"
        )
    hidden = weight_hh.shape[1]
    _check_shape("weight_ih", weight_ih, (gates * hidden, input_size))
    for name, bias in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if bias is not None:
            _check_shape(name, bias, (gates * hidden,))
    return seq_len, batch, input_size, hidden


# --8<-- [start:rnn-cell]
def rnn_cell_forward(
    x: FloatArray,
    h_prev: FloatArray,
    weight_ih: FloatArray,
    weight_hh: FloatArray,
    bias_ih: FloatArray,
    bias_hh: FloatArray,
) -> FloatArray:
    """One step ``h = tanh(x W_ih^T + b_ih + h_prev W_hh^T + b_hh)``.

    x: (N, D), h_prev: (N, H), weight_ih: (H, D), weight_hh: (H, H) -> h: (N, H).
    """
    return np.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)


def rnn_cell_backward(
    dh: FloatArray,
    h: FloatArray,
    x: FloatArray,
    h_prev: FloatArray,
    weight_ih: FloatArray,
    weight_hh: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Backward of :func:`rnn_cell_forward` given ``dh = ∂L/∂h`` and the output ``h``.

    Returns ``dx, dh_prev, dweight_ih, dweight_hh, dbias`` (``dbias`` is the
    gradient of ``bias_ih`` and of ``bias_hh`` alike).
    """
    da = dh * (1.0 - h * h)  # tanh'(a) = 1 − tanh²(a); (N, H)
    return (
        da @ weight_ih,  # dx: (N, D)
        da @ weight_hh,  # dh_prev: (N, H)
        da.T @ x,  # dweight_ih: (H, D)
        da.T @ h_prev,  # dweight_hh: (H, H)
        da.sum(axis=0),  # dbias: (H,)
    )


# --8<-- [end:rnn-cell]


@dataclass
class RNNCache:
    """What :func:`rnn_backward` needs from the forward pass."""

    x: FloatArray  # (T, N, D) inputs
    h: FloatArray  # (T + 1, N, H): h[0] = h0, h[t + 1] = output at step t
    weight_ih: FloatArray  # (H, D)
    weight_hh: FloatArray  # (H, H)


@dataclass
class RNNGrads:
    """Gradients of the loss with respect to every input of :func:`rnn_forward`."""

    x: FloatArray  # (T, N, D)
    h0: FloatArray  # (N, H)
    weight_ih: FloatArray  # (H, D)
    weight_hh: FloatArray  # (H, H)
    bias_ih: FloatArray  # (H,)
    bias_hh: FloatArray  # (H,)


# --8<-- [start:rnn-forward]
def rnn_forward(
    x: FloatArray,
    h0: FloatArray | None,
    weight_ih: FloatArray,
    weight_hh: FloatArray,
    bias_ih: FloatArray | None = None,
    bias_hh: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, RNNCache]:
    """Run the RNN over a sequence (unrolled in time).

    x: (T, N, D), h0: (N, H) or None (zeros). Returns ``output`` (T, N, H) (the
    hidden state at every step), ``h_n`` (N, H) and the cache for the backward
    (``output`` and ``h_n`` are views of the cache: copy before editing them).
    """
    seq_len, batch, _, hidden = check_recurrent_args(
        x, weight_ih, weight_hh, bias_ih, bias_hh, gates=1
    )
    dtype = np.result_type(x, weight_ih, weight_hh)
    h = np.empty((seq_len + 1, batch, hidden), dtype=dtype)
    if h0 is None:
        h[0] = 0.0
    else:
        _check_shape("h0", h0, (batch, hidden))
        h[0] = h0
    # the input projections of all T steps in one GEMM: (T·N, D) @ (D, H)
    a = (x.reshape(seq_len * batch, -1) @ weight_ih.T).reshape(seq_len, batch, hidden)
    if bias_ih is not None:
        a += bias_ih
    if bias_hh is not None:
        a += bias_hh
    for t in range(seq_len):  # the recurrence itself is sequential
        a[t] += h[t] @ weight_hh.T
        np.tanh(a[t], out=h[t + 1])
    return h[1:], h[-1], RNNCache(x, h, weight_ih, weight_hh)


def rnn_backward(
    doutput: FloatArray, dh_n: FloatArray | None, cache: RNNCache
) -> RNNGrads:
    """Backpropagation through time.

    doutput: (T, N, H) = ∂L/∂output, dh_n: (N, H) = ∂L/∂h_n or None. The gradient
    reaching ``h_t`` is the direct one plus the one flowing back from step t+1:
    ``dh_t = doutput_t + da_{t+1} W_hh``.
    """
    x, h = cache.x, cache.h
    seq_len, batch, hidden = h.shape[0] - 1, h.shape[1], h.shape[2]
    _check_shape("doutput", doutput, (seq_len, batch, hidden))
    da = np.empty_like(h[1:])  # ∂L/∂a_t, a_t the pre-activation; (T, N, H)
    dh = np.zeros((batch, hidden), dtype=h.dtype)
    if dh_n is not None:
        _check_shape("dh_n", dh_n, (batch, hidden))
        dh += dh_n
    for t in reversed(range(seq_len)):
        dh += doutput[t]
        np.multiply(dh, 1.0 - h[t + 1] ** 2, out=da[t])  # through tanh
        dh = da[t] @ cache.weight_hh  # to h_{t-1}: (N, H)
    da2 = da.reshape(seq_len * batch, hidden)
    dbias = da2.sum(axis=0)
    return RNNGrads(
        x=(da2 @ cache.weight_ih).reshape(x.shape),
        h0=dh,
        weight_ih=da2.T @ x.reshape(seq_len * batch, -1),
        weight_hh=da2.T @ h[:-1].reshape(seq_len * batch, hidden),
        bias_ih=dbias,
        bias_hh=dbias.copy(),
    )


# --8<-- [end:rnn-forward]


# --8<-- [start:clip-grad-norm]
def clip_grad_norm(
    grads: Iterable[FloatArray], max_norm: float, norm_type: float = 2.0
) -> float:
    """Scale ``grads`` in place so that their joint norm is at most ``max_norm``.

    Like ``torch.nn.utils.clip_grad_norm_``: the norm is taken over all arrays as
    if concatenated; returns the norm *before* clipping. Pascanu et al. 2013
    (arXiv:1211.5063) clip this way against exploding gradients through time.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    if not (norm_type >= 1):
        raise ValueError(f"norm_type must be >= 1 or inf, got {norm_type}")
    grads = list(grads)
    if math.isinf(norm_type):
        total = max((float(np.abs(g).max()) for g in grads if g.size), default=0.0)
    else:
        total = sum(float((np.abs(g) ** norm_type).sum()) for g in grads)
        total **= 1.0 / norm_type
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for g in grads:
            g *= scale
    return total


# --8<-- [end:clip-grad-norm]
