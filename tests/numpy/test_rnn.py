"""Vanilla RNN vs torch.nn.RNN (float64, autograd), finite differences, clipping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes.numpy.rnn import (
    clip_grad_norm,
    rnn_backward,
    rnn_cell_backward,
    rnn_cell_forward,
    rnn_forward,
)
from tests.support.gradcheck import central_difference

T, N, D, H = 6, 3, 4, 5


def torch_rnn(seed: int = 0) -> torch.nn.RNN:
    torch.manual_seed(seed)
    return torch.nn.RNN(D, H, nonlinearity="tanh", dtype=torch.float64)


def weights(module: torch.nn.RNN) -> list[np.ndarray]:
    return [
        getattr(module, f"{n}_l0").detach().numpy().copy()
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]


def test_forward_and_all_gradients_match_torch_autograd() -> None:
    rng = np.random.default_rng(0)
    module = torch_rnn()
    x, h0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H))
    g_out, g_hn = rng.normal(size=(T, N, H)), rng.normal(size=(N, H))

    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out_t, hn_t = module(xt, h0t)
    (
        (out_t * torch.tensor(g_out)).sum() + (hn_t[0] * torch.tensor(g_hn)).sum()
    ).backward()

    out, h_n, cache = rnn_forward(x, h0, *weights(module))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_n, hn_t[0].detach().numpy(), rtol=0, atol=1e-12)

    grads = rnn_backward(g_out, g_hn, cache)
    np.testing.assert_allclose(grads.x, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(grads.h0, h0t.grad[0].numpy(), atol=1e-10)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        ref = getattr(module, f"{name}_l0").grad.numpy()
        np.testing.assert_allclose(getattr(grads, name), ref, atol=1e-10)


def test_zero_initial_state_is_default_and_cell_matches_sequence() -> None:
    rng = np.random.default_rng(1)
    w_ih, w_hh, b_ih, b_hh = weights(torch_rnn(1))
    x = rng.normal(size=(T, N, D))
    out, _, _ = rnn_forward(x, None, w_ih, w_hh, b_ih, b_hh)
    h = np.zeros((N, H))
    for t in range(T):  # the readable one-step cell, unrolled by hand
        h = rnn_cell_forward(x[t], h, w_ih, w_hh, b_ih, b_hh)
        np.testing.assert_allclose(out[t], h, atol=1e-14)


def test_bptt_matches_finite_differences_without_torch() -> None:
    rng = np.random.default_rng(2)
    x, h0 = rng.normal(size=(3, 2, 3)), rng.normal(size=(2, 4))
    w_ih, w_hh = rng.normal(size=(4, 3)) * 0.5, rng.normal(size=(4, 4)) * 0.5
    b_ih, b_hh = rng.normal(size=4), rng.normal(size=4)
    g_out = rng.normal(size=(3, 2, 4))

    def loss() -> float:
        out, h_n, _ = rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
        return float((out * g_out).sum() + h_n.sum())

    _, _, cache = rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    grads = rnn_backward(g_out, np.ones((2, 4)), cache)
    for name, arr in [
        ("x", x),
        ("h0", h0),
        ("weight_ih", w_ih),
        ("weight_hh", w_hh),
        ("bias_ih", b_ih),
        ("bias_hh", b_hh),
    ]:
        np.testing.assert_allclose(
            getattr(grads, name),
            central_difference(loss, arr),
            atol=1e-7,
            err_msg=name,
        )


def test_cell_backward_matches_torch() -> None:
    rng = np.random.default_rng(3)
    w_ih, w_hh, b_ih, b_hh = weights(torch_rnn(3))
    x, h_prev, dh = (rng.normal(size=s) for s in [(N, D), (N, H), (N, H)])
    ts = [torch.tensor(a, requires_grad=True) for a in (x, h_prev, w_ih, w_hh)]
    ht = torch.tanh(
        ts[0] @ ts[2].T + torch.tensor(b_ih) + ts[1] @ ts[3].T + torch.tensor(b_hh)
    )
    ht.backward(torch.tensor(dh))
    h = rnn_cell_forward(x, h_prev, w_ih, w_hh, b_ih, b_hh)
    dx, dh_prev, dw_ih, dw_hh, _ = rnn_cell_backward(dh, h, x, h_prev, w_ih, w_hh)
    for ours, t in zip((dx, dh_prev, dw_ih, dw_hh), ts, strict=True):
        np.testing.assert_allclose(ours, t.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize(
    ("shapes", "argument"),
    [
        ({"x": (T, N)}, "x"),
        ({"weight_ih": (H, D + 1)}, "weight_ih"),
        ({"weight_hh": (H, H + 1)}, "weight_hh"),
        ({"bias_ih": (H + 1,)}, "bias_ih"),
        ({"bias_hh": (2 * H,)}, "bias_hh"),
        ({"h0": (N + 1, H)}, "h0"),
    ],
)
def test_bad_shapes_raise_value_error_naming_the_argument(shapes, argument) -> None:
    base = {
        "x": (T, N, D),
        "h0": (N, H),
        "weight_ih": (H, D),
        "weight_hh": (H, H),
        "bias_ih": (H,),
        "bias_hh": (H,),
    }
    base.update(shapes)
    arrays = {k: np.zeros(v) for k, v in base.items()}
    with pytest.raises(ValueError, match=argument):
        rnn_forward(**arrays)


def test_backward_checks_gradient_shapes() -> None:
    w_ih, w_hh, b_ih, b_hh = weights(torch_rnn())
    _, _, cache = rnn_forward(np.zeros((T, N, D)), None, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match="doutput"):
        rnn_backward(np.zeros((T, N, H + 1)), None, cache)
    with pytest.raises(ValueError, match="dh_n"):
        rnn_backward(np.zeros((T, N, H)), np.zeros((N, H + 1)), cache)


def test_clip_grad_norm_matches_torch() -> None:
    rng = np.random.default_rng(4)
    arrays = [rng.normal(size=(3, 4)) * 10, rng.normal(size=5)]
    params = [
        torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in arrays
    ]
    for p, a in zip(params, arrays, strict=True):
        p.grad = torch.tensor(a)
    for norm_type in (2.0, 1.0, float("inf")):
        ours = [a.copy() for a in arrays]
        for p, a in zip(params, arrays, strict=True):
            p.grad = torch.tensor(a)
        ref_norm = torch.nn.utils.clip_grad_norm_(params, 1.5, norm_type=norm_type)
        norm = clip_grad_norm(ours, 1.5, norm_type=norm_type)
        assert norm == pytest.approx(float(ref_norm), rel=1e-12)
        for o, p in zip(ours, params, strict=True):
            np.testing.assert_allclose(o, p.grad.numpy(), rtol=1e-12)
        joint = np.linalg.norm(np.concatenate([o.ravel() for o in ours]), norm_type)
        assert joint == pytest.approx(1.5, rel=1e-5)  # clipped onto the ball


def test_clip_grad_norm_leaves_small_gradients_and_rejects_bad_max_norm() -> None:
    g = [np.array([0.3, 0.4])]
    assert clip_grad_norm(g, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(g[0], [0.3, 0.4])
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(g, 0.0)
