"""NumPy GRU vs torch.nn.GRU (float64: forward and every gradient), finite diffs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes.numpy.gru import (
    GRUParams,
    gru_backward,
    gru_cell_forward,
    gru_forward,
    gru_params_from_torch,
)
from tests.support.gradcheck import central_difference

T, N, D, H = 6, 3, 4, 5


def test_forward_and_backward_match_torch_gru() -> None:
    torch.manual_seed(0)
    ref = torch.nn.GRU(D, H, dtype=torch.float64)
    p = gru_params_from_torch(ref)
    rng = np.random.default_rng(0)
    x, h0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H))
    g_out, g_h = rng.normal(size=(T, N, H)), rng.normal(size=(N, H))
    out, h_n, cache = gru_forward(x, h0, p)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out_t, hn_t = ref(xt, h0t)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n, hn_t[0].detach().numpy(), rtol=1e-12)
    (
        (out_t * torch.tensor(g_out)).sum() + (hn_t[0] * torch.tensor(g_h)).sum()
    ).backward()
    grads = gru_backward(g_out, g_h, cache)
    pairs = {
        "x": (grads.x, xt.grad),
        "h0": (grads.h0, h0t.grad[0]),
        "weight_ih": (grads.weight_ih, ref.weight_ih_l0.grad),
        "weight_hh": (grads.weight_hh, ref.weight_hh_l0.grad),
        "bias_ih": (grads.bias_ih, ref.bias_ih_l0.grad),
        "bias_hh": (grads.bias_hh, ref.bias_hh_l0.grad),
    }
    for name, (ours, theirs) in pairs.items():
        np.testing.assert_allclose(
            ours, theirs.numpy(), rtol=1e-10, atol=1e-12, err_msg=name
        )


def test_cell_is_one_step_of_the_layer() -> None:
    rng = np.random.default_rng(1)
    p = GRUParams.init(D, H, rng=rng)
    x, h0 = rng.normal(size=(1, N, D)), rng.normal(size=(N, H))
    out, _, _ = gru_forward(x, h0, p)
    np.testing.assert_allclose(gru_cell_forward(x[0], h0, *p.arrays()), out[0])


def test_gradients_by_finite_differences() -> None:
    rng = np.random.default_rng(2)
    p = GRUParams.init(3, 4, rng=rng)
    x, h0 = rng.normal(size=(4, 2, 3)), rng.normal(size=(2, 4))
    g_out = rng.normal(size=(4, 2, 4))

    def loss() -> float:
        return float(np.sum(g_out * gru_forward(x, h0, p)[0]))

    grads = gru_backward(g_out, None, gru_forward(x, h0, p)[2])
    for arr, g in [
        (x, grads.x),
        (h0, grads.h0),
        *zip(p.arrays(), grads.arrays(), strict=True),
    ]:
        np.testing.assert_allclose(g, central_difference(loss, arr), atol=1e-8)


def test_update_gate_near_one_copies_the_state_and_its_gradient() -> None:
    # z ≈ 1 (large update-gate bias): h_t ≈ h_{t-1} and dL/dh0 ≈ dL/dh_T
    rng = np.random.default_rng(3)
    p = GRUParams.init(D, H, rng=rng)
    p.bias_hh[H : 2 * H] += 30.0
    x, h0 = rng.normal(size=(20, N, D)), rng.normal(size=(N, H))
    out, h_n, cache = gru_forward(x, h0, p)
    np.testing.assert_allclose(h_n, h0, atol=1e-9)
    g = rng.normal(size=(N, H))
    grads = gru_backward(np.zeros_like(out), g, cache)
    np.testing.assert_allclose(grads.h0, g, atol=1e-9)


def test_bad_arguments_name_themselves() -> None:
    p = GRUParams.init(D, H, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="h0 must have shape"):
        gru_forward(np.zeros((2, N, D)), np.zeros((N + 1, H)), p)
    with pytest.raises(ValueError, match="weight_ih"):
        gru_forward(np.zeros((2, N, D + 1)), None, p)
    with pytest.raises(ValueError, match="unidirectional"):
        gru_params_from_torch(torch.nn.GRU(D, H, bidirectional=True))
    with pytest.raises(ValueError, match="hidden_size"):
        GRUParams.init(D, 0)
