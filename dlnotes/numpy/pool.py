"""Max and average pooling in NumPy, forward and backward, as PyTorch computes them.

Shapes: x (N, C, H, W) -> out (N, C, OH, OW); every channel is pooled on its
own (pooling has no parameters and never mixes channels). Output sizes,
padding and ``ceil_mode`` follow :func:`dlnotes.numpy.arithmetic.pool_output_size`
(``torch.nn.MaxPool2d`` / ``torch.nn.AvgPool2d``).

The windows are read by looping over the KH*KW kernel offsets; each offset is
one strided view of the padded input, so the loops are short and vectorised.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlnotes.numpy.arithmetic import IntPair, as_pair, pool_output_size
from dlnotes.numpy.types import FloatArray, IntArray


class PoolGeometry(NamedTuple):
    """Validated sizes of one pooling call (per axis pairs)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]
    padded: tuple[int, int]  # size of the padded buffer, incl. ceil_mode overhang


def pool_geometry(
    x_shape: tuple[int, ...],
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> PoolGeometry:
    """Check a pooling call and compute its output and padded-buffer sizes."""
    if len(x_shape) != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {x_shape}")
    k = as_pair(kernel_size, "kernel_size", 1)
    s = k if stride is None else as_pair(stride, "stride", 1)
    p = as_pair(padding, "padding", 0)
    d = as_pair(dilation, "dilation", 1)
    H, W = x_shape[2], x_shape[3]
    out = (
        pool_output_size(H, k[0], s[0], p[0], d[0], ceil_mode),
        pool_output_size(W, k[1], s[1], p[1], d[1], ceil_mode),
    )
    # ceil_mode may let the last window hang over the right padding
    padded = (
        max(H + 2 * p[0], s[0] * (out[0] - 1) + d[0] * (k[0] - 1) + 1),
        max(W + 2 * p[1], s[1] * (out[1] - 1) + d[1] * (k[1] - 1) + 1),
    )
    return PoolGeometry(k, s, p, d, out, padded)


def _pad(x: FloatArray, g: PoolGeometry, value: float) -> FloatArray:
    N, C, H, W = x.shape
    x_pad = np.full((N, C, *g.padded), value, dtype=x.dtype)
    x_pad[:, :, g.padding[0] : g.padding[0] + H, g.padding[1] : g.padding[1] + W] = x
    return x_pad


def _window(g: PoolGeometry, u: int, v: int) -> tuple[slice, slice, slice, slice]:
    """Index of kernel offset ``(u, v)`` for every output position at once."""
    (sh, sw), (dh, dw), (OH, OW) = g.stride, g.dilation, g.out
    h0, w0 = u * dh, v * dw
    return (
        slice(None),
        slice(None),
        slice(h0, h0 + sh * (OH - 1) + 1, sh),
        slice(w0, w0 + sw * (OW - 1) + 1, sw),
    )


# --8<-- [start:max-pool2d]
def max_pool2d_forward(
    x: FloatArray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> tuple[FloatArray, IntArray]:
    """Max pooling: the largest value of every window.

    Returns ``(out, argmax)``: out (N, C, OH, OW) and, for the backward pass,
    the kernel offset ``u * KW + v`` of the winner in each window (the first
    one on ties, scanning rows then columns, like PyTorch). Padding is
    ``-inf``, so it never wins.
    """
    g = pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    x_pad = _pad(x, g, -np.inf)
    KH, KW = g.kernel
    windows = np.stack(
        [x_pad[_window(g, u, v)] for u in range(KH) for v in range(KW)]
    )  # (KH*KW, N, C, OH, OW)
    argmax = windows.argmax(axis=0)  # first maximum wins
    out = np.take_along_axis(windows, argmax[None], axis=0)[0]
    return out, argmax


def max_pool2d_backward(
    dout: FloatArray,
    x: FloatArray,
    argmax: IntArray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> FloatArray:
    """Gradient of max pooling: each window routes ``dout`` to its winner only.

    The other inputs of the window did not change the output, so their
    gradient is 0; an input that wins several overlapping windows collects the
    sum. dout (N, C, OH, OW) -> dx (N, C, H, W).
    """
    g = pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    if dout.shape != (*x.shape[:2], *g.out) or argmax.shape != dout.shape:
        raise ValueError(
            f"dout and argmax must have shape {(*x.shape[:2], *g.out)}, got "
            f"{dout.shape} and {argmax.shape}"
        )
    KH, KW = g.kernel
    dx_pad = np.zeros((*x.shape[:2], *g.padded), dtype=dout.dtype)
    for u in range(KH):
        for v in range(KW):
            dx_pad[_window(g, u, v)] += np.where(argmax == u * KW + v, dout, 0.0)
    (ph, pw), (H, W) = g.padding, x.shape[2:]
    return dx_pad[:, :, ph : ph + H, pw : pw + W]


# --8<-- [end:max-pool2d]


def _avg_divisor(
    size: int, k: int, s: int, p: int, n_out: int, count_include_pad: bool
) -> FloatArray:
    """Divisor of every window along one axis, exactly as ATen's AvgPool2d.

    A window ``[start, start + k)`` (input coordinates, ``start = o*s - p``) is
    first clipped to the padded input ``[-p, size + p)``; with
    ``count_include_pad`` its length is the divisor, otherwise only the part
    inside ``[0, size)`` counts.
    """
    start = np.arange(n_out) * s - p
    end = np.minimum(start + k, size + p)
    if count_include_pad:
        return (end - start).astype(float)
    return (np.minimum(end, size) - np.maximum(start, 0)).astype(float)


# --8<-- [start:avg-pool2d]
def avg_pool2d_forward(
    x: FloatArray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> FloatArray:
    """Average pooling: the mean of every window (zero padding).

    x (N, C, H, W) -> (N, C, OH, OW). With ``count_include_pad`` the zeros of
    the padding count in the mean (PyTorch's default); a ``ceil_mode`` window
    that hangs over the right padding is averaged over its part inside the
    padded input.
    """
    g = pool_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode)
    x_pad = _pad(x, g, 0.0)
    KH, KW = g.kernel
    total = np.zeros((*x.shape[:2], *g.out), dtype=x.dtype)
    for u in range(KH):
        for v in range(KW):
            total += x_pad[_window(g, u, v)]
    return total / _avg_divisors(x.shape, g, count_include_pad).astype(x.dtype)


def avg_pool2d_backward(
    dout: FloatArray,
    x: FloatArray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> FloatArray:
    """Gradient of average pooling: every input of a window gets ``dout / n``.

    dout (N, C, OH, OW) -> dx (N, C, H, W); overlapping windows add up.
    """
    g = pool_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode)
    if dout.shape != (*x.shape[:2], *g.out):
        raise ValueError(
            f"dout must have shape {(*x.shape[:2], *g.out)}, got {dout.shape}"
        )
    share = dout / _avg_divisors(x.shape, g, count_include_pad)
    KH, KW = g.kernel
    dx_pad = np.zeros((*x.shape[:2], *g.padded), dtype=share.dtype)
    for u in range(KH):
        for v in range(KW):
            dx_pad[_window(g, u, v)] += share
    (ph, pw), (H, W) = g.padding, x.shape[2:]
    return dx_pad[:, :, ph : ph + H, pw : pw + W]


# --8<-- [end:avg-pool2d]


def _avg_divisors(
    x_shape: tuple[int, ...], g: PoolGeometry, count_include_pad: bool
) -> FloatArray:
    """(OH, OW) table of window sizes used as divisors."""
    rows = _avg_divisor(
        x_shape[2], g.kernel[0], g.stride[0], g.padding[0], g.out[0], count_include_pad
    )
    cols = _avg_divisor(
        x_shape[3], g.kernel[1], g.stride[1], g.padding[1], g.out[1], count_include_pad
    )
    return np.outer(rows, cols)
