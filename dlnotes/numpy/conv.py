"""2-D convolution in NumPy: a naive loop version and an im2col version.

Both compute what ``torch.nn.functional.conv2d`` computes (a cross-correlation,
as every deep-learning library does), forward and backward, for a batch of
multi-channel inputs and several filters, with stride, zero padding, dilation
and groups. Shapes follow PyTorch::

    x       (N, C_in, H, W)
    weight  (C_out, C_in // groups, KH, KW)   one filter = one output channel
    bias    (C_out,)
    out     (N, C_out, OH, OW)   OH = floor((H + 2p - d(KH - 1) - 1) / s) + 1

References: cs231n "Convolutional Neural Networks for Visual Recognition"
(https://cs231n.github.io/convolutional-networks/); Chellapilla, Puri & Simard,
"High Performance Convolutional Neural Networks for Document Processing"
(2006) for im2col; Dumoulin & Visin (arXiv:1603.07285) for the sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from dlnotes.numpy.arithmetic import (
    IntPair,
    as_pair,
    conv_output_size,
    conv_transpose_output_size,
)
from dlnotes.numpy.types import FloatArray


class ConvGeometry(NamedTuple):
    """Validated sizes of one conv2d call."""

    N: int
    C_in: int
    H: int
    W: int
    C_out: int
    KH: int
    KW: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    OH: int
    OW: int


def conv_geometry(
    x_shape: tuple[int, ...],
    weight_shape: tuple[int, ...],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> ConvGeometry:
    """Check the shapes of a conv2d call and compute its output size.

    Raises ``ValueError`` naming the argument: ``x`` not 4-D, ``weight`` not
    4-D, channel mismatch (``x`` has ``C_in`` channels, every filter must span
    ``C_in // groups`` of them), ``groups`` not dividing the channels, bad
    stride/padding/dilation, or a kernel larger than the padded input.
    """
    if len(x_shape) != 4:
        raise ValueError(f"x must have shape (N, C_in, H, W), got {x_shape}")
    if len(weight_shape) != 4:
        raise ValueError(
            f"weight must have shape (C_out, C_in // groups, KH, KW), got "
            f"{weight_shape}"
        )
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be an int >= 1, got {groups!r}")
    N, C_in, H, W = x_shape
    C_out, C_per_group, KH, KW = weight_shape
    if C_in % groups or C_out % groups:
        raise ValueError(
            f"groups {groups} must divide in_channels {C_in} and out_channels {C_out}"
        )
    if C_per_group * groups != C_in:
        raise ValueError(
            f"in_channels mismatch: x has {C_in} channels but weight expects "
            f"{C_per_group} * groups {groups} = {C_per_group * groups} "
            f"(each filter spans all input channels of its group)"
        )
    s = as_pair(stride, "stride", 1)
    p = as_pair(padding, "padding", 0)
    d = as_pair(dilation, "dilation", 1)
    OH = conv_output_size(H, KH, s[0], p[0], d[0])
    OW = conv_output_size(W, KW, s[1], p[1], d[1])
    return ConvGeometry(N, C_in, H, W, C_out, KH, KW, s, p, d, groups, OH, OW)


def _check_bias(bias: FloatArray | None, C_out: int) -> None:
    if bias is not None and bias.shape != (C_out,):
        raise ValueError(f"bias must have shape ({C_out},), got {bias.shape}")


# --8<-- [start:conv2d-naive]
def conv2d_forward_naive(
    x: FloatArray,
    weight: FloatArray,
    bias: FloatArray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> FloatArray:
    """Convolution as the definition reads: one dot product per output value.

    ``out[n, f, i, j] = b[f] + sum_{c, u, v} w[f, c, u, v] *
    x_pad[n, c, i*s + u*d, j*s + v*d]``; the sum runs over *all* input channels
    of the group, so one filter gives one output channel (feature map).
    Shapes: x (N, C_in, H, W), weight (C_out, C_in // groups, KH, KW) ->
    out (N, C_out, OH, OW). For teaching; use the im2col version for speed.
    """
    g = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    _check_bias(bias, g.C_out)
    (sh, sw), (ph, pw), (dh, dw) = g.stride, g.padding, g.dilation
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # zero padding
    C_g = g.C_in // g.groups  # channels one filter sees
    F_g = g.C_out // g.groups  # filters per group
    out = np.zeros((g.N, g.C_out, g.OH, g.OW), dtype=np.result_type(x, weight))
    for n in range(g.N):
        for f in range(g.C_out):
            c0 = (f // F_g) * C_g  # first input channel of this filter's group
            for i in range(g.OH):
                for j in range(g.OW):
                    h0, w0 = i * sh, j * sw  # top-left corner of the window
                    window = x_pad[
                        n,
                        c0 : c0 + C_g,
                        h0 : h0 + dh * (g.KH - 1) + 1 : dh,
                        w0 : w0 + dw * (g.KW - 1) + 1 : dw,
                    ]  # (C_g, KH, KW): a small volume through all channels
                    out[n, f, i, j] = np.sum(window * weight[f])
            if bias is not None:
                out[n, f] += bias[f]
    return out


def conv2d_backward_naive(
    dout: FloatArray,
    x: FloatArray,
    weight: FloatArray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gradients of :func:`conv2d_forward_naive`: ``(dx, dweight, dbias)``.

    Every output value was ``sum(window * w[f]) + b[f]``, so it sends
    ``dout * w[f]`` back to its window of the input, ``dout * window`` to the
    filter (summed over all positions: the filter is shared) and ``dout`` to
    the bias. Shapes: dout (N, C_out, OH, OW) -> dx like x, dweight like weight,
    dbias (C_out,).
    """
    g = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    if dout.shape != (g.N, g.C_out, g.OH, g.OW):
        raise ValueError(
            f"dout must have shape {(g.N, g.C_out, g.OH, g.OW)}, got {dout.shape}"
        )
    (sh, sw), (ph, pw), (dh, dw) = g.stride, g.padding, g.dilation
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dx_pad = np.zeros_like(x_pad, dtype=np.result_type(dout, weight))
    dweight = np.zeros_like(weight, dtype=np.result_type(dout, x))
    C_g = g.C_in // g.groups
    F_g = g.C_out // g.groups
    for n in range(g.N):
        for f in range(g.C_out):
            c0 = (f // F_g) * C_g
            for i in range(g.OH):
                for j in range(g.OW):
                    h0, w0 = i * sh, j * sw
                    rows = slice(h0, h0 + dh * (g.KH - 1) + 1, dh)
                    cols = slice(w0, w0 + dw * (g.KW - 1) + 1, dw)
                    window = x_pad[n, c0 : c0 + C_g, rows, cols]
                    dx_pad[n, c0 : c0 + C_g, rows, cols] += dout[n, f, i, j] * weight[f]
                    dweight[f] += dout[n, f, i, j] * window
    dbias = dout.sum(axis=(0, 2, 3))
    dx = dx_pad[:, :, ph : ph + g.H, pw : pw + g.W]
    return dx, dweight, dbias


# --8<-- [end:conv2d-naive]


# --8<-- [start:im2col]
def im2col(
    x: FloatArray,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> FloatArray:
    """Unroll every receptive field of ``x`` into one row of a matrix.

    x (N, C, H, W) -> cols (N*OH*OW, KH*KW*C): row ``(n, i, j)`` holds the
    window under output position ``(i, j)`` of image ``n``, ordered
    ``(kh, kw, c)`` (channels last, so the copies below move contiguous runs of
    ``C`` values). A convolution is then one matrix product with the filters
    reshaped to (KH*KW*C, C_out).

    The copy loops over the KH*KW kernel offsets, not over output positions:
    each iteration moves one strided slab ``x_pad[:, u*d :: s, v*d :: s, :]``.
    """
    KH, KW = as_pair(kernel_size, "kernel_size", 1)
    N, C, H, W = x.shape
    (sh, sw), (ph, pw), (dh, dw) = (
        as_pair(stride, "stride", 1),
        as_pair(padding, "padding", 0),
        as_pair(dilation, "dilation", 1),
    )
    OH = conv_output_size(H, KH, sh, ph, dh)
    OW = conv_output_size(W, KW, sw, pw, dw)
    x_pad = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=x.dtype)
    x_pad[:, ph : ph + H, pw : pw + W, :] = x.transpose(0, 2, 3, 1)  # NHWC
    cols = np.empty((N, OH, OW, KH, KW, C), dtype=x.dtype)
    for u in range(KH):
        for v in range(KW):
            h0, w0 = u * dh, v * dw
            cols[:, :, :, u, v, :] = x_pad[
                :, h0 : h0 + sh * (OH - 1) + 1 : sh, w0 : w0 + sw * (OW - 1) + 1 : sw
            ]
    return cols.reshape(N * OH * OW, KH * KW * C)  # (N*OH*OW, KH*KW*C)


def col2im(
    cols: FloatArray,
    x_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    *,
    out_hw: tuple[int, int] | None = None,
) -> FloatArray:
    """Adjoint of :func:`im2col`: add every row back onto its window.

    cols (N*OH*OW, KH*KW*C) -> (N, C, H, W). Overlapping windows *add up*,
    which is exactly the chain rule for an input value used by several
    outputs. ``out_hw`` overrides the number of window positions (used by the
    transposed convolution). Loops over kernel offsets, like :func:`im2col`
    (no ``np.add.at``).
    """
    KH, KW = as_pair(kernel_size, "kernel_size", 1)
    N, C = x_shape[0], x_shape[1]
    OH, OW = _window_counts(x_shape, KH, KW, stride, padding, dilation, out_hw)
    if cols.shape != (N * OH * OW, KH * KW * C):
        raise ValueError(
            f"cols must have shape {(N * OH * OW, KH * KW * C)}, got {cols.shape}"
        )
    cols6 = cols.reshape(N, OH, OW, KH, KW, C)
    return _fold(
        lambda u, v: cols6[:, :, :, u, v, :],
        x_shape, KH, KW, stride, padding, dilation, (OH, OW), cols.dtype,
    )  # fmt: skip


def col2im_matmul(
    dout_mat: FloatArray,
    weight: FloatArray,
    x_shape: tuple[int, int, int, int],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    *,
    out_hw: tuple[int, int] | None = None,
) -> FloatArray:
    """``col2im(dout_mat @ W_mat.T)`` without building the big matrix.

    dout_mat (N*OH*OW, C_out), weight (C_out, C, KH, KW) -> (N, C, H, W).
    Column block ``(u, v)`` of ``dout_mat @ W_mat.T`` is
    ``dout_mat @ weight[:, :, u, v]``: it is computed and added onto its
    windows straight away, so the (N*OH*OW, KH*KW*C) matrix never exists
    (same sums, far less memory traffic).
    """
    C_out, C, KH, KW = weight.shape
    N = x_shape[0]
    OH, OW = _window_counts(x_shape, KH, KW, stride, padding, dilation, out_hw)
    if dout_mat.shape != (N * OH * OW, C_out):
        raise ValueError(
            f"dout_mat must have shape {(N * OH * OW, C_out)}, got {dout_mat.shape}"
        )
    return _fold(
        lambda u, v: (dout_mat @ weight[:, :, u, v]).reshape(N, OH, OW, C),
        x_shape, KH, KW, stride, padding, dilation, (OH, OW), dout_mat.dtype,
    )  # fmt: skip


def _window_counts(
    x_shape: tuple[int, int, int, int],
    KH: int,
    KW: int,
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
    out_hw: tuple[int, int] | None,
) -> tuple[int, int]:
    if out_hw is not None:
        return out_hw
    (sh, sw), (ph, pw), (dh, dw) = (
        as_pair(stride, "stride", 1),
        as_pair(padding, "padding", 0),
        as_pair(dilation, "dilation", 1),
    )
    H, W = x_shape[2], x_shape[3]
    return conv_output_size(H, KH, sh, ph, dh), conv_output_size(W, KW, sw, pw, dw)


def _fold(
    block: Callable[[int, int], FloatArray],
    x_shape: tuple[int, int, int, int],
    KH: int,
    KW: int,
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
    out_hw: tuple[int, int],
    dtype: np.dtype,
) -> FloatArray:
    """Add ``block(u, v)`` (N, OH, OW, C) onto the windows of kernel offset (u, v)."""
    N, C, H, W = x_shape
    OH, OW = out_hw
    (sh, sw), (ph, pw), (dh, dw) = (
        as_pair(stride, "stride", 1),
        as_pair(padding, "padding", 0),
        as_pair(dilation, "dilation", 1),
    )
    Hp = max(H + 2 * ph, sh * (OH - 1) + dh * (KH - 1) + 1)
    Wp = max(W + 2 * pw, sw * (OW - 1) + dw * (KW - 1) + 1)
    x_pad = np.zeros((N, Hp, Wp, C), dtype=dtype)
    for u in range(KH):
        for v in range(KW):
            h0, w0 = u * dh, v * dw
            x_pad[
                :, h0 : h0 + sh * (OH - 1) + 1 : sh, w0 : w0 + sw * (OW - 1) + 1 : sw
            ] += block(u, v)
    return np.ascontiguousarray(
        x_pad[:, ph : ph + H, pw : pw + W, :].transpose(0, 3, 1, 2)
    )


# --8<-- [end:im2col]


def _weight_matrix(weight: FloatArray) -> FloatArray:
    """(C_out, C, KH, KW) -> (KH*KW*C, C_out), rows ordered like im2col columns."""
    C_out = weight.shape[0]
    return weight.transpose(2, 3, 1, 0).reshape(-1, C_out)


# --8<-- [start:conv2d-im2col]
def conv2d_forward_im2col(
    x: FloatArray,
    weight: FloatArray,
    bias: FloatArray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> FloatArray:
    """Convolution as one matrix product: ``im2col(x) @ W``.

    Same result and shapes as :func:`conv2d_forward_naive`; the work is one GEMM
    of (N*OH*OW, KH*KW*C_in) by (KH*KW*C_in, C_out) per group.
    """
    g = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    _check_bias(bias, g.C_out)
    dtype = np.result_type(x, weight)
    x, weight = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
    if g.groups > 1:  # each group is an independent convolution
        C_g, F_g = g.C_in // g.groups, g.C_out // g.groups
        outs = [
            conv2d_forward_im2col(
                x[:, k * C_g : (k + 1) * C_g],
                weight[k * F_g : (k + 1) * F_g],
                None if bias is None else bias[k * F_g : (k + 1) * F_g],
                g.stride,
                g.padding,
                g.dilation,
            )
            for k in range(g.groups)
        ]
        return np.concatenate(outs, axis=1)
    cols = im2col(x, (g.KH, g.KW), g.stride, g.padding, g.dilation)
    out = cols @ _weight_matrix(weight)  # (N*OH*OW, C_out)
    if bias is not None:
        out += bias.astype(dtype, copy=False)
    out = out.reshape(g.N, g.OH, g.OW, g.C_out).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out)  # (N, C_out, OH, OW)


def conv2d_backward_im2col(
    dout: FloatArray,
    x: FloatArray,
    weight: FloatArray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gradients of :func:`conv2d_forward_im2col`: ``(dx, dweight, dbias)``.

    With ``out = cols @ W_mat``: ``dW_mat = cols.T @ dout_mat`` (every position
    votes for the shared filter) and ``dcols = dout_mat @ W_mat.T``, which
    :func:`col2im` folds back onto the overlapping windows of ``x``
    (:func:`col2im_matmul` does both steps without storing ``dcols``).
    """
    g = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    if dout.shape != (g.N, g.C_out, g.OH, g.OW):
        raise ValueError(
            f"dout must have shape {(g.N, g.C_out, g.OH, g.OW)}, got {dout.shape}"
        )
    dtype = np.result_type(dout, x, weight)
    dout = dout.astype(dtype, copy=False)
    x, weight = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
    if g.groups > 1:
        C_g, F_g = g.C_in // g.groups, g.C_out // g.groups
        parts = [
            conv2d_backward_im2col(
                dout[:, k * F_g : (k + 1) * F_g],
                x[:, k * C_g : (k + 1) * C_g],
                weight[k * F_g : (k + 1) * F_g],
                g.stride,
                g.padding,
                g.dilation,
            )
            for k in range(g.groups)
        ]
        return (
            np.concatenate([p[0] for p in parts], axis=1),
            np.concatenate([p[1] for p in parts], axis=0),
            np.concatenate([p[2] for p in parts], axis=0),
        )
    dout_mat = dout.transpose(0, 2, 3, 1).reshape(-1, g.C_out)  # (N*OH*OW, C_out)
    dbias = dout_mat.sum(axis=0)
    cols = im2col(x, (g.KH, g.KW), g.stride, g.padding, g.dilation)
    dw_mat = cols.T @ dout_mat  # (KH*KW*C_in, C_out)
    dweight = dw_mat.reshape(g.KH, g.KW, g.C_in, g.C_out).transpose(3, 2, 0, 1)
    # dx = col2im(dout_mat @ W_mat.T), without the (N*OH*OW, KH*KW*C_in) matrix
    dx = col2im_matmul(dout_mat, weight, x.shape, g.stride, g.padding, g.dilation)
    return dx, np.ascontiguousarray(dweight), dbias


# --8<-- [end:conv2d-im2col]


# --8<-- [start:conv-transpose2d]
def conv_transpose2d_forward_im2col(
    x: FloatArray,
    weight: FloatArray,
    bias: FloatArray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    dilation: IntPair = 1,
) -> FloatArray:
    """Transposed convolution (``torch.nn.functional.conv_transpose2d``).

    It is the backward pass of a convolution with respect to its input
    (Dumoulin & Visin, arXiv:1603.07285, chapter 4): multiply by ``W_mat.T`` and
    fold with :func:`col2im`. Shapes: x (N, C_in, H, W), weight
    (C_in, C_out, KH, KW) -> (N, C_out, OH, OW) with
    ``OH = s(H - 1) + output_padding + d(KH - 1) + 1 - 2p``.
    """
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(
            "x must be (N, C_in, H, W) and weight (C_in, C_out, KH, KW), got "
            f"{x.shape} and {weight.shape}"
        )
    N, C_in, H, W = x.shape
    if weight.shape[0] != C_in:
        raise ValueError(
            f"in_channels mismatch: x has {C_in} channels, weight.shape[0] is "
            f"{weight.shape[0]}"
        )
    _, C_out, KH, KW = weight.shape
    _check_bias(bias, C_out)
    s, p = as_pair(stride, "stride", 1), as_pair(padding, "padding", 0)
    a = as_pair(output_padding, "output_padding", 0)
    d = as_pair(dilation, "dilation", 1)
    OH = conv_transpose_output_size(H, KH, s[0], p[0], a[0], d[0])
    OW = conv_transpose_output_size(W, KW, s[1], p[1], a[1], d[1])
    dtype = np.result_type(x, weight)
    x_mat = x.astype(dtype, copy=False).transpose(0, 2, 3, 1).reshape(-1, C_in)
    w = weight.astype(dtype, copy=False)
    out = col2im_matmul(x_mat, w, (N, C_out, OH, OW), s, p, d, out_hw=(H, W))
    if bias is not None:
        out += bias.astype(dtype, copy=False)[None, :, None, None]
    return out


# --8<-- [end:conv-transpose2d]


# --8<-- [start:conv-param-count]
def conv_param_count(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    out_size: IntPair | None = None,
    *,
    shared: bool = True,
    bias: bool = True,
) -> int:
    """Number of learnable parameters of a conv layer, with or without sharing.

    Every output neuron looks at ``KH * KW * in_channels`` inputs (+1 bias).
    With parameter sharing all ``OH * OW`` neurons of one depth slice use the
    same weights, so the layer has ``out_channels * (KH*KW*C_in + 1)``
    parameters; without sharing (a "locally connected" layer) each of the
    ``OH * OW * out_channels`` neurons has its own. cs231n's AlexNet conv1:
    ``conv_param_count(3, 96, 11, 55, shared=False) == 105_705_600`` versus
    ``conv_param_count(3, 96, 11) == 34_944``.
    """
    KH, KW = as_pair(kernel_size, "kernel_size", 1)
    if in_channels < 1 or out_channels < 1:
        raise ValueError(
            f"in_channels and out_channels must be >= 1, got {in_channels}, "
            f"{out_channels}"
        )
    per_neuron = KH * KW * in_channels + (1 if bias else 0)
    if shared:
        return out_channels * per_neuron
    if out_size is None:
        raise ValueError("out_size is required when shared=False (one set per neuron)")
    OH, OW = as_pair(out_size, "out_size", 1)
    return OH * OW * out_channels * per_neuron


# --8<-- [end:conv-param-count]
