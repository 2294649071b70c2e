"""conv2d (naive, im2col) vs torch.nn.functional.conv2d and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlnotes.numpy.conv import (
    col2im,
    col2im_matmul,
    conv2d_backward_im2col,
    conv2d_backward_naive,
    conv2d_forward_im2col,
    conv2d_forward_naive,
    conv_param_count,
    conv_transpose2d_forward_im2col,
    im2col,
)
from dlnotes.numpy.demo import cs231n_demo, explain_output
from tests.support.gradcheck import central_difference

# (N, C_in, H, W, C_out, (KH, KW), stride, padding, dilation, groups)
CONFIGS = [
    (2, 3, 5, 5, 2, (3, 3), 2, 1, 1, 1),  # the cs231n demo geometry
    (1, 1, 6, 6, 1, (3, 3), 1, 0, 1, 1),
    (2, 4, 7, 6, 6, (3, 2), (2, 1), (1, 0), 1, 2),  # rectangular, groups
    (1, 2, 9, 8, 3, (3, 3), 1, 2, 2, 1),  # dilation
    (3, 2, 6, 7, 4, (1, 1), 1, 0, 1, 1),  # 1x1 convolution
    (1, 3, 8, 8, 2, (4, 4), 3, (2, 1), (1, 2), 1),  # stride 3 does not fit exactly
    (2, 4, 5, 5, 4, (3, 3), 1, 1, 1, 4),  # depthwise
]
FORWARD = {"naive": conv2d_forward_naive, "im2col": conv2d_forward_im2col}
BACKWARD = {"naive": conv2d_backward_naive, "im2col": conv2d_backward_im2col}


def make(cfg: tuple, seed: int = 0) -> tuple:  # type: ignore[type-arg]
    N, C, H, W, Fo, k, s, p, d, g = cfg
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Fo, C // g, *k))
    b = rng.standard_normal(Fo)
    return x, w, b, dict(stride=s, padding=p, dilation=d, groups=g)


def torch_reference(x, w, b, dout, kw):  # type: ignore[no-untyped-def]
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    y = F.conv2d(xt, wt, bt, **kw)
    if dout is None:
        return y.detach().numpy()
    y.backward(torch.tensor(dout))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("impl", ["naive", "im2col"])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_forward_and_backward_match_torch_float64(impl: str, cfg: tuple) -> None:  # type: ignore[type-arg]
    x, w, b, kw = make(cfg)
    y_ref = torch_reference(x, w, b, None, kw)
    dout = np.random.default_rng(1).standard_normal(y_ref.shape)
    y_ref, dx_ref, dw_ref, db_ref = torch_reference(x, w, b, dout, kw)
    y = FORWARD[impl](x, w, b, **kw)
    dx, dw, db = BACKWARD[impl](dout, x, w, **kw)
    assert y.shape == y_ref.shape and dx.shape == x.shape and dw.shape == w.shape
    np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, db_ref, rtol=1e-10, atol=1e-10)


def test_naive_and_im2col_agree_on_random_configs() -> None:
    rng = np.random.default_rng(7)
    for _ in range(15):
        g = int(rng.choice([1, 2]))
        C, Fo = 2 * int(rng.integers(1, 3)), 2 * int(rng.integers(1, 3))
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        s, p, d = (
            int(rng.integers(1, 3)),
            int(rng.integers(0, 3)),
            int(rng.integers(1, 3)),
        )
        H, W = int(rng.integers(6, 10)), int(rng.integers(6, 10))
        x = rng.standard_normal((2, C, H, W))
        w = rng.standard_normal((Fo, C // g, *k))
        b = rng.standard_normal(Fo)
        kw = dict(stride=s, padding=p, dilation=d, groups=g)
        y = conv2d_forward_naive(x, w, b, **kw)
        np.testing.assert_allclose(conv2d_forward_im2col(x, w, b, **kw), y, atol=1e-12)
        dout = rng.standard_normal(y.shape)
        for a, c in zip(
            conv2d_backward_naive(dout, x, w, **kw),
            conv2d_backward_im2col(dout, x, w, **kw),
            strict=True,
        ):
            np.testing.assert_allclose(a, c, atol=1e-12)


@pytest.mark.parametrize("impl", ["naive", "im2col"])
def test_gradients_match_finite_differences(impl: str) -> None:
    """No torch: L = sum(out * R) so dL/dout = R; compare with central differences."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5, 6))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    kw = dict(stride=(2, 1), padding=1, dilation=(1, 2))
    R = rng.standard_normal(FORWARD[impl](x, w, b, **kw).shape)

    def loss() -> float:
        return float(np.sum(FORWARD[impl](x, w, b, **kw) * R))

    dx, dw, db = BACKWARD[impl](R, x, w, **kw)
    np.testing.assert_allclose(dx, central_difference(loss, x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dw, central_difference(loss, w), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(db, central_difference(loss, b), rtol=1e-6, atol=1e-7)


def test_col2im_is_the_adjoint_of_im2col() -> None:
    """<im2col(x), Y> == <x, col2im(Y)> for all x, Y: col2im is im2col transposed."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 7, 8))
    args = ((3, 2), (2, 3), (1, 2), (2, 1))
    cols = im2col(x, *args)
    Y = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * Y)
    rhs = np.sum(x * col2im(Y, x.shape, *args))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_im2col_rows_are_the_receptive_fields() -> None:
    x = np.arange(2 * 4 * 4, dtype=float).reshape(1, 2, 4, 4)
    cols = im2col(x, 3)  # (1*2*2, 3*3*2), ordered (kh, kw, c)
    assert cols.shape == (4, 18)
    window = x[0, :, 1:4, 0:3]  # output position (1, 0)
    np.testing.assert_array_equal(cols[2], window.transpose(1, 2, 0).ravel())


def test_float32_stays_float32_and_is_accurate() -> None:
    x, w, b, kw = make(CONFIGS[3])
    y32 = conv2d_forward_im2col(
        x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), **kw
    )
    assert y32.dtype == np.float32
    np.testing.assert_allclose(
        y32, conv2d_forward_naive(x, w, b, **kw), rtol=1e-4, atol=1e-4
    )
    dx, dw, db = conv2d_backward_im2col(
        np.ones_like(y32), x.astype(np.float32), w.astype(np.float32), **kw
    )
    assert dx.dtype == dw.dtype == db.dtype == np.float32


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kw", "argument"),
    [
        ((1, 3, 5, 5), (2, 4, 3, 3), {}, "in_channels"),  # channels mismatch
        ((1, 4, 5, 5), (2, 4, 3, 3), {"groups": 2}, "in_channels"),
        ((1, 3, 5, 5), (2, 1, 3, 3), {"groups": 2}, "groups"),
        ((3, 5, 5), (2, 3, 3, 3), {}, "x"),
        ((1, 3, 5, 5), (2, 3, 3), {}, "weight"),
        ((1, 3, 2, 5), (2, 3, 3, 3), {}, "kernel_size"),  # kernel > padded input
        ((1, 3, 5, 5), (2, 3, 3, 3), {"stride": 0}, "stride"),
        ((1, 3, 5, 5), (2, 3, 3, 3), {"padding": -1}, "padding"),
        ((1, 3, 5, 5), (2, 3, 3, 3), {"dilation": 0}, "dilation"),
    ],
)
def test_bad_input_raises_value_error(x_shape, w_shape, kw, argument: str) -> None:  # type: ignore[no-untyped-def]
    x, w = np.zeros(x_shape), np.zeros(w_shape)
    for fn in (conv2d_forward_naive, conv2d_forward_im2col):
        with pytest.raises(ValueError, match=argument):
            fn(x, w, **kw)


def test_bad_bias_and_dout_shapes_raise() -> None:
    x, w = np.zeros((1, 3, 5, 5)), np.zeros((2, 3, 3, 3))
    with pytest.raises(ValueError, match="bias"):
        conv2d_forward_im2col(x, w, np.zeros(3))
    with pytest.raises(ValueError, match="dout"):
        conv2d_backward_im2col(np.zeros((1, 2, 5, 5)), x, w)
    with pytest.raises(ValueError, match="dout"):
        conv2d_backward_naive(np.zeros((1, 2, 5, 5)), x, w)


@pytest.mark.parametrize(
    ("s", "p", "a", "d"),
    [(1, 0, 0, 1), (2, 1, 1, 1), (3, 1, 2, 1), (2, 0, 0, 2), (1, 1, 1, 2)],
)
def test_conv_transpose2d_matches_torch(s: int, p: int, a: int, d: int) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(2)
    ref = F.conv_transpose2d(
        torch.tensor(x), torch.tensor(w), torch.tensor(b), s, p, a, 1, d
    )
    got = conv_transpose2d_forward_im2col(x, w, b, s, p, a, d)
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-12)


def test_transposed_convolution_is_the_gradient_of_convolution() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 3, 7, 7))
    w = rng.standard_normal((2, 3, 3, 3))
    dout = rng.standard_normal((1, 2, 4, 4))  # conv output size with s=2, p=1
    dx, _, _ = conv2d_backward_im2col(dout, x, w, stride=2, padding=1)
    up = conv_transpose2d_forward_im2col(dout, w, stride=2, padding=1, output_padding=0)
    np.testing.assert_allclose(up, dx, atol=1e-12)


def test_parameter_sharing_counts_cs231n() -> None:
    # AlexNet conv1 in cs231n: 55x55x96 neurons, 11x11x3 weights + 1 bias each
    assert conv_param_count(3, 96, 11, 55, shared=False) == 55 * 55 * 96 * 364
    assert conv_param_count(3, 96, 11, 55, shared=False) == 105_705_600
    assert conv_param_count(3, 96, 11) == 96 * 364 == 34_944
    layer = torch.nn.Conv2d(3, 96, 11, stride=4)
    assert conv_param_count(3, 96, 11) == sum(p.numel() for p in layer.parameters())
    no_bias = torch.nn.Conv2d(64, 128, (3, 5), bias=False)
    assert conv_param_count(64, 128, (3, 5), bias=False) == no_bias.weight.numel()
    with pytest.raises(ValueError, match="out_size"):
        conv_param_count(3, 96, 11, shared=False)


def test_cs231n_demo() -> None:
    demo = cs231n_demo()
    assert demo.x.shape == (3, 5, 5) and demo.x_padded.shape == (3, 7, 7)
    assert demo.weight.shape == (2, 3, 3, 3) and demo.out.shape == (2, 3, 3)
    assert set(np.unique(demo.x)) <= {0.0, 1.0, 2.0}
    assert set(np.unique(demo.weight)) <= {-1.0, 0.0, 1.0}
    ref = F.conv2d(
        torch.tensor(demo.x[None]), torch.tensor(demo.weight), torch.tensor(demo.bias),
        stride=2, padding=1,
    )  # fmt: skip
    np.testing.assert_array_equal(demo.out, ref[0].numpy())
    # explain_output re-derives one value by hand: per-channel dot products + bias
    text = explain_output(demo, 1, 2, 1)
    assert text.split("=")[-1].split()[0] == str(int(demo.out[1, 2, 1]))
    assert np.array_equal(cs231n_demo().out, demo.out)  # fixed seed: deterministic


def test_col2im_matmul_equals_col2im_of_the_product() -> None:
    rng = np.random.default_rng(8)
    x_shape = (2, 3, 7, 6)
    w = rng.standard_normal((4, 3, 3, 2))
    args = ((2, 1), (1, 0), (1, 2))
    cols = im2col(np.zeros(x_shape), (3, 2), *args)
    dout_mat = rng.standard_normal((cols.shape[0], 4))
    w_mat = w.transpose(2, 3, 1, 0).reshape(-1, 4)  # rows ordered (kh, kw, c)
    expected = col2im(dout_mat @ w_mat.T, x_shape, (3, 2), *args)
    np.testing.assert_allclose(col2im_matmul(dout_mat, w, x_shape, *args), expected)
    with pytest.raises(ValueError, match="dout_mat"):
        col2im_matmul(dout_mat[1:], w, x_shape, *args)
