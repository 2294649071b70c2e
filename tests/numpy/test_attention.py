"""Attention from scratch vs PyTorch (float64) and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlnotes.numpy.attention import (
    MultiHeadAttention,
    additive_attention,
    additive_attention_backward,
    masked_softmax,
    scaled_dot_product_attention,
    sdpa_backward,
)
from tests.support.gradcheck import central_difference


def t64(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("case", ["plain", "mask", "causal", "cross"])
def test_sdpa_matches_torch_forward_and_backward(case: str) -> None:
    rng = np.random.default_rng(0)
    L, S = (5, 7) if case in ("mask", "cross") else (6, 6)
    q = rng.normal(size=(2, 3, L, 8))
    k = rng.normal(size=(2, 3, S, 8))
    v = rng.normal(size=(2, 3, S, 4))
    mask = rng.random((L, S)) > 0.3 if case == "mask" else None
    if mask is not None:
        mask[:, 0] = True  # every query sees at least one key
    causal = case == "causal"
    out, cache = scaled_dot_product_attention(q, k, v, mask, is_causal=causal)
    tq, tk, tv = t64(q), t64(k), t64(v)
    ref = F.scaled_dot_product_attention(
        tq,
        tk,
        tv,
        attn_mask=None if mask is None else torch.tensor(mask),
        is_causal=causal,
    )
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    d_out = rng.normal(size=out.shape)
    ref.backward(torch.tensor(d_out))
    for ours, theirs in zip(sdpa_backward(d_out, cache), (tq, tk, tv), strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_sdpa_gradients_by_finite_differences() -> None:
    rng = np.random.default_rng(1)
    q, k, v = (
        rng.normal(size=(3, 4)),
        rng.normal(size=(5, 4)),
        rng.normal(size=(5, 2)),
    )
    w = rng.normal(size=(3, 2))

    def loss() -> float:
        return float(np.sum(w * scaled_dot_product_attention(q, k, v)[0]))

    _, cache = scaled_dot_product_attention(q, k, v)
    grads = sdpa_backward(w, cache)
    for arr, g in zip((q, k, v), grads, strict=True):
        np.testing.assert_allclose(g, central_difference(loss, arr), atol=1e-8)


def test_causal_mask_hides_the_future() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 4))
    out, cache = scaled_dot_product_attention(x, x, x, is_causal=True)
    assert np.allclose(np.triu(cache.weights, 1), 0.0)
    x2 = x.copy()
    x2[4:] += 10.0  # change the future
    out2, _ = scaled_dot_product_attention(x2, x2, x2, is_causal=True)
    np.testing.assert_allclose(out[:4], out2[:4], rtol=1e-14)


def test_masked_softmax_rows() -> None:
    s = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    w = masked_softmax(s, np.array([[True, False, True], [False, False, False]]))
    np.testing.assert_allclose(w[0], [1 / (1 + np.e**2), 0.0, np.e**2 / (1 + np.e**2)])
    np.testing.assert_array_equal(w[1], 0.0)  # fully masked row: zeros, not NaN
    np.testing.assert_allclose(masked_softmax(s).sum(-1), 1.0)


def _additive_torch(q, k, v, wq, wk, wv, mask):
    hidden = torch.tanh((q @ wq.T)[:, :, None, :] + (k @ wk.T)[:, None, :, :])
    scores = hidden @ wv
    scores = scores.masked_fill(~torch.tensor(mask)[:, None, :], float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def test_additive_attention_matches_autograd_and_finite_differences() -> None:
    rng = np.random.default_rng(3)
    N, L, S, Dq, Dk, Dv, H = 2, 3, 5, 4, 6, 3, 7
    arrays = {
        "query": rng.normal(size=(N, L, Dq)),
        "keys": rng.normal(size=(N, S, Dk)),
        "values": rng.normal(size=(N, S, Dv)),
        "w_q": rng.normal(size=(H, Dq)) * 0.5,
        "w_k": rng.normal(size=(H, Dk)) * 0.5,
        "w_v": rng.normal(size=H),
    }
    mask = np.ones((N, S), dtype=bool)
    mask[1, 3:] = False  # the second sequence is 3 long, then padding
    out, cache = additive_attention(*arrays.values(), mask=mask)
    assert np.allclose(cache.weights[1, :, 3:], 0.0)
    tensors = {name: t64(a) for name, a in arrays.items()}
    ref = _additive_torch(*tensors.values(), mask)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12)
    d_out = rng.normal(size=out.shape)
    ref.backward(torch.tensor(d_out))
    grads = additive_attention_backward(d_out, cache)
    for name, t in tensors.items():
        np.testing.assert_allclose(grads[name], t.grad.numpy(), rtol=1e-10, atol=1e-12)

    def loss() -> float:
        return float(np.sum(d_out * additive_attention(*arrays.values(), mask=mask)[0]))

    for name in ("w_k", "query"):
        fd = central_difference(loss, arrays[name])
        np.testing.assert_allclose(grads[name], fd, atol=1e-7)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_matches_nn_multihead_attention(causal: bool) -> None:
    torch.manual_seed(0)
    E, heads, N, L, S = 12, 3, 2, 5, 5 if causal else 7
    ref = torch.nn.MultiheadAttention(E, heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # non-zero biases so that their gradients are exercised
        ref.in_proj_bias.normal_()
        ref.out_proj.bias.normal_()
    ours = MultiHeadAttention(E, heads).load_torch(ref)
    rng = np.random.default_rng(4)
    q, k, v = (
        rng.normal(size=(N, L, E)),
        rng.normal(size=(N, S, E)),
        rng.normal(size=(N, S, E)),
    )
    out, weights = ours.forward(q, k, v, is_causal=causal)
    tq, tk, tv = t64(q), t64(k), t64(v)
    # nn.MultiheadAttention's boolean mask: True = NOT allowed
    torch_mask = torch.triu(torch.ones(L, S, dtype=torch.bool), 1) if causal else None
    ref_out, ref_w = ref(tq, tk, tv, attn_mask=torch_mask)
    np.testing.assert_allclose(out, ref_out.detach().numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(weights, ref_w.detach().numpy(), rtol=1e-11, atol=1e-13)
    d_out = rng.normal(size=out.shape)
    ref_out.backward(torch.tensor(d_out))
    grads = ours.backward(d_out)
    theirs = {
        "query": tq.grad,
        "key": tk.grad,
        "value": tv.grad,
        "in_proj_weight": ref.in_proj_weight.grad,
        "in_proj_bias": ref.in_proj_bias.grad,
        "out_proj_weight": ref.out_proj.weight.grad,
        "out_proj_bias": ref.out_proj.bias.grad,
    }
    for name, g in theirs.items():
        np.testing.assert_allclose(grads[name], g.numpy(), rtol=1e-9, atol=1e-11)


def test_bad_shapes_and_arguments_name_themselves() -> None:
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="need q"):
        scaled_dot_product_attention(np.ones((2, 3)), np.ones((2, 4)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="not both"):
        x = np.ones((2, 3))
        scaled_dot_product_attention(x, x, x, np.ones((2, 2), bool), is_causal=True)
