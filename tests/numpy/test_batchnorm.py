"""BatchNorm1d/2d vs torch.nn.BatchNorm1d/2d: forward, backward, running stats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes.numpy.batchnorm import (
    BatchNorm1d,
    BatchNorm2d,
    batch_norm_backward,
    batch_norm_forward,
)
from dlnotes.numpy.numerical import gradient_check

CASES = [
    (BatchNorm1d, torch.nn.BatchNorm1d, (16, 5)),
    (BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 6)),
]


def make_pair(ours_cls, torch_cls, num_features: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ours = ours_cls(num_features)
    ours.weight[:] = rng.uniform(0.5, 2.0, num_features)
    ours.bias[:] = rng.normal(size=num_features)
    ref = torch_cls(num_features, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(ours.weight))
        ref.bias.copy_(torch.tensor(ours.bias))
    return ours, ref


@pytest.mark.parametrize(("ours_cls", "torch_cls", "shape"), CASES)
def test_train_forward_backward_and_running_stats_match_torch(
    ours_cls, torch_cls, shape
) -> None:
    rng = np.random.default_rng(1)
    ours, ref = make_pair(ours_cls, torch_cls, shape[1])
    for step in range(4):  # several steps: running statistics accumulate
        x = rng.normal(loc=step, scale=2.0 + step, size=shape)
        g = rng.normal(size=shape)
        xt = torch.tensor(x, requires_grad=True)
        yt = ref(xt)
        yt.backward(torch.tensor(g))
        out = ours(x)
        np.testing.assert_allclose(out, yt.detach(), atol=1e-10)
        np.testing.assert_allclose(ours.backward(g), xt.grad, atol=1e-10)
        np.testing.assert_allclose(ours.grad_weight, ref.weight.grad, atol=1e-10)
        np.testing.assert_allclose(ours.grad_bias, ref.bias.grad, atol=1e-10)
        ref.zero_grad()
        np.testing.assert_allclose(ours.running_mean, ref.running_mean, atol=1e-12)
        np.testing.assert_allclose(ours.running_var, ref.running_var, atol=1e-12)


@pytest.mark.parametrize(("ours_cls", "torch_cls", "shape"), CASES)
def test_eval_forward_backward_use_running_stats_like_torch(
    ours_cls, torch_cls, shape
) -> None:
    rng = np.random.default_rng(2)
    ours, ref = make_pair(ours_cls, torch_cls, shape[1])
    for _ in range(3):
        x = rng.normal(loc=1.0, scale=3.0, size=shape)
        ours(x)
        ref(torch.tensor(x))
    ours.eval()
    ref.eval()
    x = rng.normal(size=shape)
    g = rng.normal(size=shape)
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(ours(x), yt.detach(), atol=1e-10)
    np.testing.assert_allclose(ours.backward(g), xt.grad, atol=1e-10)
    np.testing.assert_allclose(ours.grad_weight, ref.weight.grad, atol=1e-10)
    before = ours.running_mean.copy()
    ours(x + 100.0)
    np.testing.assert_array_equal(ours.running_mean, before)  # eval does not update
    # eval output of one sample does not depend on the rest of the batch
    np.testing.assert_allclose(ours(x[:1]), ours(x)[:1], atol=1e-14)


def test_running_var_is_unbiased_and_momentum_is_point_one() -> None:
    bn = BatchNorm1d(1)
    x = np.array([[1.0], [2.0], [3.0], [6.0]])  # mean 3, biased var 3.5, unbiased 14/3
    out = bn(x)
    assert bn.running_mean[0] == pytest.approx(0.9 * 0 + 0.1 * 3.0)
    assert bn.running_var[0] == pytest.approx(0.9 * 1 + 0.1 * 14 / 3)
    # normalisation uses the biased variance and eps = 1e-5
    np.testing.assert_allclose(out[:, 0], (x[:, 0] - 3.0) / np.sqrt(3.5 + 1e-5))


def test_normalised_output_has_zero_mean_unit_variance() -> None:
    x = np.random.default_rng(3).normal(loc=5.0, scale=10.0, size=(256, 4))
    out, _ = batch_norm_forward(x, np.ones(4), np.zeros(4))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), 1.0, rtol=1e-6)


def test_backward_finite_differences_without_torch() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 3))
    gamma, beta = rng.uniform(0.5, 2, 3), rng.normal(size=3)
    g = rng.normal(size=(6, 3))  # upstream gradient: loss = sum(g * y)
    _, cache = batch_norm_forward(x, gamma, beta)
    dx, dgamma, dbeta = batch_norm_backward(g, cache)

    def loss_x(z):
        return float(np.sum(g * batch_norm_forward(z, gamma, beta)[0]))

    def loss_gamma(z):
        return float(np.sum(g * batch_norm_forward(x, z, beta)[0]))

    def loss_beta(z):
        return float(np.sum(g * batch_norm_forward(x, gamma, z)[0]))

    assert gradient_check(loss_x, x, dx) < 1e-7
    assert gradient_check(loss_gamma, gamma, dgamma) < 1e-7
    assert gradient_check(loss_beta, beta, dbeta) < 1e-7


def test_mlp_with_batchnorm_gets_parameters_and_gradients() -> None:
    from dlnotes.numpy.mlp import MLP

    net = MLP((4, 8, 3), batchnorm=True)
    x = np.random.default_rng(5).normal(size=(10, 4))
    net.forward(x)
    net.backward(np.ones((10, 3)))
    assert len(net.parameters()) == len(net.gradients()) == 6
    for p, g in zip(net.parameters(), net.gradients(), strict=True):
        assert p.shape == g.shape


def test_bad_input_names_argument() -> None:
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm2d(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm1d(3, eps=0.0)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\)"):
        BatchNorm1d(3)(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3, H, W\)"):
        BatchNorm2d(3)(np.zeros((4, 3, 5)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3)(np.zeros((1, 3)))
    with torch.no_grad(), pytest.raises(ValueError):
        torch.nn.BatchNorm1d(3)(torch.zeros(1, 3))  # same rule in torch
