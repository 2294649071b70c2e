"""Inverted dropout: expectation, eval identity, backward, PyTorch semantics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes.numpy.dropout import Dropout, dropout, dropout_backward


def test_expectation_is_preserved_and_drop_rate_is_p() -> None:
    rng = np.random.default_rng(0)
    x = np.full((400, 500), 2.0)
    for p in (0.1, 0.5, 0.8):
        out, mask = dropout(x, p, training=True, rng=rng)
        assert np.mean(out == 0) == pytest.approx(p, abs=0.01)
        assert out.mean() == pytest.approx(2.0, rel=0.02)  # E[out] = x
        kept = out[out != 0]
        np.testing.assert_allclose(kept, 2.0 / (1 - p))  # scaled by 1/(1-p)
        np.testing.assert_allclose(out, x * mask)


def test_eval_mode_is_identity() -> None:
    x = np.random.default_rng(1).normal(size=(3, 4))
    out, _ = dropout(x, 0.5, training=False)
    np.testing.assert_array_equal(out, x)
    layer = Dropout(0.5, seed=0).eval()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))


def test_edge_probabilities_like_torch() -> None:
    x = np.ones((2, 3))
    np.testing.assert_array_equal(dropout(x, 0.0)[0], x)
    np.testing.assert_array_equal(dropout(x, 1.0)[0], np.zeros_like(x))
    xt = torch.ones(2, 3, dtype=torch.float64)
    assert torch.equal(torch.nn.functional.dropout(xt, 1.0, training=True), 0 * xt)


def test_backward_reuses_mask_and_matches_autograd_semantics() -> None:
    # PyTorch: kept values are x / (1 - p), gradient of kept units is 1 / (1 - p)
    torch.manual_seed(0)
    p = 0.3
    xt = torch.randn(50, 40, dtype=torch.float64, requires_grad=True)
    yt = torch.nn.functional.dropout(xt, p, training=True)
    g = torch.randn_like(yt)
    yt.backward(g)
    torch_mask = (yt != 0).double() / (1 - p)
    np.testing.assert_allclose(yt.detach(), xt.detach() * torch_mask, atol=1e-15)
    np.testing.assert_allclose(
        dropout_backward(g.numpy(), torch_mask.numpy()), xt.grad, atol=1e-15
    )
    layer = Dropout(p, seed=3)
    x = np.random.default_rng(2).normal(size=(5, 6))
    out = layer(x)
    grad = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(grad == 0, out == 0)  # same units dropped


def test_seeded_layer_is_reproducible_and_masks_change_per_call() -> None:
    x = np.ones((10, 10))
    a, b = Dropout(0.5, seed=7), Dropout(0.5, seed=7)
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    assert not np.array_equal(first, a(x))  # a fresh mask each forward


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_bad_p_raises(p: float) -> None:
    with pytest.raises(ValueError, match="probability p must be in"):
        dropout(np.ones(3), p)
    with pytest.raises(ValueError, match="probability p must be in"):
        Dropout(p)
