"""Max/avg pooling against torch.nn.functional and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dlnotes.numpy.pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from tests.support.gradcheck import central_difference


@settings(max_examples=40, deadline=None)
@given(
    H=st.integers(3, 11),
    W=st.integers(3, 11),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p_frac=st.integers(0, 2),
    d=st.integers(1, 2),
    ceil=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_max_pool_matches_torch(
    H: int, W: int, k: int, s: int, p_frac: int, d: int, ceil: bool, seed: int
) -> None:
    p = min(p_frac, k // 2)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, H, W))
    xt = torch.tensor(x, requires_grad=True)
    try:
        y = F.max_pool2d(xt, k, s, p, d, ceil_mode=ceil)
    except RuntimeError:
        with pytest.raises(ValueError):
            max_pool2d_forward(x, k, s, p, d, ceil)
        return
    dout = rng.standard_normal(y.shape)
    y.backward(torch.tensor(dout))
    out, argmax = max_pool2d_forward(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(out, y.detach().numpy())
    dx = max_pool2d_backward(dout, x, argmax, k, s, p, d, ceil)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    H=st.integers(3, 11),
    W=st.integers(3, 11),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p_frac=st.integers(0, 2),
    ceil=st.booleans(),
    include_pad=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_avg_pool_matches_torch(
    H: int,
    W: int,
    k: int,
    s: int,
    p_frac: int,
    ceil: bool,
    include_pad: bool,
    seed: int,
) -> None:
    p = min(p_frac, k // 2)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, H, W))
    xt = torch.tensor(x, requires_grad=True)
    try:
        y = F.avg_pool2d(xt, k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
    except RuntimeError:
        with pytest.raises(ValueError):
            avg_pool2d_forward(x, k, s, p, ceil, include_pad)
        return
    dout = rng.standard_normal(y.shape)
    y.backward(torch.tensor(dout))
    out = avg_pool2d_forward(x, k, s, p, ceil, include_pad)
    np.testing.assert_allclose(out, y.detach().numpy(), atol=1e-12)
    dx = avg_pool2d_backward(dout, x, k, s, p, ceil, include_pad)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)


def test_ceil_mode_keeps_the_partial_last_window() -> None:
    x = np.arange(36, dtype=float).reshape(1, 1, 6, 6)
    out_floor, _ = max_pool2d_forward(x, 3, 2)
    out_ceil, _ = max_pool2d_forward(x, 3, 2, ceil_mode=True)
    assert out_floor.shape[-1] == 2 and out_ceil.shape[-1] == 3
    assert out_ceil[0, 0, -1, -1] == 35.0  # the partial window sees the corner
    avg = avg_pool2d_forward(x, 3, 2, ceil_mode=True)
    assert avg[0, 0, -1, -1] == pytest.approx((28 + 29 + 34 + 35) / 4)


def test_max_pool_ties_go_to_the_first_maximum_like_torch() -> None:
    x = np.ones((1, 1, 4, 4))
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).sum().backward()
    out, argmax = max_pool2d_forward(x, 2)
    dx = max_pool2d_backward(np.ones_like(out), x, argmax, 2)
    np.testing.assert_array_equal(dx, xt.grad.numpy())
    assert dx[0, 0, 0, 0] == 1.0 and dx[0, 0, 0, 1] == 0.0


def test_pool_gradients_match_finite_differences() -> None:
    """No torch; distinct values so the max is differentiable at x."""
    rng = np.random.default_rng(0)
    x = rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) / 10.0
    R = rng.standard_normal(max_pool2d_forward(x, 3, 2, 1, ceil_mode=True)[0].shape)

    def max_loss() -> float:
        return float(np.sum(max_pool2d_forward(x, 3, 2, 1, ceil_mode=True)[0] * R))

    _, argmax = max_pool2d_forward(x, 3, 2, 1, ceil_mode=True)
    dx = max_pool2d_backward(R, x, argmax, 3, 2, 1, ceil_mode=True)
    np.testing.assert_allclose(dx, central_difference(max_loss, x), atol=1e-6)

    R2 = rng.standard_normal(avg_pool2d_forward(x, 3, 2, 1, True, False).shape)

    def avg_loss() -> float:
        return float(np.sum(avg_pool2d_forward(x, 3, 2, 1, True, False) * R2))

    dx = avg_pool2d_backward(R2, x, 3, 2, 1, True, False)
    np.testing.assert_allclose(dx, central_difference(avg_loss, x), atol=1e-6)


@pytest.mark.parametrize(
    ("kw", "argument"),
    [
        ({"kernel_size": 3, "padding": 2}, "padding"),
        ({"kernel_size": 3, "stride": 0}, "stride"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"kernel_size": 6}, "kernel_size"),
    ],
)
def test_bad_arguments_raise_value_error(kw: dict, argument: str) -> None:  # type: ignore[type-arg]
    x = np.zeros((1, 1, 5, 5))
    with pytest.raises(ValueError, match=argument):
        max_pool2d_forward(x, **kw)
    with pytest.raises(ValueError, match=argument):
        avg_pool2d_forward(x, **kw)
    with pytest.raises(ValueError, match="x"):
        max_pool2d_forward(np.zeros((5, 5)), 2)
